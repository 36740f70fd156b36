package nats_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// These tests run against a real nats-server embedded in the test process,
// on loopback, outside synctest bubbles (the broker's time is real).

// startNats starts a JetStream server on a random loopback port and
// returns its URL; it is shut down when the test ends.
func startNats(t testing.TB) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// jsClient connects a raw JetStream client, closed when the test ends
// (before the server: cleanups run last in, first out).
func jsClient(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

type natsOutcome struct {
	res    *observe.Result
	err    error
	stdout []string
	stderr string
}

// runNats runs src (a pipeline whose queues may say `url: ${url}`) with
// opts, under a time limit.
func runNats(t *testing.T, src, url string, opts pipeline.Options) natsOutcome {
	t.Helper()
	return runNatsCtx(t.Context(), t, src, url, opts)
}

func runNatsCtx(ctx context.Context, t *testing.T, src, url string, opts pipeline.Options) natsOutcome {
	t.Helper()
	g := compile(t, strings.ReplaceAll(src, "${url}", url))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &errb
	res, err := pipeline.Run(ctx, g, opts)
	o := natsOutcome{res: res, err: err, stderr: errb.String()}
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		o.stdout = strings.Split(s, "\n")
	}
	return o
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0 // not made yet
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

const natsKitchen = `
name: kitchen-%s
queues:
  orders: {backend: nats, url: "${url}", capacity: 5}
  dishes: {backend: nats, url: "${url}", capacity: 3}
shutdown: {strategy: %s}
producers:
  - {name: waiter, replicas: 2, count: 20, item: "order ${replica}-${i}", to: orders}
consumers:
  - name: cook
    from: orders
    to: dishes
    replicas: 3
    do:
      - emit: "${upper(item)}"
  - name: eat
    from: dishes
    replicas: 2
    do:
      - print: "${worker} Ate ${item}"
`

func wantOrders() []string {
	var want []string
	for r := 1; r <= 2; r++ {
		for i := range 20 {
			want = append(want, fmt.Sprintf("ORDER %d-%d", r, i))
		}
	}
	sort.Strings(want)
	return want
}

// Every strategy that ends by itself consumes every item exactly once when
// the queues are on NATS, and the ledger balances.
func TestNatsStrategies(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	for _, strategy := range []string{"close", "sentinel", "join"} {
		t.Run(strategy, func(t *testing.T) {
			o := runNats(t, fmt.Sprintf(natsKitchen, strategy, strategy), url, pipeline.Options{})
			if o.err != nil {
				t.Fatalf("err = %v\n%s", o.err, o.stderr)
			}
			if err := o.res.Balanced(); err != nil {
				t.Fatal(err)
			}
			if got := eaten(o.stdout); !slices.Equal(got, wantOrders()) {
				t.Errorf("eaten %d items %v, want each of the 40 orders once", len(got), got)
			}
			if got := totals(o.res); got != "produced=80 done=80 failed=0 abandoned=0" {
				t.Errorf("ledger %s", got)
			}
			for _, q := range o.res.Queues {
				if q.Put != 40 || q.Taken != 40 || q.Depth != 0 {
					t.Errorf("queue %s: put %d, taken %d, depth %d; want 40, 40, 0", q.Name, q.Put, q.Taken, q.Depth)
				}
				if q.MaxDepth > q.Capacity+int(q.Markers) {
					t.Errorf("queue %s: max depth %d over capacity %d", q.Name, q.MaxDepth, q.Capacity)
				}
			}
			for _, s := range []string{"PCRUN_kitchen-" + strategy + "_orders", "PCRUN_kitchen-" + strategy + "_dishes"} {
				if n := streamMsgs(t, js, s); n != 0 {
					t.Errorf("stream %s holds %d messages after the run", s, n)
				}
			}
		})
	}
}

// A run that owns its queues starts from a clean slate: what an earlier
// run left in the stream is purged.
func TestNatsFreshStart(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: fresh
queues: {main: {backend: nats, url: "${url}"}}
producers:
  - {name: p, count: 3, item: "new ${i}"}
consumers:
  - {name: c, do: [print: "${worker} Ate ${item}"]}
`
	// An earlier run's leftovers, and its record of finished writers.
	o := runNats(t, src, url, pipeline.Options{Only: []string{"p"}})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if n := streamMsgs(t, js, "PCRUN_fresh_main"); n != 3 {
		t.Fatalf("the producers-only run left %d messages, want 3", n)
	}
	o = runNats(t, src, url, pipeline.Options{})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if got := eaten(o.stdout); !slices.Equal(got, items("new", 3)) {
		t.Errorf("eaten %v, want the 3 new items only", got)
	}
}

// A put into a full NATS queue blocks until an item is taken and finished.
func TestNatsBackpressure(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: bp
queues: {main: {backend: nats, url: "${url}", capacity: 2}}
producers:
  - {name: p, count: 3, item: "${i}"}
consumers:
  - {name: c}
`
	done := make(chan natsOutcome, 1)
	go func() { done <- runNats(t, src, url, pipeline.Options{Only: []string{"p"}, Fresh: true}) }()
	deadline := time.Now().Add(10 * time.Second)
	for streamMsgs(t, js, "PCRUN_bp_main") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the stream never filled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case o := <-done:
		t.Fatalf("the producer finished with the queue full: err %v, %s", o.err, o.stderr)
	case <-time.After(300 * time.Millisecond):
	}
	cons, err := js.Consumer(t.Context(), "PCRUN_bp_main", "pcrun")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		m.Ack()
	}
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("err = %v\n%s", o.err, o.stderr)
		}
		if q := o.res.Queues[0]; q.Put != 3 {
			t.Errorf("put %d, want 3", q.Put)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the put stayed blocked after an item was taken")
	}
	if n := streamMsgs(t, js, "PCRUN_bp_main"); n != 2 {
		t.Errorf("stream holds %d, want 2", n)
	}
}

