package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/internal/cli"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// Subprocess tests of `--spill` and `--resume`: real processes, real
// signals. Each pipeline makes its first items quick and the rest slow
// (`work`), and waits for output lines, not for time, before it signals:
// then where every item is when the signal comes is known, the short grace
// (200ms) cannot drain it, and the resumed runs finish quickly with
// `--set work=10ms`. Every item prints once, at the end of its steps.

// helperEnv, set in a subprocess's environment, makes the test binary act
// as a variant of pcrun instead of running tests (see TestMain).
const helperEnv = "PCRUN_TEST_HELPER"

// runHelper is the test binary started as a helper subprocess. "panic" runs
// pcrun with the arguments after the program name and a stdout whose writes
// panic on lines containing "boom": a bug inside a step, which no pipeline
// file can cause.
func runHelper(kind string) int {
	if kind != "panic" {
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, kind)
		return 2
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	return cli.Main(append([]string{"pcrun"}, os.Args[1:]...), sig, nil, boomWriter{os.Stdout}, os.Stderr)
}

// boomWriter panics on a write containing "boom".
type boomWriter struct{ w io.Writer }

func (b boomWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("boom")) {
		panic("the writer exploded")
	}
	return b.w.Write(p)
}

// finish waits for p to exit on its own, failing t after timeout.
func (p *proc) finish(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("pcrun still running after %v", timeout)
	}
}

// lines returns a copy of the whole lines read so far.
func (l *pipeLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// summaryJSON decodes the `--summary json` object from stderr and checks
// that every ledger in it balances and the total is the sum of the stages.
func summaryJSON(t *testing.T, stderr string) observe.Result {
	t.Helper()
	i := strings.Index("\n"+stderr, "\n{\n")
	if i < 0 {
		t.Fatalf("no JSON summary in stderr:\n%s", stderr)
	}
	var res observe.Result
	if err := json.NewDecoder(strings.NewReader(stderr[i:])).Decode(&res); err != nil {
		t.Fatalf("JSON summary: %v\n%s", err, stderr[i:])
	}
	if err := res.Balanced(); err != nil {
		t.Errorf("summary: %v", err)
	}
	if res.Total != res.Ledger() {
		t.Errorf("summary total %s is not the sum of its stages, %s", res.Total, res.Ledger())
	}
	if strings.Contains(stderr, "does not balance") {
		t.Errorf("pcrun reports an unbalanced ledger:\n%s", stderr)
	}
	return res
}

// stage returns the summary line of a stage, failing t if there is none.
func stage(t *testing.T, res observe.Result, name string) observe.StageStats {
	t.Helper()
	for _, s := range res.Stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stage %q in the summary", name)
	return observe.StageStats{}
}

// queue returns the ledger of a queue, failing t if there is none.
func queue(t *testing.T, res observe.Result, name string) observe.Ledger {
	t.Helper()
	for _, q := range res.Queues {
		if q.Name == name {
			return q.Ledger
		}
	}
	t.Fatalf("no queue %q in the summary", name)
	return observe.Ledger{}
}

// spillContent is a spill file read back.
type spillContent struct {
	producers map[string]pipeline.SpillRecord // by "stage/replica"
	items     []pipeline.SpillRecord
}

// values returns the items (strings in these tests) of the item records
// put into queue, sorted.
func (s spillContent) values(queue string) []string {
	var out []string
	for _, r := range s.items {
		if r.Queue == queue {
			out = append(out, fmt.Sprint(r.Item))
		}
	}
	slices.Sort(out)
	return out
}

// readSpill reads a spill file strictly: whole lines, each one record with
// exactly the fields of its kind, producers before items, items by id; and
// pcrun's own reader must accept it.
func readSpill(t *testing.T, path string) spillContent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("spill file: %v", err)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("%s does not end with a whole line:\n%s", path, data)
	}
	if _, err := pipeline.ReadResume(bytes.NewReader(data)); err != nil {
		t.Errorf("pcrun cannot resume from %s: %v", path, err)
	}
	s := spillContent{producers: map[string]pipeline.SpillRecord{}}
	want := map[string][]string{
		"producer": {"count", "kind", "next", "replica", "stage"},
		"item":     {"id", "item", "kind", "origin", "queue", "reason"},
	}
	var lastID uint64
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var r pipeline.SpillRecord
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s:%d: %v: %s", path, i+1, err, line)
		}
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("%s:%d: %v: %s", path, i+1, err, line)
		}
		keys := slices.Sorted(maps.Keys(fields))
		if r.Kind == "producer" && r.Next == 0 {
			keys = slices.Insert(keys, slices.Index(keys, "replica"), "next") // next 0 is left out
		}
		if !slices.Equal(keys, want[r.Kind]) {
			t.Errorf("%s:%d: fields %v, want %v: %s", path, i+1, keys, want[r.Kind], line)
		}
		switch r.Kind {
		case "producer":
			if len(s.items) > 0 {
				t.Errorf("%s:%d: a producer record after an item record", path, i+1)
			}
			s.producers[fmt.Sprintf("%s/%d", r.Stage, r.Replica)] = r
		case "item":
			if r.ID <= lastID {
				t.Errorf("%s:%d: item id %d after %d: items are written by id, each once", path, i+1, r.ID, lastID)
			}
			lastID = r.ID
			s.items = append(s.items, r)
		}
	}
	return s
}

