package nats_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// TestNatsWindowBrokerRestart: the broker stops while the producer's
// window is full of pending publishes (the stream is full: readers are
// slower than the producer, so every publish of the window waits for
// room) and comes back on the same store. Each pending publish is retried
// with its message id: every item is consumed once, and the ledger
// balances.
func TestNatsWindowBrokerRestart(t *testing.T) {
	port, store := freePort(t), t.TempDir()
	s := startAt(t, port, store)
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	const n = 1500
	src := `
name: window
queues: {main: {backend: nats, url: "${url}", capacity: 200, ack_wait: 10s}}
producers:
  - {name: p, count: ` + strconv.Itoa(n) + `, item: "${i}"}
consumers:
  - {name: c, replicas: 2, do: [sleep: 1ms, print: "${worker} Ate ${item}"]}
`
	var puts atomic.Int64
	third := make(chan struct{})
	count := observe.Funcs{OnPut: func(string, any) {
		if puts.Add(1) == n/3 {
			close(third)
		}
	}}
	done := make(chan natsOutcome, 1)
	go func() {
		done <- runNatsCtx(context.Background(), t, src, url, pipeline.Options{Observers: []observe.Observer{count}})
	}()
	select {
	case <-third:
	case o := <-done:
		t.Fatalf("the run ended before a third of its items were put: %v\n%s", o.err, o.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("a third of the items were not put within 60s (%d put)", puts.Load())
	}
	s.Shutdown()
	s.WaitForShutdown()
	s = startAt(t, port, store)
	var o natsOutcome
	select {
	case o = <-done:
	case <-time.After(120 * time.Second):
		t.Fatalf("the run did not end within 120s of the broker's restart (%d put)", puts.Load())
	}
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if got := eaten(o.stdout); !slices.Equal(got, sortedNums(n)) {
		t.Errorf("eaten %d items, want %d, each once", len(got), n)
	}
	if l := o.res.Total; l.Produced != n || l.Done != n {
		t.Errorf("ledger %s", l)
	}
	t.Logf("stderr:\n%s", o.stderr)
}

// TestNatsEmitBrokerRestart: a consumer emits each item it takes from one
// NATS queue into another, asynchronously; the broker stops mid-run and
// comes back. An item is acknowledged upstream only once its emit is
// stored, so nothing is lost between the queues: every item reaches the
// last stage, and the ledger balances.
func TestNatsEmitBrokerRestart(t *testing.T) {
	port, store := freePort(t), t.TempDir()
	s := startAt(t, port, store)
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	const n = 1000
	src := `
name: emits
queues:
  raw: {backend: nats, url: "${url}", capacity: 100, ack_wait: 10s}
  cooked: {backend: nats, url: "${url}", capacity: 100, ack_wait: 10s}
producers:
  - {name: p, to: raw, count: ` + strconv.Itoa(n) + `, item: "${i}"}
consumers:
  - {name: cook, from: raw, to: cooked, replicas: 2, do: [emit: "${item}"]}
  - {name: eat, from: cooked, replicas: 2, do: [sleep: 1ms, print: "${worker} Ate ${item}"]}
`
	var puts atomic.Int64
	third := make(chan struct{})
	count := observe.Funcs{OnPut: func(q string, _ any) {
		if q == "cooked" && puts.Add(1) == n/3 {
			close(third)
		}
	}}
	done := make(chan natsOutcome, 1)
	go func() {
		done <- runNatsCtx(context.Background(), t, src, url, pipeline.Options{Observers: []observe.Observer{count}})
	}()
	select {
	case <-third:
	case o := <-done:
		t.Fatalf("the run ended before a third of the items were emitted: %v\n%s", o.err, o.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("a third of the items were not emitted within 60s (%d emitted)", puts.Load())
	}
	s.Shutdown()
	s.WaitForShutdown()
	s = startAt(t, port, store)
	var o natsOutcome
	select {
	case o = <-done:
	case <-time.After(120 * time.Second):
		t.Fatalf("the run did not end within 120s of the broker's restart (%d emitted)", puts.Load())
	}
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	got := eaten(o.stdout)
	if !slices.Equal(slices.Compact(slices.Clone(got)), sortedNums(n)) {
		t.Errorf("eaten %d items (%d distinct), want each of %d at least once", len(got), len(slices.Compact(slices.Clone(got))), n)
	}
	if err := o.res.Balanced(); err != nil {
		t.Error(err)
	}
	t.Logf("eaten %d for %d items; stderr:\n%s", len(got), n, o.stderr)
}