// Maps, lists, numbers, strings and booleans keep their types across the
// broker; integral numbers come back as int.
func TestNatsTypes(t *testing.T) {
	url := startNats(t)
	const src = `
name: types
queues: {main: {backend: nats, url: "${url}"}}
producers:
  - name: p
    count: 1
    item: {n: "${i + 7}", f: 1.5, s: "x ${i}", l: [1, "a", true], m: {k: "${'v'}"}, "no": null}
consumers:
  - name: c
    do:
      - print: "${type(item)} ${type(item.n)} ${type(item.f)} ${type(item.s)} ${type(item.l)} ${type(item.l[0])} ${type(item.l[2])} ${type(item.m)} ${item.no == nil}"
      - print: "${item.n + 1} ${item.f * 2} ${item.m.k}"
`
	o := runNats(t, src, url, pipeline.Options{})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	want := []string{"map int float string array int bool map true", "8 3 v"}
	if !slices.Equal(o.stdout, want) {
		t.Errorf("stdout %q, want %q", o.stdout, want)
	}
}

const natsSplit = `
name: split-%s
queues:
  main: {backend: nats, url: "${url}", capacity: 4}
shutdown: {strategy: %s}
producers:
  - {name: p1, count: 15, item: "a ${i}"}
  - {name: p2, replicas: 2, count: 5, item: "b${replica} ${i}"}
consumers:
  - name: c
    replicas: 3
    do:
      - print: "${worker} Ate ${item}"
`

