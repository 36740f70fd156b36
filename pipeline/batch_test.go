package pipeline_test

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/pcrun/pcrun/pipeline"
)

// Producers without delay or print make their items in batches
// (batch.go). These tests hold them to what the per-item loop promises.

// TestBatchedKeepsCapacity: a batch never puts the queue past capacity.
func TestBatchedKeepsCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err, _ := runWith(t, `
queues: {main: {capacity: 5}}
producers: [{name: p, count: 300, replicas: 2, item: "${i}"}]
consumers: [{name: c, replicas: 3, do: [sleep: 1ms]}]
`, pipeline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q := res.Queues[0]
		if q.MaxDepth != 5 || q.Put != 600 || res.Total.Done != 600 {
			t.Errorf("queue %+v, ledger %s: want max depth 5 (the capacity), 600 put and done", q.QueueStats, res.Total)
		}
	})
}

// TestBatchedDeadlock: with strategy none, a run whose producer makes its
// items in batches ends in a reported deadlock once every item is done.
func TestBatchedDeadlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err, _ := runWith(t, `
queues: {main: {capacity: 10}}
shutdown: {strategy: none}
producers: [{name: p, count: 1000, item: "${i}"}]
consumers: [{name: c, replicas: 2}]
`, pipeline.Options{})
		var dl *pipeline.DeadlockError
		if !errors.As(err, &dl) || res.Total.Done != 1000 || len(dl.Stall.Waits) != 2 {
			t.Errorf("err = %v, ledger %s; want a deadlock of c-1 and c-2 after 1000 done", err, res.Total)
		}
	})
}

// TestBatchedStopAndResume: a stop cuts batches short; the items not put
// are made again by the resumed run, and over the runs every item is
// handled once.
func TestBatchedStopAndResume(t *testing.T) {
	const src = `
queues: {main: {capacity: 3}}
shutdown: {deadline: 95ms, grace: 0s}
producers: [{name: p, count: 200, replicas: 2, item: "p${replica}.${i}"}]
consumers:
  - {name: c, replicas: 2, do: [{sleep: 1ms}, {print: "${item}"}]}
`
	synctest.Test(t, func(t *testing.T) {
		var printed []string
		var spill, out bytes.Buffer
		res, _, _ := runWith(t, src, pipeline.Options{Stdout: &out, Spill: &spill})
		if res.Stop != "deadline" || res.Stages[0].Produced >= 400 {
			t.Fatalf("stop %q, ledger %s: want the deadline to stop the producers", res.Stop, res.Total)
		}
		printed = append(printed, strings.Fields(out.String())...)
		for round := 0; spill.Len() > 0; round++ {
			if round == 20 {
				t.Fatal("20 resumed runs did not finish")
			}
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
		for r := 1; r <= 2; r++ {
			for i := range 200 {
				want = append(want, "p"+strconv.Itoa(r)+"."+strconv.Itoa(i))
			}
		}
		slices.Sort(want)
		if !slices.Equal(printed, want) {
			t.Errorf("printed %d lines over all runs, want each of the 400 items once", len(printed))
		}
	})
}

// TestBatchedItemFails: the items made before a failing one are put and
// handled; the failing one is counted failed, at its index.
func TestBatchedItemFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err, stderr := runWith(t, `
producers: [{name: p, count: 100, item: "${i == 37 ? int(string(i) + 'x') : i}"}]
consumers: [{name: c}]
`, pipeline.Options{})
		var fe *pipeline.FailedError
		if !errors.As(err, &fe) || res.Total.Done != 37 || res.Total.Failed != 1 || !strings.Contains(stderr, "item 37") {
			t.Errorf("err = %v, ledger %s, stderr %s; want items 0..36 done, item 37 failed", err, res.Total, stderr)
		}
	})
}
