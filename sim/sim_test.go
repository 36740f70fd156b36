package sim_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/sim"
	"github.com/pcrun/pcrun/stages"
)

type simOutcome struct {
	res    *observe.Result
	err    error
	stdout string
	stderr string
	events []observe.Event
}

type eventLog struct{ events []observe.Event }

func (l *eventLog) Observe(e observe.Event) { l.events = append(l.events, e) }

// simulate simulates g outside any synctest bubble. A simulation never
// sleeps; a hang is left to the test binary's -timeout, whose goroutine
// dump says where (a wall-clock guard here failed a loaded machine's
// 200,000-item run under -race).
func simulate(t *testing.T, g *stages.Graph, so sim.Options) simOutcome {
	t.Helper()
	var out, errb bytes.Buffer
	log := &eventLog{}
	res, err := sim.Simulate(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb, Observers: []observe.Observer{observe.Funcs{OnEvent: log.Observe}}}, so)
	o := simOutcome{res: res, err: err, stdout: out.String(), stderr: errb.String(), events: log.events}
	if o.res != nil {
		if err := o.res.Balanced(); err != nil {
			t.Fatalf("ledger: %v", err)
		}
	}
	return o
}

func lines(s string) []string {
	if s = strings.TrimSuffix(s, "\n"); s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// ledgers is what a run's accounting says, stage by stage and queue by
// queue, without its times.
func ledgers(r *observe.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "total: %s stop=%q\n", r.Total, r.Stop)
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "stage %s: taken %d, %s\n", s.Name, s.Taken, s.Ledger)
	}
	for _, q := range r.Queues {
		fmt.Fprintf(&b, "queue %s: put %d taken %d markers %d abandoned %d: %s\n", q.Name, q.Put, q.Taken, q.Markers, q.Abandoned, q.Ledger)
	}
	return b.String()
}

// Each example that does no real work prints the same lines and keeps the
// same ledger simulated as run for real (in a synctest bubble); the
// simulation's lines come in virtual-time order.
func TestSimulateExamples(t *testing.T) {
	for _, name := range []string{"fruit", "sentinel", "kitchen", "orders", "hang"} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile("../examples/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			g := compile(t, string(src))
			sim := simulate(t, g, sim.Options{})
			var real outcome
			synctest.Test(t, func(t *testing.T) { real = run(t, string(src), nil) })
			if (sim.err == nil) != (real.err == nil) || reflect.TypeOf(sim.err) != reflect.TypeOf(real.err) {
				t.Errorf("simulated err = %v, real err = %v", sim.err, real.err)
			}
			got, want := lines(sim.stdout), slices.Clone(real.stdout)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(stripWorkers(got), stripWorkers(want)) { // which replica takes an item depends on the scheduler
				t.Errorf("simulated lines:\n%s\nreal:\n%s", sim.stdout, strings.Join(real.stdout, "\n"))
			}
			if g, w := ledgers(sim.res), ledgers(real.res); g != w {
				t.Errorf("simulated ledger:\n%s\nreal:\n%s", g, w)
			}
			if sim.res.Elapsed != real.took && name != "orders" { // orders retries with random jitter
				t.Errorf("simulated %v, the real run took %v of fake time", sim.res.Elapsed, real.took)
			}
			checkPrintOrder(t, sim.events)
		})
	}
}

// stripWorkers drops the replica number from worker names (peter-2 ->
// peter), and sorts the lines.
func stripWorkers(ls []string) []string {
	var out []string
	for _, l := range ls {
		out = append(out, replica.ReplaceAllString(l, "$1"))
	}
	slices.Sort(out)
	return out
}

var replica = regexp.MustCompile(`\b([a-z]+)-[0-9]+\b`)

// checkPrintOrder checks that events come in virtual-time order.
func checkPrintOrder(t *testing.T, events []observe.Event) {
	t.Helper()
	for i := 1; i < len(events); i++ {
		if events[i].T < events[i-1].T {
			t.Fatalf("event %d (%v at %v) before event %d (%v at %v)", i, events[i].Kind, events[i].T, i-1, events[i-1].Kind, events[i-1].T)
		}
	}
}

// The fruit example's lines, exactly, in virtual-time order: producers
// at 1s, 2s, 3s; each item eaten 100ms later.
func TestSimulateFruitOrder(t *testing.T) {
	src, _ := os.ReadFile("../examples/fruit.yaml")
	o := simulate(t, compile(t, string(src)), sim.Options{})
	want := `kelly Produced watermelon 0
kelly2 Produced Blueberry 0
peter-1 Ate watermelon 0
peter-2 Ate Blueberry 0
kelly Produced watermelon 1
kelly2 Produced Blueberry 1
peter-3 Ate watermelon 1
peter-1 Ate Blueberry 1
kelly Produced watermelon 2
kelly2 Produced Blueberry 2
peter-2 Ate watermelon 2
peter-3 Ate Blueberry 2
`
	if o.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", o.stdout, want)
	}
	if o.res.Elapsed != 3100*time.Millisecond {
		t.Errorf("elapsed %v, want 3.1s", o.res.Elapsed)
	}
}