// stdoutItems returns, sorted, the ITEM of every stdout line matching re
// (`WORKER Ate ITEM`, say).
func stdoutItems(lines []string, re *regexp.Regexp) []string {
	var out []string
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, m[2])
		}
	}
	slices.Sort(out)
	return out
}

// numbered returns "prefix 0" ... "prefix n-1", sorted as strings.
func numbered(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, prefix+" "+strconv.Itoa(i))
	}
	slices.Sort(out)
	return out
}

// resumed is what the runs resuming an interrupted one did together.
type resumed struct {
	stdout []string // every stdout line of every resumed run
	spill  string   // the spill file of the last run
}

// resumeToEnd runs `pcrun run --resume SPILL --spill NEXT` on file until a
// run abandons nothing (at most five runs), checking each run's replay row
// against the spill file it resumed from.
func resumeToEnd(t *testing.T, file, spill string, set ...string) resumed {
	t.Helper()
	var out resumed
	for round := 2; round <= 6; round++ {
		next := filepath.Join(filepath.Dir(spill), fmt.Sprintf("spill%d.jsonl", round))
		args := []string{"run", "--summary", "json", "--resume", spill, "--spill", next}
		for _, kv := range set {
			args = append(args, "--set", kv)
		}
		p := startPcrun(t, append(args, file)...)
		p.finish(t, 20*time.Second)
		checkOutputWhole(t, p)
		res := summaryJSON(t, p.stderr.text())
		from := readSpill(t, spill)
		if len(from.items) > 0 {
			if r := stage(t, res, "replay"); r.Kind != "replay" || r.Produced != int64(len(from.items)) {
				t.Errorf("resuming from %d spilled items: replay row %+v", len(from.items), r)
			}
		}
		out.stdout = append(out.stdout, p.stdout.lines()...)
		out.spill = next
		if res.Total.Abandoned == 0 {
			if p.code != exitcode.OK {
				t.Errorf("resumed run: exit %d with nothing abandoned, want 0", p.code)
			}
			last := readSpill(t, next)
			if len(last.items) != 0 {
				t.Errorf("the last run abandoned nothing, but spilled %d items", len(last.items))
			}
			for k, r := range last.producers {
				if r.Next != r.Count {
					t.Errorf("after the last run, producer %s stopped at %d of %d", k, r.Next, r.Count)
				}
			}
			return out
		}
		spill = next
	}
	t.Fatalf("still abandoning items after five resumed runs")
	return out
}

