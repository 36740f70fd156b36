package pipeline_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// panicky is a stdout whose Write panics on lines containing "boom": a
// panic inside a `print` step.
type panicky struct{ bytes.Buffer }

func (p *panicky) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("boom")) {
		panic("the writer exploded")
	}
	return p.Buffer.Write(b)
}

func runWith(t *testing.T, src string, opts pipeline.Options) (*observe.Result, error, string) {
	t.Helper()
	var errb bytes.Buffer
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	opts.Stderr = &errb
	res, err := pipeline.Run(t.Context(), compile(t, src), opts)
	if res != nil {
		if berr := res.Balanced(); berr != nil {
			t.Fatalf("ledger: %v", berr)
		}
	}
	return res, err, errb.String()
}

func TestPanicInStepFailsOnlyThatItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out panicky
		res, err, stderr := runWith(t, `
vars: {names: [a, boom, c, d]}
producers: [{name: p, count: 4, item: "${names[i]}"}]
consumers:
  - {name: c, on_error: skip, do: [{print: "${item}"}]}
`, pipeline.Options{Stdout: &out})
		if err != nil {
			t.Fatalf("err = %v; a skipped item does not fail the run", err)
		}
		if got := strings.Fields(out.String()); !slices.Equal(got, []string{"a", "c", "d"}) {
			t.Errorf("printed %v, want a c d", got)
		}
		if l := res.Total; l.Done != 3 || l.Failed != 1 || l.Skipped != 1 {
			t.Errorf("ledger %s", l)
		}
		for _, want := range []string{"panic in a step of c: the writer exploded", "goroutine ", `item "boom": panic: the writer exploded`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})
}

func TestRetryThenSucceed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		start := time.Now()
		res, err, stderr := runWith(t, `
producers: [{name: p, count: 2, item: "${i}"}]
consumers:
  - name: c
    on_error: {retry: {attempts: 3, backoff: 100ms, multiplier: 3, jitter: 0}}
    do:
      - print: "before ${item}"
      - fail: "${attempt < 3 ? 'flaky ' + string(attempt) : ''}"
      - print: "after ${item} on attempt ${attempt}"
`, pipeline.Options{Stdout: &out})
		if err != nil {
			t.Fatalf("err = %v\n%s", err, stderr)
		}
		want := []string{"before 0", "after 0 on attempt 3", "before 1", "after 1 on attempt 3"}
		if got := strings.Split(strings.TrimSpace(out.String()), "\n"); !slices.Equal(got, want) {
			t.Errorf("stdout %q, want %q (a retry resumes at the failed step)", got, want)
		}
		// Waits of 100ms then 300ms per item, one consumer: 800ms.
		if took := time.Since(start); took != 800*time.Millisecond {
			t.Errorf("took %s, want 800ms", took)
		}
		if l := res.Total; l.Done != 2 || l.Failed != 0 {
			t.Errorf("ledger %s", l)
		}
		if n := strings.Count(stderr, "pcrun: retry:"); n != 4 {
			t.Errorf("%d retry notices, want 4:\n%s", n, stderr)
		}
	})
}

func TestStopNamesStageItemAndError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err, stderr := runWith(t, `
queues: {main: {capacity: 100}}
producers: [{name: p, count: 5, item: "${i}"}]
consumers:
  - name: c
    on_error: {retry: 2, then: stop}
    do: [{fail: "${item == 2 ? 'two is bad' : ''}"}]
`, pipeline.Options{})
		var fe *pipeline.FailedError
		if !errors.As(err, &fe) || fe.Failed != 1 {
			t.Fatalf("err = %v, want one failed item", err)
		}
		for _, want := range []string{"consumer c: item 2: test.yaml:7:17: two is bad (after 2 attempts)"} {
			if !strings.Contains(fe.First, want) || !strings.Contains(stderr, want) {
				t.Errorf("first failure %q / stderr lack %q:\n%s", fe.First, want, stderr)
			}
		}
		if res.Stop != "failure" || res.Total.Failed != 1 || res.Total.Skipped != 0 {
			t.Errorf("stop %q, ledger %s", res.Stop, res.Total)
		}
	})
}

func TestDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		res, err, stderr := runWith(t, `
queues: {main: {}, failed: {}}
producers: [{name: p, to: main, count: 6, item: "${i}"}]
consumers:
  - name: c
    from: main
    on_error: {retry: 2, dead_letter: failed}
    do: [{fail: "${item % 3 == 0 ? 'bad ' + string(item) : ''}"}]
  - name: morgue
    from: failed
    do: [{print: "${item.item} ${item.at}: ${item.error} ${item.attempts} ${item.stage} ${item.origin}"}]
`, pipeline.Options{Stdout: &out})
		if err != nil {
			t.Fatalf("err = %v\n%s", err, stderr)
		}
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		slices.Sort(got)
		want := []string{"0 test.yaml:8:17: bad 0 2 c p", "3 test.yaml:8:17: bad 3 2 c p"}
		if !slices.Equal(got, want) {
			t.Errorf("dead letters %q, want %q", got, want)
		}
		p, c := res.Stages[0].Ledger, res.Stages[1].Ledger
		if p.Produced != 6 || p.Done != 4 || p.Failed != 2 || p.DeadLettered != 2 {
			t.Errorf("producer ledger %s", p)
		}
		if c.Produced != 2 || c.Done != 2 {
			t.Errorf("the letters' ledger %s", c)
		}
	})
}

func TestRuntimeBadValuesNameStageItemPosition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, err, _ := runWith(t, `
producers: [{name: p, count: 1, item: "${-1}"}]
consumers:
  - name: c
    do: [{sleep: "${item}"}]
`, pipeline.Options{})
		var fe *pipeline.FailedError
		want := "consumer c: item -1: test.yaml:5:18: duration -1s is negative"
		if !errors.As(err, &fe) || fe.First != want {
			t.Fatalf("err = %v, want first failure %q", err, want)
		}
	})
}

// A run stopped at its deadline spills what it abandoned; a second run
// resumes from the spill file; together they handle every item once.
func TestSpillAndResume(t *testing.T) {
	const src = `
queues: {main: {capacity: 4}}
shutdown: {deadline: 1550ms, grace: 0s}
producers: [{name: p, count: 20, delay: 100ms, item: "n${i}"}]
consumers:
  - {name: c, replicas: 2, do: [{sleep: 500ms}, {print: "${item}"}]}
`
	synctest.Test(t, func(t *testing.T) {
		var printed []string
		var spill bytes.Buffer
		var out bytes.Buffer
		res, err, _ := runWith(t, src, pipeline.Options{Stdout: &out, Spill: &spill})
		var fe *pipeline.FailedError
		if !errors.As(err, &fe) || res.Spilled == 0 || int64(res.Spilled) != res.Total.Abandoned {
			t.Fatalf("err = %v, spilled %d, ledger %s", err, res.Spilled, res.Total)
		}
		printed = append(printed, strings.Fields(out.String())...)
		for round := 0; round < 10 && spill.Len() > 0; round++ {
			resume, err := pipeline.ReadResume(&spill)
			if err != nil {
				t.Fatal(err)
			}
			out.Reset()
			var next bytes.Buffer
			res, _, _ = runWith(t, src, pipeline.Options{Stdout: &out, Spill: &next, Resume: resume})
			printed = append(printed, strings.Fields(out.String())...)
			if res.Total.Abandoned == 0 {
				break
			}
			spill = next
		}
		slices.Sort(printed)
		var want []string
		for i := range 20 {
			want = append(want, "n"+strconv.Itoa(i))
		}
		slices.Sort(want)
		if !slices.Equal(printed, want) {
			t.Errorf("printed over all runs %v, want each of n0..n19 once", printed)
		}
	})
}

func TestResumeMismatch(t *testing.T) {
	g := compile(t, "producers: [{name: p, count: 1, item: x}]\nconsumers: [{name: c}]\n")
	for _, spill := range []string{
		`{"kind":"item","queue":"nope","item":1}`,
		`{"kind":"producer","stage":"q","replica":1,"next":0}`,
		`{"kind":"producer","stage":"p","replica":2,"next":0}`,
	} {
		resume, err := pipeline.ReadResume(strings.NewReader(spill))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.Run(t.Context(), g, pipeline.Options{Resume: resume}); err == nil {
			t.Errorf("%s: Run accepted it", spill)
		}
	}
	for _, bad := range []string{`{"kind":"what"}`, `{"kind":"item"}`, `not json`} {
		if _, err := pipeline.ReadResume(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadResume accepted %s", bad)
		}
	}
}
