package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/internal/testpipe"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// The helpers of internal/testpipe, under the names these tests use.
var (
	compile = testpipe.Compile
	eaten   = testpipe.Eaten
	items   = testpipe.Items
	totals  = testpipe.Totals
)

const twoProducers = testpipe.TwoProducers

type outcome struct {
	res    *observe.Result
	err    error
	stdout []string
	stderr string
	took   time.Duration
}

// run runs src to its end; call it inside a synctest bubble.
func run(t *testing.T, src string, signals <-chan os.Signal) outcome {
	t.Helper()
	o := testpipe.Run(t, src, signals)
	return outcome{res: o.Res, err: o.Err, stdout: o.Stdout, stderr: o.Stderr, took: o.Took}
}

// Every strategy that ends by itself consumes every item exactly once.
func TestStrategiesConsumeEverything(t *testing.T) {
	for _, strategy := range []string{"close", "sentinel", "join"} {
		for _, capacity := range []int{1, 2, 100} {
			t.Run(fmt.Sprintf("%s/capacity=%d", strategy, capacity), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					o := run(t, fmt.Sprintf(twoProducers, capacity, strategy), nil)
					if o.err != nil {
						t.Fatalf("err = %v\n%s", o.err, o.stderr)
					}
					want := append(items("Blueberry", 5), items("watermelon", 5)...)
					sort.Strings(want)
					if got := eaten(o.stdout); !slices.Equal(got, want) {
						t.Errorf("eaten %v, want each of %v once", got, want)
					}
					if got := totals(o.res); got != "produced=10 done=10 failed=0 abandoned=0" {
						t.Errorf("ledger %s", got)
					}
				})
			})
		}
	}
}

// The fruit example behaves like the tutorial: one second between items,
// and the run ends when the last item is eaten.
func TestFruitExample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := os.ReadFile("../examples/fruit.yaml")
		if err != nil {
			t.Fatal(err)
		}
		o := run(t, string(src), nil)
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.took != 3*time.Second+100*time.Millisecond {
			t.Errorf("took %v of fake time, want 3.1s", o.took)
		}
		if len(o.stdout) != 12 || len(eaten(o.stdout)) != 6 {
			t.Errorf("stdout:\n%s", strings.Join(o.stdout, "\n"))
		}
		if !slices.Contains(o.stdout, "kelly Produced watermelon 0") || !slices.Contains(o.stdout, "kelly2 Produced Blueberry 2") {
			t.Errorf("stdout:\n%s", strings.Join(o.stdout, "\n"))
		}
	})
}

// In sentinel mode, markers occupy capacity: with capacity 1 and 3 readers
// the markers go in one by one and every reader still gets exactly one.
func TestSentinelMarkersTakeCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
queues: {main: {capacity: 1}}
shutdown: {strategy: sentinel}
producers: [{name: p, count: 4, item: "x ${i}"}]
consumers: [{name: c, replicas: 3, do: [{print: "${worker} Ate ${item}"}]}]
`, nil)
		if o.err != nil {
			t.Fatal(o.err)
		}
		q := o.res.Queues[0]
		if q.Markers != 3 || q.Put != 4 || q.Taken != 4 || q.MaxDepth != 1 {
			t.Errorf("queue stats %+v", q)
		}
		if got := eaten(o.stdout); len(got) != 4 {
			t.Errorf("eaten %v", got)
		}
	})
}

// strategy none never ends by itself: pcrun detects the deadlock exactly
// when the last producer is gone and every reader waits on an empty queue.
func TestNoneDeadlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
shutdown: {strategy: none}
producers: [{name: kelly, count: 3, delay: 1s, item: "w ${i}"}]
consumers: [{name: peter, replicas: 3, do: [{print: "${worker} Ate ${item}"}]}]
`, nil)
		var dl *pipeline.DeadlockError
		if !errors.As(o.err, &dl) {
			t.Fatalf("err = %v, want a deadlock", o.err)
		}
		if o.took != 3*time.Second {
			t.Errorf("detected after %v, want 3s (when the producer finished)", o.took)
		}
		msg := dl.Error()
		for _, want := range []string{"peter-1, peter-2, peter-3 wait to take from queue \"main\"", "strategy: close"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if got := totals(o.res); got != "produced=3 done=3 failed=0 abandoned=0" {
			t.Errorf("ledger %s", got)
		}
	})
}