// checkSingleStage checks the spill file of an interrupted run of
// spill.yaml (maker -> main -> eater) against its summary and its stdout:
// the producer record says where it stopped, one item record per abandoned
// item (nothing else abandons items here: no emits), and every item made is
// either eaten or spilled, never both. It returns the spilled items.
func checkSingleStage(t *testing.T, res observe.Result, sp spillContent, stdout []string) []string {
	t.Helper()
	if res.Stop != "interrupt" {
		t.Errorf("summary stop %q, want interrupt", res.Stop)
	}
	maker := stage(t, res, "maker")
	if len(sp.producers) != 1 {
		t.Errorf("producer records %v, want one for maker/1", sp.producers)
	}
	pr, ok := sp.producers["maker/1"]
	if !ok || pr.Count != 12 || int64(pr.Next) != maker.Produced {
		t.Errorf("producer record %+v, want maker replica 1 of 12 stopped at %d (its produced count)", pr, maker.Produced)
	}
	if int64(len(sp.items)) != res.Total.Abandoned || res.Spilled != len(sp.items) {
		t.Errorf("%d item records, summary says %d abandoned and %d spilled", len(sp.items), res.Total.Abandoned, res.Spilled)
	}
	for _, r := range sp.items {
		if r.Queue != "main" || r.Origin != "maker" || r.Reason != "interrupt" {
			t.Errorf("item record %+v, want queue main, origin maker, reason interrupt", r)
		}
	}
	spilled := sp.values("main")
	eaten := stdoutItems(stdout, ateRE)
	if both := slices.DeleteFunc(slices.Clone(spilled), func(s string) bool { return !slices.Contains(eaten, s) }); len(both) > 0 {
		t.Errorf("items both eaten and spilled: %q", both)
	}
	made := slices.Sorted(slices.Values(append(slices.Clone(eaten), spilled...)))
	if want := numbered("fruit", pr.Next); !slices.Equal(made, want) {
		t.Errorf("eaten + spilled = %q, want each of the %d items made once: %q", made, pr.Next, want)
	}
	return spilled
}

// checkEveryItemOnce checks that the first run and the resumed runs
// together ate fruit 0 to 11 exactly once, and made none twice.
func checkEveryItemOnce(t *testing.T, first []string, rest resumed) {
	t.Helper()
	all := append(slices.Clone(first), rest.stdout...)
	if eaten, want := stdoutItems(all, ateRE), numbered("fruit", 12); !slices.Equal(eaten, want) {
		t.Errorf("over all runs, eaten %q, want each of %q once", eaten, want)
	}
	produced := stdoutItems(all, producedRE)
	if len(slices.Compact(slices.Clone(produced))) != len(produced) {
		t.Errorf("an item was produced twice: %q", produced)
	}
}

// startSpill starts spill.yaml (or a copy with another grace) and waits
// until fruit 0 and 1 are eaten, 2 and 3 are being eaten (5s each) and 4
// to 6 fill the queue: the producer waits to put fruit 7.
func startSpill(t *testing.T, file, spill string) *proc {
	t.Helper()
	p := startPcrun(t, "run", "--summary", "json", "--spill", spill, file)
	p.waitFor(t, p.stdout, "Ate", 2, isAte, 10*time.Second)
	p.waitFor(t, p.stdout, "Produced", 7, isProduced, 10*time.Second)
	return p
}

// TestSpillResumeAfterSignal: SIGINT or SIGTERM with a 200ms grace
// abandons the items being eaten (5s each), those in the queue and the one
// being put; pcrun exits 130 and the spill file holds exactly those items
// and where the producer stopped. Resuming from it eats the rest: over all
// runs every item is eaten exactly once.
func TestSpillResumeAfterSignal(t *testing.T) {
	for _, s := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			spill := filepath.Join(t.TempDir(), "spill.jsonl")
			p := startSpill(t, "testdata/spill.yaml", spill)
			p.signal(t, s)
			p.finish(t, 10*time.Second)
			if p.code != exitcode.Interrupted {
				t.Fatalf("exit %d, want %d", p.code, exitcode.Interrupted)
			}
			checkOutputWhole(t, p)
			stderr := p.stderr.text()
			res := summaryJSON(t, stderr)
			sp := readSpill(t, spill)
			spilled := checkSingleStage(t, res, sp, p.stdout.lines())
			for _, want := range []string{"fruit 2", "fruit 3", "fruit 4", "fruit 5", "fruit 6"} {
				if !slices.Contains(spilled, want) {
					t.Errorf("%s (being eaten or queued at the signal) is not in the spill file: %q", want, spilled)
				}
			}
			if n := queue(t, res, "main").Abandoned; n < 5 {
				t.Errorf("queue main: %d abandoned, want at least 5 (2 mid-steps, 3 queued)", n)
			}
			notice := fmt.Sprintf("%d abandoned item(s) written to %s; finish with: pcrun run --resume %s", len(sp.items), spill, spill)
			if !strings.Contains(stderr, notice) {
				t.Errorf("stderr lacks %q", notice)
			}
			checkEveryItemOnce(t, p.stdout.lines(), resumeToEnd(t, "testdata/spill.yaml", spill, "work=10ms"))
		})
	}
}