// ties: every worker is due at the same instants, so the order of the
// lines depends on nothing but the scheduler's tie-breaking.
const ties = `
queues: {a: {capacity: 2}, b: {capacity: 1}}
shutdown: {strategy: %s}
producers:
  - {name: p, to: a, replicas: 4, count: 25, delay: 100ms, item: "${worker}/${i}", print: "${worker} put ${item}"}
consumers:
  - name: c
    from: a
    to: b
    replicas: 3
    do:
      - sleep: 100ms
      - print: "${worker} took ${item}"
      - emit: "${item}"
  - name: d
    from: b
    replicas: 2
    do:
      - sleep: "${item endsWith '0' ? '200ms' : '50ms'}"
      - print: "${worker} ate ${item}"
`

// Two simulations of one graph print the same bytes and return the same
// result, whatever the strategy.
func TestSimulateDeterministic(t *testing.T) {
	for _, strategy := range []string{"close", "sentinel", "join"} {
		t.Run(strategy, func(t *testing.T) {
			g := compile(t, fmt.Sprintf(ties, strategy))
			a := simulate(t, g, sim.Options{})
			b := simulate(t, g, sim.Options{})
			if a.err != nil || b.err != nil {
				t.Fatalf("err = %v, %v", a.err, b.err)
			}
			if a.stdout != b.stdout {
				t.Errorf("two simulations printed different lines")
			}
			if !reflect.DeepEqual(a.res, b.res) {
				t.Errorf("two simulations gave different results:\n%+v\n%+v", a.res, b.res)
			}
			if !reflect.DeepEqual(a.events, b.events) {
				t.Errorf("two simulations sent different events")
			}
			if got := len(lines(a.stdout)); got != 300 {
				t.Errorf("%d lines, want 300", got)
			}
			if a.res.Total.Produced != 200 || a.res.Total.Done != 200 {
				t.Errorf("ledger %s", a.res.Total)
			}
		})
	}
}

// The same seed makes the same random delays: byte-identical output; a
// different seed, different times.
func TestSimulateSeed(t *testing.T) {
	const src = `
producers:
  - {name: p, count: 50, delay: "${exponential(100ms)}", item: "${i}"}
consumers:
  - {name: c, replicas: 2, do: [{sleep: "${uniform(10ms, 300ms)}"}, {print: "${worker} ${item}"}]}
`
	pl, ds := config.Parse("seed.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	comp := func(seed uint64) *stages.Graph {
		g, ds := stages.Compile(pl, stages.Options{Environ: []string{}, Seed: seed})
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		return g
	}
	a := simulate(t, comp(7), sim.Options{})
	b := simulate(t, comp(7), sim.Options{})
	c := simulate(t, comp(8), sim.Options{})
	if a.stdout != b.stdout || a.res.Elapsed != b.res.Elapsed {
		t.Errorf("seed 7 twice: different runs")
	}
	if a.res.Elapsed == c.res.Elapsed {
		t.Errorf("seeds 7 and 8 took the same %v", a.res.Elapsed)
	}
}

// A pipeline with steps that do real work is refused, every such step
// named.
func TestSimulateRefuses(t *testing.T) {
	g := compile(t, `
producers: [{name: p, count: 1, item: x}]
consumers:
  - name: c
    do:
      - exec: {argv: [true]}
      - shell: "echo ${item}"
      - write: {path: /dev/null, line: "${item}"}
`)
	res, err := sim.Simulate(t.Context(), g, pipeline.Options{}, sim.Options{})
	var re *sim.RefusedError
	if res != nil || !errors.As(err, &re) {
		t.Fatalf("res %v, err %v; want a RefusedError", res, err)
	}
	if want := "consumer c has exec, shell, write step(s)"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
}

// Ten minutes of virtual time take no real time: the simulation never
// sleeps (the guard in simulate only catches a hang).
func TestSimulateLongPipeline(t *testing.T) {
	g := compile(t, `
producers: [{name: p, count: 600, delay: 1s, item: "${i}"}]
consumers: [{name: c, do: [{sleep: 900ms}]}]
`)
	o := simulate(t, g, sim.Options{})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Elapsed != 600*time.Second+900*time.Millisecond {
		t.Errorf("elapsed %v, want 10m0.9s", o.res.Elapsed)
	}
}