// A multi-stage graph under none: the deadlock names every waiting stage.
func TestNoneDeadlocksMultiStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
queues: {raw: {capacity: 2}, cooked: {capacity: 2}}
shutdown: {strategy: none}
producers: [{name: p, to: raw, count: 5, delay: 10ms, item: "${i}"}]
consumers:
  - {name: cook, from: raw, to: cooked, replicas: 2, do: [{sleep: 50ms}, {emit: "cooked ${item}"}]}
  - {name: eat, from: cooked, do: [{print: "${item}"}]}
`, nil)
		var dl *pipeline.DeadlockError
		if !errors.As(o.err, &dl) {
			t.Fatalf("err = %v, want a deadlock", o.err)
		}
		var waits []string
		for _, w := range dl.Stall.Waits {
			waits = append(waits, w.Worker+"@"+w.Queue)
		}
		if want := []string{"eat@cooked", "cook-1@raw", "cook-2@raw"}; !slices.Equal(waits, want) {
			t.Errorf("waits %v, want %v", waits, want)
		}
		if len(o.stdout) != 5 {
			t.Errorf("stdout %v", o.stdout)
		}
	})
}

// A consumer that feeds its own input, two items for each it takes, fills
// its bounded queue and then blocks on itself: reported, not hung.
func TestCycleDeadlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
queues: {q: {capacity: 1}}
producers: [{name: p, to: q, count: 2, item: "${i}"}]
consumers: [{name: loop, from: q, to: q, do: [{emit: "${item}a"}, {emit: "${item}b"}]}]
`, nil)
		var dl *pipeline.DeadlockError
		if !errors.As(o.err, &dl) {
			t.Fatalf("err = %v, want a deadlock", o.err)
		}
		if !strings.Contains(dl.Error(), "put into queue \"q\"") {
			t.Errorf("message:\n%s", dl.Error())
		}
	})
}

// Multi-stage close: queues close stage by stage; filtered items are done.
func TestCloseMultiStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := os.ReadFile("../examples/kitchen.yaml")
		if err != nil {
			t.Fatal(err)
		}
		o := run(t, string(src), nil)
		if o.err != nil {
			t.Fatal(o.err)
		}
		if len(o.stdout) != 4 {
			t.Errorf("stdout %v", o.stdout)
		}
		waiter := o.res.Stages[0]
		if waiter.Produced != 6 || waiter.Done != 4 || waiter.Filtered != 2 {
			t.Errorf("waiter %+v", waiter)
		}
	})
}

// join across two stages: the run ends only when the downstream queue has
// no unfinished item either, and consumers are stopped as daemons.
func TestJoinMultiStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
queues: {a: {capacity: 3}, b: {capacity: unbounded}}
shutdown: {strategy: join}
producers: [{name: p, to: a, count: 10, item: "${i}"}]
consumers:
  - {name: t, from: a, to: b, replicas: 2, do: [{sleep: 10ms}, {emit: "${item}"}, {emit: "${item}!"}]}
  - {name: s, from: b, replicas: 2, do: [{sleep: 1s}, {print: "${item}"}]}
`, nil)
		if o.err != nil {
			t.Fatal(o.err)
		}
		if len(o.stdout) != 20 {
			t.Errorf("printed %d lines, want 20", len(o.stdout))
		}
		if got := totals(o.res); got != "produced=30 done=30 failed=0 abandoned=0" {
			t.Errorf("ledger %s", got)
		}
	})
}

// The first signal stops producers and drains; the run ends with
// ErrInterrupted and nothing abandoned.
func TestSignalDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sig := make(chan os.Signal, 2)
		go func() {
			// Not at a multiple of 1s or 700ms: a put due at the very
			// instant of the signal may be counted as abandoned.
			time.Sleep(3600 * time.Millisecond)
			sig <- os.Interrupt
		}()
		o := run(t, fmt.Sprintf(twoProducers, 100, "close"), sig)
		if !errors.Is(o.err, pipeline.ErrInterrupted) {
			t.Fatalf("err = %v", o.err)
		}
		l := o.res.Total
		p, d, a := l.Produced, l.Done+l.Filtered, l.Abandoned
		if a != 0 || p != d || p == 0 || p == 10 {
			t.Errorf("ledger %s", totals(o.res))
		}
		if !strings.Contains(o.stderr, "draining queues") {
			t.Errorf("stderr: %s", o.stderr)
		}
	})
}

// A second signal cancels at once; items in flight and in queues are
// abandoned, and counted.
func TestSecondSignalCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sig := make(chan os.Signal, 2)
		go func() {
			time.Sleep(5050 * time.Millisecond) // between items: no tie with the producer's timer
			sig <- os.Interrupt
			time.Sleep(time.Second)
			sig <- os.Interrupt
		}()
		o := run(t, `