// TestSpillSecondSignal: with a 10s grace and 30s of work per item, a
// second SIGINT cancels at once; the summary balances, the spill file holds
// every abandoned item, and resuming from it still eats every item once.
func TestSpillSecondSignal(t *testing.T) {
	t.Parallel()
	spill := filepath.Join(t.TempDir(), "spill.jsonl")
	p := startSpill(t, "testdata/spill_stuck.yaml", spill)
	p.signal(t, os.Interrupt)
	p.waitFor(t, p.stderr, "drain notice", 1, hasSubstr("draining queues for up to 10s"), 5*time.Second)
	select {
	case <-p.done:
		t.Fatalf("pcrun exited (code %d) after one signal while its consumers were busy for 30s", p.code)
	case <-time.After(100 * time.Millisecond):
	}
	sent := p.signal(t, os.Interrupt)
	p.finish(t, 5*time.Second)
	if d := p.exited.Sub(sent); d > 3*time.Second {
		t.Errorf("pcrun took %v to exit after the second signal", d)
	}
	if p.code != exitcode.Interrupted {
		t.Fatalf("exit %d, want %d", p.code, exitcode.Interrupted)
	}
	checkOutputWhole(t, p)
	if !strings.Contains(p.stderr.text(), "interrupted again") {
		t.Errorf("stderr does not announce the second interrupt")
	}
	res := summaryJSON(t, p.stderr.text())
	spilled := checkSingleStage(t, res, readSpill(t, spill), p.stdout.lines())
	if len(spilled) < 5 {
		t.Errorf("spilled %q, want at least fruit 2 to 6", spilled)
	}
	checkEveryItemOnce(t, p.stdout.lines(), resumeToEnd(t, "testdata/spill_stuck.yaml", spill, "work=10ms"))
}

var servedRE = regexp.MustCompile(`^(\S+) Served (.+)$`)

// chainRun is an interrupted run of waiter -> orders -> cook -> dishes ->
// server, resumed to its end.
type chainRun struct {
	res    observe.Result
	spill  spillContent
	first  []string // stdout of the interrupted run
	served map[string]int
}

// interruptChain runs a chain file with vars, waiting for the given
// `Served` line and `Produced` count before SIGINT, then resumes it to the
// end. It checks what holds whatever the cook's steps: the ledger balances;
// every item abandoned from `orders` is spilled (the waiter's, left in the
// queue, being cooked or being put); the dishes spilled are those the
// `dishes` queue ledger abandoned; the rest of the abandoned items are the
// cook's emits cut off mid-put (midPut of them), which are not spilled,
// since the order that made each one is; and each dish is served as often
// as the runs together made it.
func interruptChain(t *testing.T, file, served string, produced int, midPut int64, set ...string) chainRun {
	t.Helper()
	spill := filepath.Join(t.TempDir(), "spill.jsonl")
	args := []string{"run", "--summary", "json", "--spill", spill}
	for _, kv := range set {
		args = append(args, "--set", kv)
	}
	p := startPcrun(t, append(args, file)...)
	p.waitFor(t, p.stdout, served, 1, func(s string) bool { return strings.HasSuffix(s, " Served "+served) }, 10*time.Second)
	p.waitFor(t, p.stdout, "Produced", produced, isProduced, 10*time.Second)
	p.signal(t, os.Interrupt)
	p.finish(t, 10*time.Second)
	if p.code != exitcode.Interrupted {
		t.Fatalf("exit %d, want %d", p.code, exitcode.Interrupted)
	}
	checkOutputWhole(t, p)
	c := chainRun{res: summaryJSON(t, p.stderr.text()), spill: readSpill(t, spill), first: p.stdout.lines()}
	waiter, cook := stage(t, c.res, "waiter"), stage(t, c.res, "cook")
	if pr := c.spill.producers["waiter/1"]; int64(pr.Next) != waiter.Produced || pr.Count != 10 {
		t.Errorf("producer record %+v, want waiter 1 of 10 stopped at %d", pr, waiter.Produced)
	}
	orders, dishes := c.spill.values("orders"), c.spill.values("dishes")
	if int64(len(orders)) != waiter.Abandoned {
		t.Errorf("%d orders spilled, waiter abandoned %d", len(orders), waiter.Abandoned)
	}
	if q := queue(t, c.res, "dishes"); int64(len(dishes)) != q.Abandoned {
		t.Errorf("%d dishes spilled, the dishes queue abandoned %d", len(dishes), q.Abandoned)
	}
	if got := cook.Abandoned - int64(len(dishes)); got != midPut {
		t.Errorf("%d of the cook's emits were cut off mid-put, want %d", got, midPut)
	}
	if n := int64(len(c.spill.items)); n != c.res.Total.Abandoned-midPut || c.res.Spilled != len(c.spill.items) {
		t.Errorf("%d item records, %d spilled; want abandoned %d - %d emits cut off mid-put",
			n, c.res.Spilled, c.res.Total.Abandoned, midPut)
	}
	rest := resumeToEnd(t, file, spill, "work=10ms")
	all := append(slices.Clone(c.first), rest.stdout...)
	c.served = map[string]int{}
	for _, d := range stdoutItems(all, servedRE) {
		c.served[d]++
	}
	// Dish N is served once by the first run if it printed it, once more
	// for each of dish N and order N in the spill file, and once if the
	// waiter made order N only after resuming.
	first := stdoutItems(c.first, servedRE)
	next := c.spill.producers["waiter/1"].Next
	for i := range 10 {
		dish, order := fmt.Sprintf("dish %d", i), fmt.Sprintf("order %d", i)
		want := 0
		for _, in := range [][]string{first, dishes, orders} {
			if slices.Contains(in, dish) || slices.Contains(in, order) {
				want++
			}
		}
		if i >= next {
			want++
		}
		switch {
		case want == 0:
			t.Errorf("%s is lost: never served, neither it nor its order spilled", dish)
		case c.served[dish] != want:
			t.Errorf("%s served %d times, want %d", dish, c.served[dish], want)
		}
	}
	return c
}