// The wait of every item is measured, and the busy share is exact: one
// consumer of 1s items, four items put at once, waits 0, 1, 2, 3 s.
func TestSimulateWaitsAndBusy(t *testing.T) {
	g := compile(t, `
producers: [{name: p, count: 4, item: "${i}"}]
consumers: [{name: c, do: [{sleep: 1s}]}]
`)
	o := simulate(t, g, sim.Options{})
	if o.err != nil {
		t.Fatal(o.err)
	}
	w := o.res.Queues[0].Wait
	if w == nil || w.Samples != 4 || w.Mean != 1500*time.Millisecond || w.Max != 3*time.Second {
		t.Errorf("wait %+v, want 4 samples, mean 1.5s, max 3s", w)
	}
	c := o.res.Stages[1]
	if c.Busy != 1 || c.Rate != 1 {
		t.Errorf("consumer busy %v rate %v, want 1 and 1/s", c.Busy, c.Rate)
	}
}

// A deadline in virtual time stops the producers; the queue drains for the
// grace period; then the consumers are cancelled and what is left is
// abandoned.
func TestSimulateDeadlineGrace(t *testing.T) {
	const src = `
queues: {main: {capacity: 100}}
shutdown: {deadline: 10s, grace: %s}
producers: [{name: p, count: 1000, delay: 100ms, item: "${i}"}]
consumers: [{name: c, do: [{sleep: 1s}, {print: "${item}"}]}]
`
	for _, tc := range []struct {
		grace           string
		elapsed         time.Duration
		done, abandoned int64
		produced        int64
	}{
		// 100 items by 10s (the 100th at 10s itself? the deadline comes
		// first: it was scheduled before); 9 eaten by 10s, 5 more in the
		// grace; the one being eaten at 15s is abandoned with the rest.
		{"5s", 15 * time.Second, 14, 85, 99},
		{"0s", 10 * time.Second, 9, 90, 99},
		{"2m", 99100 * time.Millisecond, 99, 0, 99},
	} {
		t.Run("grace="+tc.grace, func(t *testing.T) {
			o := simulate(t, compile(t, fmt.Sprintf(src, tc.grace)), sim.Options{})
			if o.res.Stop != "deadline" || o.res.Elapsed != tc.elapsed {
				t.Errorf("stop %q after %v, want deadline after %v", o.res.Stop, o.res.Elapsed, tc.elapsed)
			}
			l := o.res.Total
			if l.Produced != tc.produced || l.Done != tc.done || l.Abandoned != tc.abandoned {
				t.Errorf("ledger %s, want %d produced, %d done, %d abandoned", l, tc.produced, tc.done, tc.abandoned)
			}
			var fe *pipeline.FailedError
			if tc.abandoned > 0 && !errors.As(o.err, &fe) || tc.abandoned == 0 && o.err != nil {
				t.Errorf("err = %v", o.err)
			}
		})
	}
}

// Until stops a simulation that would never end.
func TestSimulateUntil(t *testing.T) {
	g := compile(t, `
queues: {loop: {capacity: 10}}
producers: [{name: p, to: loop, count: 1, item: "0"}]
consumers: [{name: c, from: loop, to: loop, do: [{sleep: 1s}, {emit: "${int(item) + 1}"}]}]
`)
	o := simulate(t, g, sim.Options{Until: time.Hour})
	if o.res.Elapsed != time.Hour || o.res.Stop != "deadline" {
		t.Errorf("stop %q after %v, want deadline after 1h", o.res.Stop, o.res.Elapsed)
	}
}

// TestErlangC checks the simulator against queueing theory. An M/M/c
// queue: Poisson arrivals at rate λ (exponential inter-arrival times of
// mean 1/λ), c servers each serving at rate μ (exponential service times
// of mean 1/μ), an unbounded FIFO queue. With offered load a = λ/μ and
// utilisation ρ = a/c < 1, the probability that an arrival must wait is
// Erlang's C formula
//
//	C(c, a) = (a^c/c! · 1/(1−ρ)) / (Σ_{k=0}^{c−1} a^k/k! + a^c/c! · 1/(1−ρ))
//
// and the mean wait in the queue (before service starts) is
//
//	Wq = C(c, a) / (cμ − λ).
//
// The queue's mean wait, from put to take, over every item of a long
// simulated run (fixed seeds), must be within 5% of Wq.
func TestErlangC(t *testing.T) {
	if testing.Short() {
		t.Skip("long simulations")
	}
	for _, tc := range []struct {
		lambda, mu float64 // per second
		c          int
		seed       uint64
	}{
		{8, 3, 3, 1},
		{4, 1, 5, 2},
		{9, 10, 1, 3},
	} {
		t.Run(fmt.Sprintf("λ=%v,μ=%v,c=%d", tc.lambda, tc.mu, tc.c), func(t *testing.T) {
			t.Parallel()
			const n = 200000
			arrival := time.Duration(float64(time.Second) / tc.lambda)
			service := time.Duration(float64(time.Second) / tc.mu)
			src := fmt.Sprintf(`
queues: {main: {capacity: unbounded}}
producers: [{name: arrivals, count: %d, delay: "${exponential(%dns)}", item: "${i}"}]
consumers: [{name: servers, replicas: %d, do: [{sleep: "${exponential(%dns)}"}]}]
`, n, arrival.Nanoseconds(), tc.c, service.Nanoseconds())
			pl, ds := config.Parse("mmc.yaml", []byte(src))
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			g, ds := stages.Compile(pl, stages.Options{Environ: []string{}, Seed: tc.seed})
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			o := simulate(t, g, sim.Options{})
			if o.err != nil {
				t.Fatal(o.err)
			}
			w := o.res.Queues[0].Wait
			if w == nil || w.Samples != n {
				t.Fatalf("wait %+v, want %d samples", w, n)
			}
			want := erlangCWait(tc.lambda, tc.mu, tc.c)
			got := w.Mean.Seconds()
			t.Logf("mean wait: simulated %.4fs, Erlang C %.4fs (%+.2f%%), %d items in %v of virtual time",
				got, want, 100*(got-want)/want, n, o.res.Elapsed.Round(time.Second))
			if math.Abs(got-want)/want > 0.05 {
				t.Errorf("mean wait %.4fs, Erlang C says %.4fs: off by more than 5%%", got, want)
			}
		})
	}
}

