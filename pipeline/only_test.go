package pipeline_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// twoGraphs is two pipelines in one file, joined by no queue: kelly →
// fruit → peter, and waiter → orders → cook (emits) → dishes → server.
const twoGraphs = `
queues:
  fruit: {capacity: %[1]d}
  orders: {capacity: %[1]d}
  dishes: {capacity: %[1]d}
shutdown: {strategy: %[2]s}
producers:
  - {name: kelly, to: fruit, count: 5, delay: 1s, item: "watermelon ${i}"}
  - {name: waiter, to: orders, count: 4, replicas: 2, delay: 300ms, item: "order ${replica}.${i}"}
consumers:
  - {name: peter, from: fruit, replicas: 3, do: [{sleep: 1500ms}, {print: "${worker} Ate ${item}"}]}
  - {name: cook, from: orders, replicas: 2, to: dishes, do: [{sleep: 1s}, {emit: "dish of ${item}"}]}
  - {name: server, from: dishes, do: [{print: "${worker} Ate ${item}"}]}
`

func runOnly(t *testing.T, src string, only ...string) outcome {
	t.Helper()
	g := compile(t, src)
	var out, errb bytes.Buffer
	res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb, Only: only})
	o := outcome{res: res, err: err, stderr: errb.String()}
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		o.stdout = strings.Split(s, "\n")
	}
	if res != nil {
		if berr := res.Balanced(); berr != nil {
			t.Fatalf("ledger: %v", berr)
		}
	}
	return o
}

func stageNames(r *observe.Result) []string {
	var out []string
	for _, s := range r.Stages {
		out = append(out, s.Name)
	}
	return out
}

func queueNames(r *observe.Result) []string {
	var out []string
	for _, q := range r.Queues {
		out = append(out, q.Name)
	}
	return out
}

// A selection holding whole connected graphs runs them as a run of the
// whole file would, under every strategy that ends by itself, and its
// result holds only the selected stages and the queues they use.
func TestOnlyWholeGraphRuns(t *testing.T) {
	dishes := func() []string {
		var want []string
		for r := 1; r <= 2; r++ {
			for i := range 4 {
				want = append(want, fmt.Sprintf("dish of order %d.%d", r, i))
			}
		}
		sort.Strings(want)
		return want
	}
	for _, strategy := range []string{"close", "sentinel", "join"} {
		for _, capacity := range []int{1, 100} {
			t.Run(fmt.Sprintf("%s/capacity=%d", strategy, capacity), func(t *testing.T) {
				src := fmt.Sprintf(twoGraphs, capacity, strategy)
				for _, tc := range []struct {
					only           []string
					stages, queues []string
					eaten          []string
					ledger         string
				}{
					{[]string{"kelly", "peter"}, []string{"kelly", "peter"}, []string{"fruit"},
						items("watermelon", 5), "produced=5 done=5 failed=0 abandoned=0"},
					{[]string{"server", "cook", "waiter"}, []string{"waiter", "cook", "server"}, []string{"orders", "dishes"},
						dishes(), "produced=16 done=16 failed=0 abandoned=0"},
					{nil, []string{"kelly", "waiter", "peter", "cook", "server"}, []string{"fruit", "orders", "dishes"},
						append(dishes(), items("watermelon", 5)...), "produced=21 done=21 failed=0 abandoned=0"},
				} {
					synctest.Test(t, func(t *testing.T) {
						o := runOnly(t, src, tc.only...)
						if o.err != nil {
							t.Fatalf("--only %v: err = %v\n%s", tc.only, o.err, o.stderr)
						}
						if got := stageNames(o.res); !slices.Equal(got, tc.stages) {
							t.Errorf("--only %v: stages %v, want %v", tc.only, got, tc.stages)
						}
						if got := queueNames(o.res); !slices.Equal(got, tc.queues) {
							t.Errorf("--only %v: queues %v, want %v", tc.only, got, tc.queues)
						}
						want := slices.Sorted(slices.Values(tc.eaten))
						if got := eaten(o.stdout); !slices.Equal(got, want) {
							t.Errorf("--only %v: eaten %v, want %v", tc.only, got, want)
						}
						if got := totals(o.res); got != tc.ledger {
							t.Errorf("--only %v: ledger %s, want %s", tc.only, got, tc.ledger)
						}
					})
				}
			})
		}
	}
}