// TestSpillResumeChainExactlyOnce: when an emit is the cook's last step,
// resuming serves every dish exactly once, whether the interrupt finds the
// cook in the sleep before its emit or in the emit itself (blocked on a
// full queue): an emit cut off mid-put is not spilled, the order that made
// it is, and its dish is made only when that order runs again.
func TestSpillResumeChainExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		slow   string // first order the cook sleeps on
		midPut int64
	}{
		{"interrupted in the sleep before the emit", "4", 0},
		{"interrupted in the emit", "100", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Dish 0 and 1 are served; the server sleeps on dish 2, dish 3
			// fills `dishes`; the cook holds order 4, 5 and 6 fill `orders`.
			c := interruptChain(t, "testdata/spill_chain.yaml", "dish 1", 7, tc.midPut, "slow="+tc.slow)
			if got, want := c.spill.values("dishes"), []string{"dish 2", "dish 3"}; !slices.Equal(got, want) {
				t.Errorf("dishes spilled %q, want %q", got, want)
			}
			for _, want := range []string{"order 4", "order 5", "order 6"} {
				if !slices.Contains(c.spill.values("orders"), want) {
					t.Errorf("%s (being cooked or queued at the signal) is not in the spill file", want)
				}
			}
			for dish, n := range c.served {
				if n != 1 {
					t.Errorf("%s served %d times, want once", dish, n)
				}
			}
		})
	}
}

// TestSpillResumeChainAtLeastOnce: when the cook emits and then sleeps,
// an interrupt in that sleep spills the order after its dish was served;
// resuming runs the order again from its first step, so that dish is
// served twice. No dish is lost, and only dishes whose order was spilled
// repeat.
func TestSpillResumeChainAtLeastOnce(t *testing.T) {
	t.Parallel()
	// Dish 0 to 2 are served; the cook sleeps after emitting dish 2; order
	// 3 and 4 fill `orders`.
	c := interruptChain(t, "testdata/spill_chain_repeat.yaml", "dish 2", 5, 0)
	if !slices.Contains(c.spill.values("orders"), "order 2") {
		t.Errorf("order 2 (the cook sleeping after its emit) is not in the spill file")
	}
	if n := c.served["dish 2"]; n != 2 {
		t.Errorf("dish 2 served %d times, want twice: before the interrupt and when order 2 ran again", n)
	}
	for dish, n := range c.served {
		if order := "order " + strings.TrimPrefix(dish, "dish "); n > 1 && !slices.Contains(c.spill.values("orders"), order) {
			t.Errorf("%s served %d times, but %s was not spilled", dish, n, order)
		}
	}
}