producers: [{name: p, count: 100, delay: 100ms, item: "${i}"}]
consumers: [{name: c, replicas: 2, do: [{sleep: 1m}]}]
`, sig)
		if !errors.Is(o.err, pipeline.ErrInterrupted) {
			t.Fatalf("err = %v", o.err)
		}
		if o.took != 6050*time.Millisecond {
			t.Errorf("took %v, want 6.05s", o.took)
		}
		p, a := o.res.Total.Produced, o.res.Total.Abandoned
		if p != 50 || a != 50 {
			t.Errorf("ledger %s", totals(o.res))
		}
	})
}

// At the deadline producers stop; what cannot drain within grace is
// abandoned and the run fails.
func TestDeadlineAndGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
shutdown: {deadline: 10500ms, grace: 3s}
producers: [{name: p, count: 1000, delay: 1s, item: "${i}"}]
consumers: [{name: c, do: [{sleep: 2s}, {print: "${item}"}]}]
`, nil)
		var fe *pipeline.FailedError
		if !errors.As(o.err, &fe) {
			t.Fatalf("err = %v", o.err)
		}
		if o.took != 13500*time.Millisecond {
			t.Errorf("took %v, want 13.5s (deadline + grace)", o.took)
		}
		l := o.res.Total
		p, d, a := l.Produced, l.Done+l.Filtered, l.Abandoned
		if p != 10 || a == 0 || d+a != p || o.res.Stop != "deadline" {
			t.Errorf("ledger %s, stop %q", totals(o.res), o.res.Stop)
		}
	})
}

// A deadline with enough grace ends cleanly.
func TestDeadlineDrainsCleanly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
shutdown: {deadline: 5500ms}
producers: [{name: p, count: 1000, delay: 1s, item: "${i}"}]
consumers: [{name: c, replicas: 2, do: [{sleep: 1s}]}]
`, nil)
		if o.err != nil {
			t.Fatal(o.err)
		}
		if got := totals(o.res); got != "produced=5 done=5 failed=0 abandoned=0" {
			t.Errorf("ledger %s", got)
		}
	})
}

// A failing step fails its item, stops the producers, and the run exits
// with a FailedError naming the stage, the item and the file position.
func TestStepFailureStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
producers: [{name: p, count: 100, delay: 1s, item: "${i}"}]
consumers:
  - name: c
    do:
      - print: "${10 % (item - 3)}"
`, nil)
		var fe *pipeline.FailedError
		if !errors.As(o.err, &fe) {
			t.Fatalf("err = %v", o.err)
		}
		if fe.Failed != 1 || !strings.Contains(fe.First, "consumer c: item 3") || !strings.Contains(fe.First, "test.yaml:6:") {
			t.Errorf("failure: %v", fe)
		}
		if p := o.res.Total.Produced; p > 5 {
			t.Errorf("producers went on after the failure: %s", totals(o.res))
		}
	})
}

// Items keep their type through queues: maps, numbers and lists.
func TestStructuredItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
vars: {fruits: [kiwi, fig]}
producers:
  - name: p
    count: 2
    item: {name: "${fruits[i]}", n: "${i * 10}", tags: [a, "${i}"], const: 7}
consumers:
  - name: c
    when: 'item.n >= 0'
    do: [{print: "${item.name} ${item.n + 1} ${item.tags} ${item.const * 2} ${item}"}]
`, nil)
		if o.err != nil {
			t.Fatal(o.err)
		}
		sort.Strings(o.stdout)
		want := []string{
			`fig 11 ["a",1] 14 {"const":7,"n":10,"name":"fig","tags":["a",1]}`,
			`kiwi 1 ["a",0] 14 {"const":7,"n":0,"name":"kiwi","tags":["a",0]}`,
		}
		if !slices.Equal(o.stdout, want) {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(o.stdout, "\n"), strings.Join(want, "\n"))
		}
	})
}

// Cancelling the caller's context cancels the run, and everything is
// still accounted for.
func TestContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := compile(t, `
producers: [{name: p, count: 10, delay: 1s, item: "${i}"}]
consumers: [{name: c, do: [{sleep: 10s}]}]
`)
		ctx, cancel := context.WithTimeout(t.Context(), 5500*time.Millisecond)
		defer cancel()
		res, err := pipeline.Run(ctx, g, pipeline.Options{})
		if err == nil {
			t.Fatal("want an error")
		}
		if berr := res.Balanced(); berr != nil {
			t.Fatal(berr)
		}
		if p, a := res.Total.Produced, res.Total.Abandoned; p != 5 || a != 5 {
			t.Errorf("ledger %s", totals(res))
		}
	})
}