// Producers and consumers in two runs (two processes, as with --only)
// sharing one broker: every item is consumed once, each strategy ends
// both runs, and the two parts of the ledger add up.
func TestNatsSplitRuns(t *testing.T) {
	url := startNats(t)
	for _, strategy := range []string{"close", "sentinel", "join"} {
		t.Run(strategy, func(t *testing.T) {
			src := fmt.Sprintf(natsSplit, strategy, strategy)
			var wg sync.WaitGroup
			var prod, cons natsOutcome
			wg.Go(func() { prod = runNats(t, src, url, pipeline.Options{Only: []string{"p1", "p2"}, Fresh: true}) })
			wg.Go(func() { cons = runNats(t, src, url, pipeline.Options{Only: []string{"c"}}) })
			wg.Wait()
			if prod.err != nil || cons.err != nil {
				t.Fatalf("producers: %v %s\nconsumers: %v %s", prod.err, prod.stderr, cons.err, cons.stderr)
			}
			want := slices.Concat(items("a", 15), items("b1", 5), items("b2", 5))
			sort.Strings(want)
			if got := eaten(cons.stdout); !slices.Equal(got, want) {
				t.Errorf("eaten %d items, want %d:\n%v", len(got), len(want), got)
			}
			if got := prod.res.Total.Produced; got != 25 {
				t.Errorf("the producers' part: produced %d, want 25", got)
			}
			if q := cons.res.Queues[0]; q.Taken != 25 || q.Received == nil || *q.Received != (observe.Received{Taken: 25, Done: 25}) {
				t.Errorf("the consumers' part: taken %d, received %+v; want 25 taken and done", q.Taken, q.Received)
			}
			for _, o := range []natsOutcome{prod, cons} {
				if err := o.res.Balanced(); err != nil || !o.res.Shared {
					t.Errorf("shared %v, %v", o.res.Shared, err)
				}
			}
			if got := prod.res.Total; got != (observe.Ledger{Produced: 25, HandedOff: 25}) {
				t.Errorf("the producers' ledger %+v, want 25 produced and handed off", got)
			}
			if got := cons.res.Total; got != (observe.Ledger{}) {
				t.Errorf("the consumers' ledger %+v, want nothing produced", got)
			}
		})
	}
}

// fetchNoAck takes n messages as a reader that dies would: it never
// acknowledges them.
func fetchNoAck(t *testing.T, js jetstream.JetStream, stream string, n int) {
	t.Helper()
	cons, err := js.Consumer(t.Context(), stream, "pcrun")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range batch.Messages() {
		got++
	}
	if got != n {
		t.Fatalf("fetched %d messages, want %d", got, n)
	}
}

const natsPoison = `
name: poison
queues:
  main: {backend: nats, url: "${url}", max_deliver: 2, ack_wait: 400ms}
  failed: {}
producers:
  - {name: p, count: 2, item: "item ${i}", to: main}
consumers:
  - {name: c, from: main, on_error: {dead_letter: failed}, do: [print: "${worker} Ate ${item}"]}
  - {name: dl, from: failed, do: [print: "dead ${item.item}: ${item.error}"]}
`

// An item whose readers died without acknowledging it is delivered again
// (and counted); one delivered more than max_deliver times fails, goes to
// the dead-letter queue, and is removed from the stream.
func TestNatsRedeliveryAndMaxDeliver(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	o := runNats(t, natsPoison, url, pipeline.Options{Only: []string{"p"}, Fresh: true})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	fetchNoAck(t, js, "PCRUN_poison_main", 2) // both: delivery 1
	time.Sleep(600 * time.Millisecond)        // past ack_wait
	fetchNoAck(t, js, "PCRUN_poison_main", 1) // item 0: delivery 2
	time.Sleep(600 * time.Millisecond)
	o = runNats(t, natsPoison, url, pipeline.Options{Only: []string{"c", "dl"}})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	sort.Strings(o.stdout)
	want := []string{
		"c Ate item 1",
		"dead item 0: delivered 3 times and never finished (max_deliver 2): the readers it went to died or held it past ack_wait",
	}
	if !slices.Equal(o.stdout, want) {
		t.Errorf("stdout:\n%s\nwant:\n%s", strings.Join(o.stdout, "\n"), strings.Join(want, "\n"))
	}
	main := o.res.Queues[0]
	if main.Name != "main" || main.Redelivered != 2 || main.Taken != 2 ||
		*main.Received != (observe.Received{Taken: 2, Done: 1, Failed: 1, DeadLettered: 1}) {
		t.Errorf("queue %s: redelivered %d, taken %d, received %+v; want 2, 2, 1 done and 1 dead-lettered",
			main.Name, main.Redelivered, main.Taken, main.Received)
	}
	if n := streamMsgs(t, js, "PCRUN_poison_main"); n != 0 {
		t.Errorf("stream holds %d messages, want 0: the failed item must be removed", n)
	}
}