// TestPanicInStepRecovered: a panic inside a step (here in the writer a
// print step writes to) fails that item only, in a real process: its stack
// goes to stderr, the other items are eaten, the ledger balances, and the
// process exits as on_error says: 1 for stop (the default), 0 for skip.
func TestPanicInStepRecovered(t *testing.T) {
	src, err := os.ReadFile("testdata/panic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		onError string
		code    int
		notice  string
	}{
		{"stop", exitcode.Failed, `pcrun: error: consumer eater: item "boom": panic: the writer exploded`},
		{"skip", exitcode.OK, `pcrun: skipped: consumer eater: item "boom": panic: the writer exploded`},
	} {
		t.Run(tc.onError, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "panic.yaml")
			withOnError := strings.Replace(string(src), "  - name: eater\n", "  - name: eater\n    on_error: "+tc.onError+"\n", 1)
			if err := os.WriteFile(file, []byte(withOnError), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "run", "--summary", "json", file)
			cmd.Env = append(os.Environ(), helperEnv+"=panic")
			p := startCommand(t, cmd)
			p.finish(t, 20*time.Second)
			if p.code != tc.code {
				t.Fatalf("exit %d, want %d", p.code, tc.code)
			}
			checkOutputWhole(t, p)
			stderr := p.stderr.text()
			for _, want := range []string{
				"pcrun: error: panic in a step of eater: the writer exploded\ngoroutine ",
				"boomWriter.Write", // the stack is the panic's
				tc.notice,
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			if strings.HasPrefix(stderr, "panic: ") || strings.Contains(stderr, "\npanic: ") {
				t.Errorf("an unrecovered panic reached the runtime")
			}
			res := summaryJSON(t, stderr)
			l := res.Total
			wantSkipped := int64(0)
			if tc.onError == "skip" {
				wantSkipped = 1
			}
			if l.Failed != 1 || l.Skipped != wantSkipped || l.Abandoned != 0 || l.Done != l.Produced-1 {
				t.Errorf("ledger %s, want 1 failed (%d skipped), the rest done", l, wantSkipped)
			}
			want := []string{"apple", "pear", "plum"}
			if l.Produced == 5 { // on_error stop may stop the producer before fig
				want = append(want, "fig")
			}
			slices.Sort(want)
			if eaten := stdoutItems(p.stdout.lines(), ateRE); !slices.Equal(eaten, want) {
				t.Errorf("eaten %q, want %q", eaten, want)
			}
			if tc.onError == "skip" && l.Produced != 5 {
				t.Errorf("produced %d, want 5: a skipped item does not stop the producer", l.Produced)
			}
		})
	}
}

