package pipeline_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/report"
)

// In a bubble time is virtual, so the summary's times are exact: one
// producer fills a queue of capacity 1 that one consumer empties every
// 100ms.
func TestSummaryTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := run(t, `
version: 1
name: times
shutdown: {strategy: close}
queues:
  main: {capacity: 1}
producers:
  - name: p
    count: 4
    item: "${i}"
consumers:
  - name: c
    do:
      - sleep: 100ms
`, nil)
		if o.err != nil {
			t.Fatal(o.err, o.stderr)
		}
		res := o.res
		if res.Elapsed != 400*time.Millisecond {
			t.Errorf("elapsed %v, want 400ms", res.Elapsed)
		}
		p, c := res.Stages[0], res.Stages[1]
		// The producer puts items 0 and 1 at once, then waits for room
		// until 100ms (item 2) and 200ms (item 3).
		if p.Blocked != 200*time.Millisecond || p.Busy != 0 || p.Rate != 10 {
			t.Errorf("producer: blocked %v, busy %v, rate %v; want 200ms, 0, 10/s", p.Blocked, p.Busy, p.Rate)
		}
		if c.Idle != 0 || c.Busy != 1 || c.Rate != 10 {
			t.Errorf("consumer: idle %v, busy %v, rate %v; want 0, 1, 10/s", c.Idle, c.Busy, c.Rate)
		}
		// Items 1, 2 and 3 wait 100ms each; item 0 is taken at once.
		w := res.Queues[0].Wait
		if w == nil || w.Samples != 4 || w.Mean != 75*time.Millisecond || w.Max != 100*time.Millisecond || w.P99 != 100*time.Millisecond {
			t.Fatalf("waits %+v; want 4 samples, mean 75ms, p99 and max 100ms", w)
		}
		if d := w.P50 - 100*time.Millisecond; d < -100*time.Millisecond/16 || d > 0 {
			t.Errorf("p50 %v, want 100ms within 1/16", w.P50)
		}
		var sum bytes.Buffer
		report.Text(&sum, res)
		for _, want := range []string{
			"  stage  kind      workers  taken  produced  done  filtered  failed  abandoned  rate/s  busy\n",
			"  p      producer  1        -      4         4     0         0       0          10.0    0%\n",
			"  c      consumer  1        4      -         -     -         -       -          10.0    100%\n",
			"  queue  capacity  put  taken  max depth  done  filtered  failed  abandoned  wait mean  p50",
			"  main   1         4    4      1          4     0         0       0          75.0ms     ",
		} {
			if !strings.Contains(sum.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, sum.String())
			}
		}
	})
}

// events runs src with an EventWriter and returns the parsed lines.
func events(t *testing.T, src string) (outcome, []map[string]any) {
	t.Helper()
	g := compile(t, src)
	var evb, out, errb bytes.Buffer
	ew := observe.NewEventWriter(&evb)
	res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb, Observers: []observe.Observer{ew}})
	if cerr := ew.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	var evs []map[string]any
	for line := range strings.Lines(evb.String()) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return outcome{res: res, err: err, stderr: errb.String()}, evs
}

// Every item is produced, taken and finished once, in that order; queue
// depths stay within capacity; every worker starts and stops; the run
// starts and ends.
func TestEventsAccountForEveryItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, evs := events(t, `
version: 1
name: ev
shutdown: {strategy: sentinel}
queues:
  raw: {capacity: 2}
  cooked: {capacity: 1}
producers:
  - name: p
    replicas: 2
    count: 10
    delay: 1ms
    to: raw
    item: "${i}"
consumers:
  - name: cook
    from: raw
    to: cooked
    replicas: 2
    when: item != 3
    do:
      - emit: "${item}!"
  - name: eat
    from: cooked
    on_error: {then: skip}
    do:
      - sleep: 10ms
      - fail: "${item == '7!' ? 'bad seven' : ''}"
`)
		if o.res == nil {
			t.Fatal(o.err, o.stderr)
		}
		if evs[0]["event"] != "run" || evs[0]["stage"] != "ev" || evs[len(evs)-1]["event"] != "end" {
			t.Fatalf("first %v, last %v; want run (with the pipeline's name) and end", evs[0], evs[len(evs)-1])
		}
		state := map[float64]string{} // item id: last event
		workers := map[string]int{}
		depth := map[string]float64{}
		capacity := map[string]float64{"raw": 2, "cooked": 1}
		last := 0.0
		counts := map[string]int{}
		for _, e := range evs {
			kind := e["event"].(string)
			counts[kind]++
			if tm := e["t"].(float64); tm < last {
				t.Errorf("%v: time goes back from %v", e, last)
			} else {
				last = tm
			}
			id, _ := e["item"].(float64)
			q, _ := e["queue"].(string)
			if d, ok := e["depth"].(float64); ok {
				if d > capacity[q] || d < 0 {
					t.Errorf("%v: depth out of 0..%v", e, capacity[q])
				}
				depth[q] = d
			}
			switch kind {
			case "started":
				workers[e["worker"].(string)]++
			case "stopped":
				workers[e["worker"].(string)]--
			case "produced", "emitted":
				if state[id] != "" {
					t.Errorf("%v: item put twice (was %s)", e, state[id])
				}
				state[id] = kind
			case "taken":
				if id == 0 {
					break // an end marker
				}
				if s := state[id]; s != "produced" && s != "emitted" {
					t.Errorf("%v: taken after %q", e, s)
				}
				state[id] = kind
			case "done", "filtered", "failed":
				if state[id] != "taken" {
					t.Errorf("%v: finished after %q", e, state[id])
				}
				state[id] = kind
			}
		}
		for id, s := range state {
			if s != "done" && s != "filtered" && s != "failed" {
				t.Errorf("item %v ends %q", id, s)
			}
		}
		for w, n := range workers {
			if n != 0 {
				t.Errorf("worker %s: started - stopped = %d", w, n)
			}
		}
		l := o.res.Total
		if int64(counts["produced"]+counts["emitted"]) != l.Produced || int64(counts["done"]) != l.Done ||
			int64(counts["filtered"]) != l.Filtered || int64(counts["failed"]) != l.Failed {
			t.Errorf("event counts %v; ledger %v", counts, l)
		}
		if counts["produced"] != 20 || counts["emitted"] != 18 || counts["filtered"] != 2 || counts["failed"] != 2 || counts["sentinel"] != 3 ||
			len(workers) != 5 || counts["blocked"] == 0 || counts["idle"] == 0 {
			t.Errorf("counts %v, workers %v: want 20 produced, 18 emitted, 1 failed, 3 sentinels, 5 workers, "+
				"some blocked and idle waits", counts, workers)
		}
	})
}

