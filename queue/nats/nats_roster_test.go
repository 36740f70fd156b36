package nats_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/pipeline"
	natsq "github.com/pcrun/pcrun/queue/nats"
)

// These tests run several Run calls against one embedded broker, as
// several processes of one run would (roster.go): a stage in two
// processes, readers that register late, a --fresh run that resets the
// queues under processes already running.

// goRun starts a run in the background; its outcome arrives on the channel.
func goRun(t *testing.T, src, url string, opts pipeline.Options) <-chan natsOutcome {
	t.Helper()
	ch := make(chan natsOutcome, 1)
	go func() { ch <- runNats(t, src, url, opts) }()
	return ch
}

// waitRoster polls the queue's roster in the current generation until ok
// holds.
func waitRoster(t *testing.T, js jetstream.JetStream, pipelineName, queue, what string, ok func(*natsq.Roster) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, r, err := natsq.ReadRoster(t.Context(), js, pipelineName, queue)
		if err == nil && r != nil && ok(r) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: %s: not after 10s (roster %+v, %v)", queue, what, r, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readerProcs(n int) func(*natsq.Roster) bool {
	return func(r *natsq.Roster) bool { return len(r.Readers) == n }
}

func writerProcs(n int) func(*natsq.Roster) bool {
	return func(r *natsq.Roster) bool { return len(r.Writers) == n }
}

func wait(t *testing.T, ch <-chan natsOutcome, who string) natsOutcome {
	t.Helper()
	select {
	case o := <-ch:
		if o.err != nil {
			t.Errorf("%s: err = %v\n%s", who, o.err, o.stderr)
		}
		return o
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not end", who)
		return natsOutcome{}
	}
}

// checkOnce fails t unless the runs' "Ate" lines are want, each once.
func checkOnce(t *testing.T, want []string, outs ...natsOutcome) {
	t.Helper()
	var got []string
	for _, o := range outs {
		got = append(got, eaten(o.stdout)...)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("eaten %d items, want each of %d once:\n%v", len(got), len(want), got)
	}
}

const natsTwoReaders = `
name: readers-%s
queues:
  main: {backend: nats, url: "${url}", capacity: 4}
shutdown: {strategy: %s}
producers:
  - {name: p, count: 20, item: "item ${i}"}
consumers:
  - {name: c, replicas: 2, do: [sleep: 5ms, print: "${worker} Ate ${item}"]}
`