// A selection that cuts a memory queue is rejected, by CheckOnly and by
// Run, naming the queue and a stage on each side.
func TestOnlyCutsMemoryQueue(t *testing.T) {
	g := compile(t, fmt.Sprintf(twoGraphs, 10, "close"))
	for _, tc := range []struct {
		only []string
		want []string // one message per problem, in order
	}{
		{[]string{"kelly"}, []string{"queue fruit connects selected stage kelly to unselected stage peter"}},
		{[]string{"peter"}, []string{"queue fruit connects selected stage peter to unselected stage kelly"}},
		{[]string{"waiter", "cook"}, []string{"queue dishes connects selected stage cook to unselected stage server"}},
		{[]string{"cook"}, []string{
			"queue orders connects selected stage cook to unselected stage waiter",
			"queue dishes connects selected stage cook to unselected stage server",
		}},
	} {
		errs := pipeline.CheckOnly(g, tc.only)
		var got []string
		for _, e := range errs {
			got = append(got, e.Message)
			if !strings.Contains(e.Message, "only a queue with `backend: nats` can cross processes") || !strings.Contains(e.Hint, "backend: nats") {
				t.Errorf("--only %v: %q, hint %q: should say that only a NATS queue can cross processes", tc.only, e.Message, e.Hint)
			}
			if e.Severity != config.Error || e.Code != config.CodeSelection || e.Pos.IsValid() {
				t.Errorf("--only %v: %v: want an error with code %s and no position", tc.only, e, config.CodeSelection)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("--only %v: problems %q, want %q", tc.only, got, tc.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tc.want[i]) {
				t.Errorf("--only %v: problem %q, want %q", tc.only, got[i], tc.want[i])
			}
		}
		res, err := pipeline.Run(t.Context(), g, pipeline.Options{Only: tc.only})
		var se config.Diagnostic
		if res != nil || !errors.As(err, &se) || se.Message != got[0] {
			t.Errorf("--only %v: Run = %v, %v; want nil and %q", tc.only, res, err, got[0])
		}
	}
}

// Unknown names come back with a suggestion, or the list of stages.
func TestOnlyUnknownStage(t *testing.T) {
	g := compile(t, fmt.Sprintf(twoGraphs, 10, "close"))
	errs := pipeline.CheckOnly(g, []string{"kelly", "peter", "petr", "nobody"})
	if len(errs) != 2 {
		t.Fatalf("problems %v, want 2", errs)
	}
	if !strings.Contains(errs[0].Message, `no stage "petr"`) || errs[0].Hint != "did you mean `peter`?" {
		t.Errorf("got %q, hint %q", errs[0].Message, errs[0].Hint)
	}
	if !strings.Contains(errs[1].Message, `no stage "nobody"`) || !strings.Contains(errs[1].Hint, "`kelly`, `waiter`, `peter`, `cook`, `server`") {
		t.Errorf("got %q, hint %q", errs[1].Message, errs[1].Hint)
	}
	if !errs.HasErrors() || errs[0].Code != config.CodeSelection {
		t.Errorf("problems %v, want errors with code %s", errs, config.CodeSelection)
	}
	if errs := pipeline.CheckOnly(g, nil); errs != nil {
		t.Errorf("an empty selection is every stage, got %v", errs)
	}
}

// A dead-letter queue connects the consumer that fails items to its
// reader: cutting it is rejected too.
func TestOnlyCutsDeadLetterQueue(t *testing.T) {
	g := compile(t, `
queues: {main: {}, failed: {}}
producers: [{name: p, to: main, count: 3, item: "${i}"}]
consumers:
  - {name: c, from: main, do: [{fail: "boom"}], on_error: {dead_letter: failed}}
  - {name: d, from: failed, do: [{print: "${item.error}"}]}
`)
	errs := pipeline.CheckOnly(g, []string{"p", "c"})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "queue failed connects selected stage c to unselected stage d") {
		t.Errorf("problems %v", errs)
	}
	if errs := pipeline.CheckOnly(g, []string{"p", "c", "d"}); errs != nil {
		t.Errorf("the whole graph: %v", errs)
	}
}

// A NATS queue may connect selected to unselected stages: that is what it
// is for.
func TestOnlyNATSQueueMayCross(t *testing.T) {
	g := compile(t, `
queues:
  orders: {backend: nats, url: "nats://127.0.0.1:4222"}
  local: {}
producers: [{name: waiter, to: orders, count: 3, item: "${i}"}]
consumers:
  - {name: cook, from: orders, to: local, do: [{emit: "${item}"}]}
  - {name: server, from: local}
`)
	for _, only := range [][]string{{"waiter"}, {"cook", "server"}, {"server", "cook"}} {
		if errs := pipeline.CheckOnly(g, only); errs != nil {
			t.Errorf("--only %v: %v", only, errs)
		}
	}
	errs := pipeline.CheckOnly(g, []string{"waiter", "cook"})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "queue local connects selected stage cook to unselected stage server") {
		t.Errorf("--only waiter,cook: %v", errs)
	}
}