// A deadlock is an event naming the waits.
func TestEventsDeadlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, evs := events(t, `
version: 1
name: stuck
shutdown: {strategy: none}
queues:
  main: {capacity: 1}
producers:
  - name: p
    count: 3
    item: "${i}"
consumers:
  - name: c
    do:
      - sleep: 10ms
`)
		if o.res == nil || o.res.Stop != "deadlock" {
			t.Fatalf("stop %v, err %v; want a deadlock", o.res, o.err)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, e["event"].(string))
		}
		got := strings.Join(kinds, " ")
		if !strings.HasSuffix(got, " deadlock idle stopped end") {
			t.Errorf("events %q\nwant them to end with the deadlock, c's wait and stop, and the end", got)
		}
		for _, e := range evs {
			if e["event"] == "deadlock" && !strings.Contains(e["msg"].(string), `c wait to take from queue "main"`) {
				t.Errorf("deadlock event %v does not say who waits", e)
			}
		}
	})
}

// JSON lines are valid for any name, with fields in a fixed order.
func TestEventJSON(t *testing.T) {
	e := observe.Event{T: 1500 * time.Microsecond, Kind: observe.EventTaken, Stage: "a\"b\\c\n<>&\x01é\u2028",
		Worker: "w-1", Queue: "q", Item: 7, Depth: 0}
	b := e.AppendJSON(nil)
	want := `{"t":0.001500,"event":"taken","stage":"a\"b\\c\n\u003c\u003e\u0026\u0001é\u2028","worker":"w-1","queue":"q","item":7,"depth":0}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["stage"] != e.Stage {
		t.Errorf("unmarshal: %v, stage %q", err, m["stage"])
	}
	bad := observe.Event{Kind: observe.EventFailed, Msg: "x\xffy", Depth: -1}
	if err := json.Unmarshal(bad.AppendJSON(nil), &m); err != nil || m["msg"] != "x\ufffdy" {
		t.Errorf("invalid UTF-8: %v, %q", err, m["msg"])
	}
	for k := observe.EventRun; k <= observe.EventEnd; k++ {
		if strings.HasPrefix(k.String(), "event") {
			t.Errorf("event kind %d has no name", k)
		}
	}
}

// An EventWriter keeps the first failed write and returns it from Close.
func TestEventWriterError(t *testing.T) {
	ew := observe.NewEventWriter(failWriter{})
	ew.Observe(observe.Event{Kind: observe.EventRun})
	if err := ew.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close = %v, want the write error", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

// Live gives the counters while the run goes on, and the final ones after.
func TestLiveSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := compile(t, `
version: 1
name: live
queues:
  main: {capacity: 3}
producers:
  - name: p
    count: 10
    delay: 100ms
    item: "${i}"
consumers:
  - name: c
    replicas: 2
    do:
      - sleep: 250ms
`)
		var mu sync.Mutex
		var live observe.Live
		var mid observe.Snapshot
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(550 * time.Millisecond) // items 0..4 made at 100..500ms
			mu.Lock()
			mid = live.Snapshot()
			mu.Unlock()
		}()
		res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: io.Discard, Observers: []observe.Observer{observe.Funcs{OnStart: func(l observe.Live) {
			mu.Lock()
			live = l
			mu.Unlock()
		}}}})
		<-done
		if err != nil {
			t.Fatal(err)
		}
		p := mid.Stages[0]
		if mid.Elapsed != 550*time.Millisecond || p.Total != 10 || p.Produced != 5 || len(mid.Queues) != 1 || mid.Queues[0].Capacity != 3 {
			t.Errorf("snapshot at 550ms: %+v", mid)
		}
		end := live.Snapshot()
		if end.Stages[1].Taken != 10 || end.Stages[0].Done != 10 || end.Stages[0].Produced != res.Total.Produced {
			t.Errorf("final snapshot %+v, result %v", end.Stages, res.Total)
		}
	})
}