// One reading stage in two processes: each ends, every item is eaten once,
// and under sentinel one end marker is put per reader replica registered
// in either process (4), not per replica the file names (2).
func TestNatsReaderStageInTwoRuns(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	for _, strategy := range []string{"close", "sentinel", "join"} {
		t.Run(strategy, func(t *testing.T) {
			src := fmt.Sprintf(natsTwoReaders, strategy, strategy)
			c1 := goRun(t, src, url, pipeline.Options{Only: []string{"c"}})
			c2 := goRun(t, src, url, pipeline.Options{Only: []string{"c"}})
			waitRoster(t, js, "readers-"+strategy, "main", "two reader processes", readerProcs(2))
			prod := wait(t, goRun(t, src, url, pipeline.Options{Only: []string{"p"}}), "producer")
			o1, o2 := wait(t, c1, "consumer 1"), wait(t, c2, "consumer 2")
			checkOnce(t, items("item", 20), o1, o2)
			if len(eaten(o1.stdout)) == 0 || len(eaten(o2.stdout)) == 0 {
				t.Errorf("one process ate nothing: %d and %d", len(eaten(o1.stdout)), len(eaten(o2.stdout)))
			}
			wantMarkers := int64(0)
			if strategy == "sentinel" {
				wantMarkers = 4
			}
			if m := prod.res.Queues[0].Markers; m != wantMarkers {
				t.Errorf("markers %d, want %d", m, wantMarkers)
			}
			if n := streamMsgs(t, js, "PCRUN_readers-"+strategy+"_main"); n != 0 {
				t.Errorf("the stream holds %d messages (end markers left over?)", n)
			}
			for _, o := range []natsOutcome{prod, o1, o2} {
				if err := o.res.Balanced(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

const natsTwoWriters = `
name: writers-%s
vars: {tag: x}
queues:
  main: {backend: nats, url: "${url}", capacity: 2}
shutdown: {strategy: %s}
producers:
  - {name: p, count: 10, item: "${tag} ${i}"}
consumers:
  - {name: c, replicas: 2, do: [print: "${worker} Ate ${item}"]}
`

// One writing stage in two processes: the queue ends only when both have
// finished, not when the first has, so every item of both is eaten.
func TestNatsWriterStageInTwoRuns(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	for _, strategy := range []string{"close", "sentinel", "join"} {
		t.Run(strategy, func(t *testing.T) {
			src := fmt.Sprintf(natsTwoWriters, strategy, strategy)
			// Capacity 2: neither can finish before the consumer starts.
			p1 := goRun(t, strings.Replace(src, "tag: x", "tag: a", 1), url, pipeline.Options{Only: []string{"p"}})
			p2 := goRun(t, strings.Replace(src, "tag: x", "tag: b", 1), url, pipeline.Options{Only: []string{"p"}})
			waitRoster(t, js, "writers-"+strategy, "main", "two writer processes", writerProcs(2))
			cons := wait(t, goRun(t, src, url, pipeline.Options{Only: []string{"c"}}), "consumer")
			o1, o2 := wait(t, p1, "producer a"), wait(t, p2, "producer b")
			checkOnce(t, slices.Concat(items("a", 10), items("b", 10)), cons)
			if strategy == "sentinel" {
				if m := o1.res.Queues[0].Markers + o2.res.Queues[0].Markers; m != 2 {
					t.Errorf("markers %d, want 2 (the consumer's replicas), put by the producer that ended last", m)
				}
			}
			if got := o1.res.Total.HandedOff + o2.res.Total.HandedOff; got != 20 {
				t.Errorf("handed off %d, want 20", got)
			}
		})
	}
}

// A reader process that registers after the queue ended has no end marker
// counted for it: it helps drain the queue as under close, hands back any
// marker it takes, and ends; the reader counted gets its marker.
func TestNatsLateReaderUnderSentinel(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: late
queues:
  main: {backend: nats, url: "${url}"}
shutdown: {strategy: sentinel}
producers:
  - {name: p, count: 6, item: "item ${i}"}
consumers:
  - {name: c, replicas: %d, do: [sleep: "%s", print: "${worker} Ate ${item}"]}
`
	early := goRun(t, fmt.Sprintf(src, 1, "150ms"), url, pipeline.Options{Only: []string{"c"}})
	waitRoster(t, js, "late", "main", "the first reader", readerProcs(1))
	prod := wait(t, goRun(t, fmt.Sprintf(src, 1, "0s"), url, pipeline.Options{Only: []string{"p"}}), "producer")
	if m := prod.res.Queues[0].Markers; m != 1 {
		t.Fatalf("markers %d, want 1: one reader was registered when the queue ended", m)
	}
	// Items and the marker are still in the stream: the early reader
	// takes one item per 150ms.
	late := goRun(t, fmt.Sprintf(src, 2, "0s"), url, pipeline.Options{Only: []string{"c"}})
	o1, o2 := wait(t, early, "early reader"), wait(t, late, "late reader")
	checkOnce(t, items("item", 6), o1, o2)
	if len(eaten(o2.stdout)) == 0 {
		t.Errorf("the late reader ate nothing (it should drain with the other)")
	}
	if n := streamMsgs(t, js, "PCRUN_late_main"); n != 0 {
		t.Errorf("the stream holds %d messages, want 0: the marker was taken by the reader it was for", n)
	}
	if r := o2.res.Queues[0]; r.Redelivered != 0 {
		t.Errorf("the late reader counts %d redeliveries; a marker handed back is no item", r.Redelivered)
	}
	_, r, err := natsq.ReadRoster(t.Context(), js, "late", "main")
	if err != nil || r == nil || len(r.Readers) != 2 {
		t.Fatalf("roster %+v, %v", r, err)
	}
	lates := 0
	for _, stages := range r.Readers {
		if stages["c"].Late {
			lates++
		}
	}
	if lates != 1 {
		t.Errorf("%d late readers in the roster, want 1: %+v", lates, r.Readers)
	}
}

// A process whose writers register after their queue ended is refused
// before it runs anything: its items would follow the end.
func TestNatsLateWriterRefused(t *testing.T) {
	url := startNats(t)
	const src = `
name: latewriter
queues: {main: {backend: nats, url: "${url}"}}
producers:
  - {name: p, count: 2, item: "${i}"}
consumers:
  - {name: c}
`
	if o := runNats(t, src, url, pipeline.Options{Only: []string{"p"}}); o.err != nil {
		t.Fatal(o.err)
	}
	o := runNats(t, src, url, pipeline.Options{Only: []string{"p"}})
	var lw *natsq.LateWriterError
	if !errors.As(o.err, &lw) || o.res != nil || lw.Queue != "main" || !strings.Contains(lw.Error(), "--fresh") {
		t.Fatalf("err = %v, result %v; want a LateWriterError and nothing run", o.err, o.res)
	}
	// With Fresh, it is the start of a new run.
	o = runNats(t, src, url, pipeline.Options{Only: []string{"p"}, Fresh: true})
	if o.err != nil {
		t.Fatal(o.err)
	}
}

// A reader started before the --fresh run that starts the producers joins
// the new generation (it had done nothing yet), and is counted in it.
func TestNatsReaderJoinsFreshRun(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	for _, strategy := range []string{"close", "sentinel"} {
		t.Run(strategy, func(t *testing.T) {
			src := fmt.Sprintf(natsTwoReaders, "fresh-"+strategy, strategy)
			c := goRun(t, src, url, pipeline.Options{Only: []string{"c"}})
			waitRoster(t, js, "readers-fresh-"+strategy, "main", "the reader", readerProcs(1))
			prod := wait(t, goRun(t, src, url, pipeline.Options{Only: []string{"p"}, Fresh: true}), "producer")
			o := wait(t, c, "consumer")
			checkOnce(t, items("item", 20), o)
			if !strings.Contains(o.stderr, "reset by a run started with --fresh; this process joined that run") {
				t.Errorf("stderr does not say the reader joined the new run:\n%s", o.stderr)
			}
			if want := map[string]int64{"close": 0, "sentinel": 2}[strategy]; prod.res.Queues[0].Markers != want {
				t.Errorf("markers %d, want %d", prod.res.Queues[0].Markers, want)
			}
		})
	}
}

// A process that already took items when another process resets the
// queues with --fresh cannot join the new run: it stops with an error.
func TestNatsResetUnderABusyRun(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: busy
queues: {main: {backend: nats, url: "${url}"}}
producers:
  - {name: p1, count: 1, item: "old"}
  - {name: p2, count: 1, item: "new"}
consumers:
  - {name: c, do: [print: "${worker} Ate ${item}"]}
`
	wait(t, goRun(t, src, url, pipeline.Options{Only: []string{"p1"}}), "p1")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c := make(chan natsOutcome, 1)
	go func() { c <- runNatsCtx(ctx, t, src, url, pipeline.Options{Only: []string{"c"}}) }()
	// c eats "old" and waits for p2, which has not started.
	waitRoster(t, js, "busy", "main", "the reader", readerProcs(1))
	cons, err := js.Consumer(t.Context(), "PCRUN_busy_main", "pcrun")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if info, err := cons.Info(t.Context()); err == nil && info.AckFloor.Stream == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reader never finished the first item")
		}
	}
	wait(t, goRun(t, src, url, pipeline.Options{Only: []string{"p2"}, Fresh: true}), "p2")
	o := <-c
	if o.err == nil || !strings.Contains(o.err.Error(), "reset by a run started with --fresh") {
		t.Fatalf("err = %v, want the reset\n%s", o.err, o.stderr)
	}
	if !slices.Equal(o.stdout, []string{"c Ate old"}) {
		t.Errorf("stdout %q, want the old item only", o.stdout)
	}
	if o.res.Stop != "failure" {
		t.Errorf("stop %q, want failure", o.res.Stop)
	}
}