// A step longer than ack_wait keeps its item: pcrun tells the broker it
// is in progress, so the item is not delivered again. (The keeper speaks
// every ack_wait/2: a second of ack_wait leaves a loaded machine half a
// second of slack.)
func TestNatsInProgress(t *testing.T) {
	url := startNats(t)
	const src = `
name: slow
queues: {main: {backend: nats, url: "${url}", ack_wait: 1s}}
producers:
  - {name: p, count: 2, item: "${i}"}
consumers:
  - {name: c, do: [sleep: 2500ms, print: "${worker} Ate ${item}"]}
`
	o := runNats(t, src, url, pipeline.Options{})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if got := eaten(o.stdout); !slices.Equal(got, []string{"0", "1"}) {
		t.Errorf("eaten %v, want 0 and 1 once each", got)
	}
	if q := o.res.Queues[0]; q.Redelivered != 0 {
		t.Errorf("redelivered %d, want 0", q.Redelivered)
	}
}

// A shared run cancelled in the middle of an item hands it back to the
// broker instead of counting it abandoned; another run finishes it.
func TestNatsHandBackOnCancel(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: handback
queues: {main: {backend: nats, url: "${url}"}}
producers:
  - {name: p, count: 1, item: "only"}
consumers:
  - {name: c, do: [sleep: "%s", print: "${worker} Ate ${item}"]}
`
	if o := runNats(t, fmt.Sprintf(src, "0s"), url, pipeline.Options{Only: []string{"p"}, Fresh: true}); o.err != nil {
		t.Fatal(o.err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan natsOutcome, 1)
	go func() { done <- runNatsCtx(ctx, t, fmt.Sprintf(src, "1h"), url, pipeline.Options{Only: []string{"c"}}) }()
	cons, err := js.Consumer(t.Context(), "PCRUN_handback_main", "pcrun")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		info, err := cons.Info(t.Context())
		if err == nil && info.NumAckPending == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow consumer never took the item")
		}
	}
	cancel()
	o := <-done
	if q := o.res.Queues[0]; q.Abandoned != 0 || q.Ledger.Abandoned != 0 {
		t.Errorf("the cancelled run counted the item abandoned: %+v", q)
	}
	o = runNats(t, fmt.Sprintf(src, "0s"), url, pipeline.Options{Only: []string{"c"}})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if !slices.Equal(o.stdout, []string{"c Ate only"}) {
		t.Errorf("stdout %q, want the item eaten by the second run", o.stdout)
	}
	if q := o.res.Queues[0]; q.Redelivered != 1 {
		t.Errorf("redelivered %d, want 1", q.Redelivered)
	}
}

// A whole run stopped at its deadline counts what is left on the broker as
// abandoned, spills it, and leaves the stream empty: the ledger balances as
// with memory queues.
func TestNatsDeadlineAbandons(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: stuck
queues: {main: {backend: nats, url: "${url}", capacity: 5}}
shutdown: {deadline: 300ms, grace: 100ms}
producers:
  - {name: p, count: 100, item: "${i}"}
consumers:
  - {name: c, replicas: 2, do: [sleep: 1h]}
`
	var spill bytes.Buffer
	o := runNats(t, src, url, pipeline.Options{Spill: &spill})
	var fe *pipeline.FailedError
	if !errors.As(o.err, &fe) {
		t.Fatalf("err = %v, want a FailedError (items abandoned)\n%s", o.err, o.stderr)
	}
	if err := o.res.Balanced(); err != nil {
		t.Fatal(err)
	}
	l := o.res.Total
	// 5 in the stream (2 being handled), the sixth refused in the window of one publish, the seventh being put.
	if l.Produced != 7 || l.Abandoned != 7 || o.res.Spilled != 7 {
		t.Errorf("ledger %v, spilled %d; want 7 produced, all abandoned and spilled", l, o.res.Spilled)
	}
	if n := streamMsgs(t, js, "PCRUN_stuck_main"); n != 0 {
		t.Errorf("stream holds %d after the run, want 0", n)
	}
}

// An unreachable broker fails the run before it starts, saying how to get one.
func TestNatsNoBroker(t *testing.T) {
	const src = `
queues: {main: {backend: nats, url: "nats://127.0.0.1:1"}}
producers:
  - {name: p, count: 1, item: x}
consumers:
  - {name: c}
`
	o := runNats(t, src, "", pipeline.Options{})
	if o.err == nil || !strings.Contains(o.err.Error(), "pcrun broker") {
		t.Fatalf("err = %v, want one that names `pcrun broker`", o.err)
	}
}