// erlangCWait is Wq of an M/M/c queue (see TestErlangC), in seconds.
func erlangCWait(lambda, mu float64, c int) float64 {
	a := lambda / mu
	rho := a / float64(c)
	term := 1.0 // a^k/k!
	sum := 0.0
	for k := 0; k < c; k++ {
		sum += term
		term *= a / float64(k+1)
	}
	top := term / (1 - rho) // a^c/c! · 1/(1−ρ)
	return top / (sum + top) / (float64(c)*mu - lambda)
}

// A simulation and a real run (in a synctest bubble, on fake time) of the
// same graph end the same way: the same error, ledgers, lines (up to which
// replica printed them) and time.
func TestSimulateMatchesRun(t *testing.T) {
	srcs := map[string]string{}
	for _, strategy := range []string{"close", "sentinel", "join"} {
		for _, capacity := range []int{1, 2, 100} {
			srcs[fmt.Sprintf("%s/capacity=%d", strategy, capacity)] = fmt.Sprintf(twoProducers, capacity, strategy)
		}
	}
	srcs["none/deadlock"] = fmt.Sprintf(twoProducers, 3, "none")
	srcs["deadline/grace"] = `
queues: {main: {capacity: 4}}
shutdown: {deadline: 5250ms, grace: 2750ms}
producers: [{name: p, count: 100, delay: 300ms, item: "${i}", print: "put ${item}"}]
consumers: [{name: c, replicas: 2, do: [{sleep: 1s}, {print: "${worker} ate ${item}"}]}]
`
	srcs["cycle/full"] = `
queues: {loop: {capacity: 2}}
producers: [{name: p, to: loop, count: 3, delay: 10ms, item: "${i}"}]
consumers: [{name: c, from: loop, to: loop, do: [{sleep: 1s}, {emit: "${item}"}, {emit: "${item}"}]}]
`
	srcs["dead-letter/skip"] = `
queues: {in: {capacity: 3}, dl: {capacity: 1}}
producers: [{name: p, to: in, count: 12, delay: 150ms, item: "${i}"}]
consumers:
  - name: c
    from: in
    replicas: 2
    on_error: {retry: {attempts: 2, backoff: 200ms, jitter: 0}, dead_letter: dl}
    do: [{sleep: 400ms}, {fail: "${item % 4 == 0 ? 'bad' : ''}"}, {print: "${worker} ok ${item}"}]
  - {name: d, from: dl, do: [{sleep: 1s}, {print: "dead ${item.item}"}]}
`
	for name, src := range srcs {
		t.Run(name, func(t *testing.T) {
			sim := simulate(t, compile(t, src), sim.Options{})
			var real outcome
			synctest.Test(t, func(t *testing.T) { real = run(t, src, nil) })
			if reflect.TypeOf(sim.err) != reflect.TypeOf(real.err) {
				t.Errorf("simulated err = %v, real err = %v", sim.err, real.err)
			}
			if g, w := ledgers(sim.res), ledgers(real.res); g != w {
				t.Errorf("simulated ledger:\n%s\nreal:\n%s", g, w)
			}
			if g, w := stripWorkers(lines(sim.stdout)), stripWorkers(real.stdout); !slices.Equal(g, w) {
				t.Errorf("simulated lines:\n%s\nreal:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
			}
			if sim.res.Elapsed != real.took {
				t.Errorf("simulated %v, the real run took %v of fake time", sim.res.Elapsed, real.took)
			}
		})
	}
}