// TestResumeRejectsBadSpill: a spill file that cannot be read, or does not
// fit the pipeline, is a usage error (exit 2) naming the problem; nothing
// runs, and the file given to --spill is left as it was.
func TestResumeRejectsBadSpill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"missing", "", "cannot read the spill file: open "},
		{"not JSON", "hello\n", ": line 1: invalid character"},
		{"unknown kind", `{"kind":"producer","stage":"maker","replica":1,"next":3,"count":12}` + "\n" + `{"kind":"thing"}` + "\n",
			`: line 2: unknown record kind "thing" (want item or producer)`},
		{"item without queue", `{"kind":"item","id":1,"item":"fruit 1"}` + "\n", ": line 1: an item record needs its queue"},
		{"producer without stage", `{"kind":"producer","replica":1}` + "\n", ": line 1: a producer record needs stage, replica >= 1 and next >= 0"},
		{"unknown queue", `{"kind":"item","queue":"mian","origin":"maker","id":1,"reason":"interrupt","item":"fruit 1"}` + "\n",
			`: the spill file puts items into queue "mian", which the pipeline does not have`},
		{"unknown producer", `{"kind":"producer","stage":"baker","replica":1,"next":3,"count":12}` + "\n",
			`: the spill file resumes producer "baker", which the pipeline does not have`},
		{"replica out of range", `{"kind":"producer","stage":"maker","replica":2,"next":3,"count":12}` + "\n",
			`: the spill file resumes replica 2 of producer "maker", which has 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bad, out := filepath.Join(dir, "bad.jsonl"), filepath.Join(dir, "out.jsonl")
			if tc.name != "missing" {
				if err := os.WriteFile(bad, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(out, []byte("keep\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := startPcrun(t, "run", "--resume", bad, "--spill", out, "testdata/spill.yaml")
			p.finish(t, 10*time.Second)
			if p.code != exitcode.Usage {
				t.Errorf("exit %d, want %d", p.code, exitcode.Usage)
			}
			stderr := p.stderr.text()
			if !strings.HasPrefix(stderr, "pcrun: error: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want pcrun: error: ... %q", stderr, tc.want)
			}
			if !strings.Contains(stderr, bad) {
				t.Errorf("stderr does not name %s", bad)
			}
			if s := p.stdout.text(); s != "" {
				t.Errorf("something ran: stdout %q", s)
			}
			if data, _ := os.ReadFile(out); string(data) != "keep\n" {
				t.Errorf("--spill file changed to %q", data)
			}
			if names, _ := filepath.Glob(filepath.Join(dir, ".*")); len(names) > 0 {
				t.Errorf("temporary files left behind: %q", names)
			}
		})
	}
}

// TestSpillKeyBesideFile: `shutdown.spill` names a file beside the
// pipeline file. A deadline abandons every item (exit 1, reason deadline);
// resuming from that file, and spilling to it again, finishes the job.
func TestSpillKeyBesideFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "late.yaml")
	const src = `name: late
shutdown: {deadline: 1s, grace: 100ms, spill: late.jsonl}
vars: {work: 10s}
producers: [{name: maker, count: 3, item: "fruit ${i}"}]
consumers: [{name: eater, do: [{sleep: "${work}"}, {print: "${worker} Ate ${item}"}]}]
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	spill := filepath.Join(dir, "late.jsonl")
	p := startPcrun(t, "run", "--summary", "json", file)
	p.finish(t, 10*time.Second)
	if p.code != exitcode.Failed {
		t.Fatalf("exit %d, want %d (items abandoned)", p.code, exitcode.Failed)
	}
	if !strings.Contains(p.stderr.text(), "3 item(s) abandoned") {
		t.Errorf("stderr does not say 3 items were abandoned")
	}
	res := summaryJSON(t, p.stderr.text())
	sp := readSpill(t, spill)
	if res.Stop != "deadline" || len(sp.items) != 3 || res.Total.Abandoned != 3 {
		t.Fatalf("stop %q, %d spilled, ledger %s; want the deadline to abandon and spill 3", res.Stop, len(sp.items), res.Total)
	}
	for _, r := range sp.items {
		if r.Reason != "deadline" {
			t.Errorf("item record %+v, want reason deadline", r)
		}
	}
	p = startPcrun(t, "run", "--summary", "json", "--resume", spill, "--set", "work=1ms", file)
	p.finish(t, 10*time.Second)
	if p.code != exitcode.OK {
		t.Fatalf("resumed run: exit %d, want 0", p.code)
	}
	if eaten := stdoutItems(p.stdout.lines(), ateRE); !slices.Equal(eaten, numbered("fruit", 3)) {
		t.Errorf("resumed run ate %q, want fruit 0 to 2", eaten)
	}
	sp = readSpill(t, spill)
	if len(sp.items) != 0 || sp.producers["maker/1"].Next != 3 {
		t.Errorf("after resuming, the spill file holds %d items and %+v", len(sp.items), sp.producers)
	}
}

// TestSpillUnencodableItem: an abandoned item JSON cannot hold (+Inf) is
// left out of the spill file and named on stderr (exit 1); the other
// records are still written, whole, and can be resumed from.
func TestSpillUnencodableItem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "inf.yaml")
	const src = `name: inf
shutdown: {deadline: 500ms, grace: 100ms}
producers: [{name: maker, count: 3, item: "${i == 1 ? 1.0 / 0 : i}"}]
consumers: [{name: eater, do: [{sleep: 10s}]}]
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	spill := filepath.Join(dir, "inf.jsonl")
	p := startPcrun(t, "run", "--summary", "json", "--spill", spill, file)
	p.finish(t, 10*time.Second)
	if p.code != exitcode.Failed {
		t.Errorf("exit %d, want %d", p.code, exitcode.Failed)
	}
	stderr := p.stderr.text()
	for _, want := range []string{
		"writing the spill file: 1 item(s) left out, JSON cannot hold them; the first: item 2 in queue main: json: unsupported value: +Inf",
		"2 abandoned item(s) written to " + spill,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	sp := readSpill(t, spill)
	var got []any
	for _, r := range sp.items {
		got = append(got, r.Item)
	}
	if want := []any{0.0, 2.0}; !slices.Equal(got, want) || sp.producers["maker/1"].Next != 3 {
		t.Errorf("spilled %v and %+v, want items 0 and 2 and the producer at 3", got, sp.producers)
	}
}
