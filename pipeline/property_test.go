package pipeline_test

// Property-based tests of pipeline.Run: rapid generates random pipelines
// as YAML text, each runs in a testing/synctest bubble (delays, sleeps,
// backoffs, deadlines and signals cost no wall time), and every run is
// checked against what its file says must happen: the ledger balances,
// no item is handled twice, a run that ends by itself handles every item
// exactly as the file's `when` and `fail` steps predict, the error says how
// the run ended, the spill file holds exactly the abandoned items, and a
// resumed run finishes what the spilled run left.
//
// How rapid and synctest combine: the case is drawn in rapid's goroutine,
// then rapid.SyncTest runs the check inside a fresh bubble per case, so a
// failed check (t.Errorf/Fatalf inside the bubble) reaches rapid, which
// shrinks the case. Run itself runs in a goroutine of the bubble, watched
// by a fake-time watchdog: a run that hangs with every goroutine durably
// blocked lets the fake clock reach the watchdog, which fails the case
// instead of the whole binary dying of a bubble deadlock.
//
// Case counts: each property sets its own default (propChecks); the
// -rapid.checks flag or RAPID_CHECKS overrides them all. The package goes
// before the flag (go test passes everything after an unknown flag to the
// test binary, and would test "." instead):
//
//	go test ./pipeline/ -run '^TestProperty' -rapid.checks=2000
//
// A failure logs the pipeline file, the run's stderr and summary, and
// -rapid.seed to rerun it; rapid also saves it under testdata/rapid (not
// with -rapid.nofailfile) and tries it first on the next run. Runs are
// concurrent, so a failure may not reproduce every time: rapid then says
// "flaky test" and shows the case as first found. With -v, each test logs
// how its runs ended (stops, failures, abandoned and spilled items).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/report"
	"github.com/pcrun/pcrun/stages"
)

// TestPropertyRun: random pipelines with every strategy, failure policy,
// deadline, grace and signals end, and end the way their file says.
func TestPropertyRun(t *testing.T) {
	propChecks(t, 100)
	defer propStats.log(t)
	rapid.Check(t, func(rt *rapid.T) {
		c := drawCase(rt, anyCase)
		rapid.SyncTest(rt, c.check)
	})
}

// TestPropertySpillResume: a run stopped by its deadline or a signal
// spills what it abandoned, and a second run resuming from the spill file
// finishes the job, every item handled once over the two.
func TestPropertySpillResume(t *testing.T) {
	propChecks(t, 50)
	defer propStats.log(t)
	rapid.Check(t, func(rt *rapid.T) {
		c := drawCase(rt, resumeCase)
		rapid.SyncTest(rt, c.checkResume)
	})
}

// TestPropertyNoneDeadlocks: with `strategy: none` and neither a deadline
// nor a signal, finite producers always end in a reported deadlock (or in
// the failure that stopped the run first), every item handled, none lost.
func TestPropertyNoneDeadlocks(t *testing.T) {
	propChecks(t, 40)
	defer propStats.log(t)
	rapid.Check(t, func(rt *rapid.T) {
		c := drawCase(rt, noneCase)
		rapid.SyncTest(rt, c.check)
	})
}

// propStats counts how the cases of a test ended, shown with -v: a
// check that the generator reaches every kind of ending.
var propStats = &caseStats{}

type caseStats struct {
	mu                        sync.Mutex
	cases                     int
	stops                     map[string]int
	items, abandoned, spilled int64
	withAbandoned, withFailed int
	withLetters, withSpill    int
}

func (s *caseStats) add(res *observe.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stops == nil {
		s.stops = map[string]int{}
	}
	s.cases++
	stop := res.Stop
	if stop == "" {
		stop = "none (ended by itself)"
	}
	s.stops[stop]++
	l := res.Total
	s.items += l.Produced
	s.abandoned += l.Abandoned
	s.spilled += int64(res.Spilled)
	if l.Abandoned > 0 {
		s.withAbandoned++
	}
	if l.Failed > 0 {
		s.withFailed++
	}
	if l.DeadLettered > 0 {
		s.withLetters++
	}
	if res.Spilled > 0 {
		s.withSpill++
	}
}

func (s *caseStats) log(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("%d runs (shrinking included), %d items: stops %v; %d runs with failed items, %d with dead letters, "+
		"%d with abandoned items (%d in all), %d with spilled items (%d in all)",
		s.cases, s.items, s.stops, s.withFailed, s.withLetters, s.withAbandoned, s.abandoned, s.withSpill, s.spilled)
	s.cases, s.stops, s.items, s.abandoned, s.spilled = 0, nil, 0, 0, 0
	s.withAbandoned, s.withFailed, s.withLetters, s.withSpill = 0, 0, 0, 0
}

var (
	rapidChecksOnce sync.Once
	rapidChecksSet  bool // -rapid.checks or RAPID_CHECKS given: it wins
)

// propChecks makes n the number of cases of the calling test, unless the
// command line or the environment chose one.
func propChecks(t *testing.T, n int) {
	rapidChecksOnce.Do(func() {
		flag.Visit(func(f *flag.Flag) { rapidChecksSet = rapidChecksSet || f.Name == "rapid.checks" })
		_, env := os.LookupEnv("RAPID_CHECKS")
		rapidChecksSet = rapidChecksSet || env
	})
	f := flag.Lookup("rapid.checks")
	if rapidChecksSet || f == nil {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

// ---------------------------------------------------------------------------
// The generated pipeline.
//
// Producers p0..p2 put items {id: "pK.R.I", n: K*100000 + R*1000 + I} into
// q0; consumer stages s1..sN read q(j-1); each but the last emits one item
// per input, {id, n, hop}, into qj; every stage prints "sJ ID" as its last
// step, so a printed line means the item is done at that stage. Stages
// may filter (`when`), fail items deterministically by n, or fail them
// while `attempt` is low (flaky), and may print "mJ ID ATTEMPT" among those
// steps (a retry resumes at the failed step, so once at most). Failed
// items stop the run, are skipped, or go to the queue `dead`, whose reader
// `morgue` prints "dead sJ ID ATTEMPTS". Every run's output is traced per
// id against what these rules predict.

// modRule matches the items with n % K == R.
type modRule struct{ K, R int }

func (m *modRule) match(n int) bool { return m != nil && n%m.K == m.R }

type propProducer struct {
	count, replicas int
	delay           time.Duration
}

type propStage struct {
	replicas int
	when     *modRule // filters out the matching items
	fail     *modRule // fails the matching items on every attempt
	flaky    *modRule // fails the matching items while attempt < flakyN
	flakyN   int
	steps    []string // "sleep", "fail", "flaky", "mark" in file order
	sleep    string   // the sleep step's value
	then     string   // stop, skip or dead_letter
	attempts int
	onError  string // the on_error value in the file; "" leaves it out
}

// marks reports whether an item with this n that is not filtered reaches
// the stage's "mark" print, and on which attempt: the steps before it
// must let it pass.
func (s *propStage) marks(n int) (bool, int) {
	attempt := 1
	for _, st := range s.steps {
		switch {
		case st == "mark":
			return true, attempt
		case st == "fail" && s.fail.match(n):
			return false, 0
		case st == "flaky" && s.flaky.match(n):
			if s.flakyN > s.attempts {
				return false, 0
			}
			attempt = max(attempt, s.flakyN)
		}
	}
	return false, 0
}

// fails reports whether an item with this n fails at this stage after
// every attempt (when it is not filtered).
func (s *propStage) fails(n int) bool {
	return s.fail.match(n) || (s.flaky.match(n) && s.flakyN > s.attempts)
}

type propCase struct {
	producers []propProducer
	stages    []propStage
	caps      []int // capacity of q0..q(N-1); 0: unbounded
	morgue    int   // replicas reading `dead`; 0: no dead-letter queue
	deadCap   int
	strategy  string
	deadline  time.Duration // 0: none
	grace     time.Duration // as the run applies it (default 10s)
	graceYAML string        // "" leaves grace out
	signals   []time.Duration
	spill     bool
	src       string
}

func capYAML(c int) string {
	if c == 0 {
		return "unbounded"
	}
	return strconv.Itoa(c)
}

func drawCapacity(t *rapid.T, label string) int {
	if rapid.IntRange(0, 4).Draw(t, label+" unbounded") == 0 {
		return 0
	}
	return rapid.IntRange(1, 16).Draw(t, label)
}

func drawMod(t *rapid.T, label string) *modRule {
	if !rapid.Bool().Draw(t, label) {
		return nil
	}
	k := rapid.IntRange(1, 7).Draw(t, label+" mod")
	return &modRule{K: k, R: rapid.IntRange(0, k-1).Draw(t, label+" residue")}
}

// The kinds of case drawCase draws.
type caseKind int

const (
	anyCase    caseKind = iota
	noneCase            // `strategy: none` without deadline or signal: it must deadlock
	resumeCase          // stopped by a deadline or signal, spilled, no on_error: stop
)

// drawCase draws a pipeline of the given kind.
func drawCase(t *rapid.T, kind caseKind) *propCase {
	none := kind == noneCase
	c := &propCase{grace: 10 * time.Second}
	for range rapid.IntRange(1, 3).Draw(t, "producers") {
		c.producers = append(c.producers, propProducer{
			count:    rapid.IntRange(0, 30).Draw(t, "count"),
			replicas: rapid.IntRange(1, 8).Draw(t, "producer replicas"),
			// A third without delay: they make their items in batches (batch.go).
			delay: time.Duration(rapid.OneOf(rapid.Just(0), rapid.IntRange(0, 50), rapid.IntRange(0, 50)).Draw(t, "delay ms")) * time.Millisecond,
		})
	}
	nstages := rapid.IntRange(1, 4).Draw(t, "consumer stages")
	for range nstages {
		c.caps = append(c.caps, drawCapacity(t, "capacity"))
		s := propStage{replicas: rapid.IntRange(1, 8).Draw(t, "replicas"), attempts: 1}
		s.when = drawMod(t, "when")
		s.fail = drawMod(t, "fail")
		s.flaky = drawMod(t, "flaky")
		if s.flaky != nil {
			s.flakyN = rapid.IntRange(2, 3).Draw(t, "flaky until attempt")
		}
		var steps []string
		if ms := rapid.IntRange(-1, 50).Draw(t, "sleep ms"); ms >= 0 {
			steps = append(steps, "sleep")
			s.sleep = fmt.Sprintf("%dms", ms)
			if rapid.Bool().Draw(t, "sleep varies by item") {
				s.sleep = fmt.Sprintf(`"${(item.n %% 3) * %g}"`, float64(ms)/2000) // seconds
			}
		}
		if s.fail != nil {
			steps = append(steps, "fail")
		}
		if s.flaky != nil {
			steps = append(steps, "flaky")
		}
		if rapid.Bool().Draw(t, "mark") {
			steps = append(steps, "mark") // a print among the steps: a retry must not repeat it
		}
		s.steps = rapid.Permutation(steps).Draw(t, "step order")
		thens := []string{"stop", "skip", "dead_letter"}
		if kind == resumeCase {
			thens = thens[1:] // a stop would stop the resumed run too
		}
		s.then = rapid.SampledFrom(thens).Draw(t, "then")
		s.onError = drawOnError(t, &s)
		c.stages = append(c.stages, s)
	}
	for _, s := range c.stages {
		if s.then == "dead_letter" {
			c.morgue = rapid.IntRange(1, 3).Draw(t, "morgue replicas")
			c.deadCap = drawCapacity(t, "dead capacity")
			break
		}
	}
	if !none {
		if rapid.Bool().Draw(t, "deadline") {
			c.deadline = drawTime(t, "deadline") + time.Millisecond
		}
		if n := rapid.IntRange(0, 2).Draw(t, "signals"); n > 0 {
			at := drawTime(t, "signal")
			c.signals = append(c.signals, at)
			if n == 2 {
				c.signals = append(c.signals, at+time.Duration(rapid.IntRange(0, 500).Draw(t, "second signal ms"))*time.Millisecond)
			}
		}
		if kind == resumeCase && c.deadline == 0 && len(c.signals) == 0 {
			c.deadline = drawTime(t, "deadline") + time.Millisecond
		}
	}
	strategies := []string{"close", "sentinel", "join"}
	switch {
	case none:
		strategies = []string{"none"}
	case c.deadline > 0 || len(c.signals) > 0:
		strategies = append(strategies, "none") // something ends it
	}
	c.strategy = rapid.SampledFrom(strategies).Draw(t, "strategy")
	if !none || rapid.Bool().Draw(t, "grace given") {
		least := 0
		if kind == resumeCase {
			least = 1 // a short grace: more to spill and resume
		}
		switch rapid.IntRange(least, 2).Draw(t, "grace") {
		case 1:
			c.grace, c.graceYAML = 0, "0s"
		case 2:
			ms := rapid.IntRange(1, 500).Draw(t, "grace ms")
			c.grace, c.graceYAML = time.Duration(ms)*time.Millisecond, fmt.Sprintf("%dms", ms)
		}
	}
	c.spill = kind == resumeCase || rapid.Bool().Draw(t, "spill")
	c.src = c.yaml()
	return c
}

// drawTime draws a time up to 2s. rapid favours small integers (half of
// IntRange(0, 2000) is under 40), which would put most deadlines and
// signals before the first item: 100ms steps spread them over the run.
func drawTime(t *rapid.T, label string) time.Duration {
	ms := 100*rapid.IntRange(0, 19).Draw(t, label+" (100ms)") + rapid.IntRange(0, 99).Draw(t, label+" (ms)")
	return time.Duration(ms) * time.Millisecond
}

// drawOnError draws the stage's retry policy and writes its on_error,
// in one of the forms the file format allows.
func drawOnError(t *rapid.T, s *propStage) string {
	retry := ""
	switch rapid.IntRange(0, 2).Draw(t, "retry form") {
	case 1: // the shorthand: default backoff 100ms ×2, jitter 0.2
		s.attempts = rapid.IntRange(1, 3).Draw(t, "attempts")
		retry = fmt.Sprintf("retry: %d", s.attempts)
	case 2:
		s.attempts = rapid.IntRange(1, 3).Draw(t, "attempts")
		jitter := rapid.SampledFrom([]string{"0", "0.5"}).Draw(t, "jitter")
		retry = fmt.Sprintf("retry: {attempts: %d, backoff: %dms, jitter: %s}",
			s.attempts, rapid.IntRange(0, 20).Draw(t, "backoff ms"), jitter)
	}
	switch s.then {
	case "dead_letter":
		if retry == "" {
			return "{dead_letter: dead}"
		}
		return "{" + retry + ", then: dead_letter, dead_letter: dead}"
	case "stop":
		if retry == "" {
			if rapid.Bool().Draw(t, "on_error stop written") {
				return "stop"
			}
			return ""
		}
	}
	if retry == "" {
		return s.then
	}
	return "{" + retry + ", then: " + s.then + "}"
}

func (c *propCase) yaml() string {
	var b strings.Builder
	b.WriteString("queues:\n")
	for j, cp := range c.caps {
		fmt.Fprintf(&b, "  q%d: {capacity: %s}\n", j, capYAML(cp))
	}
	if c.morgue > 0 {
		fmt.Fprintf(&b, "  dead: {capacity: %s}\n", capYAML(c.deadCap))
	}
	fmt.Fprintf(&b, "shutdown: {strategy: %s", c.strategy)
	if c.deadline > 0 {
		fmt.Fprintf(&b, ", deadline: %s", c.deadline)
	}
	if c.graceYAML != "" {
		fmt.Fprintf(&b, ", grace: %s", c.graceYAML)
	}
	b.WriteString("}\nproducers:\n")
	for k, p := range c.producers {
		fmt.Fprintf(&b, "  - {name: p%d, to: q0, count: %d, replicas: %d, delay: %s, "+
			"item: {id: \"p%d.${replica}.${i}\", n: \"${%d + 1000 * replica + i}\"}}\n",
			k, p.count, p.replicas, p.delay, k, k*100000)
	}
	b.WriteString("consumers:\n")
	for j, s := range c.stages {
		fmt.Fprintf(&b, "  - name: s%d\n    from: q%d\n    replicas: %d\n", j+1, j, s.replicas)
		last := j == len(c.stages)-1
		if !last {
			fmt.Fprintf(&b, "    to: q%d\n", j+1)
		}
		if s.when != nil {
			fmt.Fprintf(&b, "    when: 'item.n %% %d != %d'\n", s.when.K, s.when.R)
		}
		if s.onError != "" {
			fmt.Fprintf(&b, "    on_error: %s\n", s.onError)
		}
		b.WriteString("    do:\n")
		for _, st := range s.steps {
			switch st {
			case "sleep":
				fmt.Fprintf(&b, "      - sleep: %s\n", s.sleep)
			case "fail":
				fmt.Fprintf(&b, "      - fail: \"${item.n %% %d == %d ? 'boom ' + item.id : ''}\"\n", s.fail.K, s.fail.R)
			case "mark":
				fmt.Fprintf(&b, "      - print: \"m%d ${item.id} ${attempt}\"\n", j+1)
			case "flaky":
				fmt.Fprintf(&b, "      - fail: \"${item.n %% %d == %d && attempt < %d ? 'flaky' : ''}\"\n", s.flaky.K, s.flaky.R, s.flakyN)
			}
		}
		if !last {
			fmt.Fprintf(&b, "      - emit: {id: \"${item.id}\", n: \"${item.n}\", hop: %d}\n", j+1)
		}
		fmt.Fprintf(&b, "      - print: \"s%d ${item.id}\"\n", j+1)
	}
	if c.morgue > 0 {
		fmt.Fprintf(&b, "  - name: morgue\n    from: dead\n    replicas: %d\n"+
			"    do: [{print: \"dead ${item.stage} ${item.item.id} ${item.attempts}\"}]\n", c.morgue)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// What the file predicts.

// propItem is an item a producer makes: its id and the number the
// stages' rules test.
type propItem struct {
	id string
	n  int
}

func (c *propCase) items() []propItem {
	var out []propItem
	for k, p := range c.producers {
		for r := 1; r <= p.replicas; r++ {
			for i := range p.count {
				out = append(out, propItem{id: fmt.Sprintf("p%d.%d.%d", k, r, i), n: k*100000 + 1000*r + i})
			}
		}
	}
	return out
}

// fate is what happens to an item handled to its end: the stage where it
// stops and how (done after the last stage, filtered or failed there).
func (c *propCase) fate(n int) (stage int, how string) {
	for j := range c.stages {
		s := &c.stages[j]
		if s.when.match(n) {
			return j, "filtered"
		}
		if s.fails(n) {
			return j, "failed"
		}
	}
	return len(c.stages) - 1, "done"
}

// outcome at stage j of an item that reaches it.
func (c *propCase) outcome(j, n int) string {
	switch s := &c.stages[j]; {
	case s.when.match(n):
		return "filtered"
	case s.fails(n):
		return "failed"
	}
	return "done"
}

// stopFailurePredicted: some item fails at a stage whose on_error stops.
func (c *propCase) stopFailurePredicted() bool {
	for _, it := range c.items() {
		if j, how := c.fate(it.n); how == "failed" && c.stages[j].then == "stop" {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Running a case and checking it.

type letterKey struct{ stage, id string }

// observed is what one run did, as seen from outside.
type observed struct {
	mu      sync.Mutex
	puts    map[string][]string   // queue -> item ids put (letters: "sJ ID")
	printed []map[string]int      // stage -> id -> times printed
	marked  []map[string][]string // stage -> id -> the attempt of each "mark" line
	dead    map[letterKey]int     // morgue lines
	// the attempts each dead letter says were made
	letterAttempts map[letterKey]string
	bad            []string // lines of unexpected shape
}

func (o *observed) onPut(queue string, v any) {
	m, _ := v.(map[string]any)
	var key string
	if queue == "dead" {
		inner, _ := m["item"].(map[string]any)
		key = fmt.Sprintf("%v %v", m["stage"], inner["id"])
	} else {
		key = fmt.Sprint(m["id"])
	}
	o.mu.Lock()
	o.puts[queue] = append(o.puts[queue], key)
	o.mu.Unlock()
}

// ran is one run of a case, as seen from outside.
type ran struct {
	res    *observe.Result
	err    error
	obs    *observed
	stderr string
	spill  []byte
}

// run runs the case's pipeline inside the calling bubble, sending its
// signals at their times, and fails the case if Run hangs. With resume,
// it continues an earlier run.
func (c *propCase) run(t *rapid.T, resume *pipeline.Resume) *ran {
	t.Logf("pipeline file:\n%s", c.src)
	if len(c.signals) > 0 {
		t.Logf("signals at %v", c.signals)
	}
	pl, ds := config.Parse("prop.yaml", []byte(c.src))
	if ds.HasErrors() {
		t.Fatalf("parse: %v", ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds)
	}
	obs := &observed{puts: map[string][]string{}, dead: map[letterKey]int{}, letterAttempts: map[letterKey]string{}}
	var stdout, stderr, spill bytes.Buffer
	sig := make(chan os.Signal, 2)
	opts := pipeline.Options{Stdout: &stdout, Stderr: &stderr, Observers: []observe.Observer{observe.Funcs{OnPut: obs.onPut}}, Signals: sig, Resume: resume}
	if c.spill {
		opts.Spill = &spill
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	r := &ran{obs: obs}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		r.res, r.err = pipeline.Run(ctx, g, opts)
	}()
	stopSignals := make(chan struct{})
	signalsDone := make(chan struct{})
	go func() {
		defer close(signalsDone)
		for _, at := range c.signals {
			tm := time.NewTimer(at - time.Since(start))
			select {
			case <-stopSignals:
				tm.Stop()
				return
			case <-tm.C:
			}
			sig <- os.Interrupt
		}
	}()
	defer func() {
		close(stopSignals)
		<-signalsDone
	}()
	watchdog := time.NewTimer(time.Hour) // fake time: the longest case needs under a minute
	select {
	case <-done:
		watchdog.Stop()
	case <-watchdog.C:
		cancel() // Run promises to return once its context ends
		select {
		case <-done:
			t.Fatalf("Run hung: it returned only when its context was cancelled after an hour (fake time)")
		case <-time.After(time.Hour):
			fmt.Fprintf(os.Stderr, "pcrun property test: Run hangs even when cancelled; the pipeline:\n%s\n", c.src)
			t.Fatalf("Run hangs even after its context was cancelled")
		}
	}
	r.stderr, r.spill = stderr.String(), spill.Bytes()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		e := r.stderr
		if len(e) > 8000 {
			e = "...\n" + e[len(e)-8000:]
		}
		t.Logf("err: %v\nstderr:\n%s", r.err, e)
		if r.res != nil {
			var sum bytes.Buffer
			report.Text(&sum, r.res)
			t.Logf("summary:\n%s", sum.String())
		}
	})
	if r.res == nil {
		t.Fatalf("Run returned no result; err = %v", r.err)
	}
	propStats.add(r.res)
	obs.parseStdout(c, stdout.String())
	return r
}

// check runs the case and checks every property.
func (c *propCase) check(t *rapid.T) { c.checkRun(t) }

func (c *propCase) checkRun(t *rapid.T) *ran {
	r := c.run(t, nil)
	v := &verdict{t: t}
	c.checkLedger(v, r.res, r.obs)
	c.checkOutputs(v, r.res, r.obs)
	c.checkError(v, r.res, r.err)
	c.checkTiming(v, r.res, r.err)
	c.checkRetriesAndStall(v, r.res, r.err, r.stderr)
	if c.spill {
		c.checkSpill(v, r.res, r.obs, r.spill)
	} else if r.res.Spilled != 0 {
		v.Errorf("Spilled = %d without a spill writer", r.res.Spilled)
	}
	v.done()
	return r
}

// checkResume runs the case, which a deadline or signal stops, then runs
// it again without them, resuming from the first run's spill file. The
// second run abandons nothing, and over the two runs every stage finishes
// every item it should exactly once: an item interrupted part-way runs
// again from its first step, but a stage's effects here (an emit, then
// its print) come last, and an emit cut short put nothing.
func (c *propCase) checkResume(t *rapid.T) {
	first := c.checkRun(t)
	resume, err := pipeline.ReadResume(bytes.NewReader(first.spill))
	if err != nil {
		t.Fatalf("reading the spill file: %v", err)
	}
	c2 := *c
	c2.deadline, c2.signals = 0, nil
	if c2.strategy == "none" {
		c2.strategy = "close"
	}
	c2.src = c2.yaml()
	t.Logf("resuming from %d spilled items", len(resume.Items))
	second := c2.run(t, resume)
	v := &verdict{t: t}
	res := second.res
	if err := res.Balanced(); err != nil {
		v.Errorf("resumed run: %v", err)
	}
	if second.err != nil || res.Stop != "" || res.Total.Abandoned != 0 {
		v.Errorf("resumed run: err %v, stop %q, ledger %s; want a clean run", second.err, res.Stop, res.Total)
	}
	replayed := int64(0)
	for _, st := range res.Stages {
		if st.Kind == "replay" {
			replayed = st.Produced
		}
	}
	if replayed != int64(len(resume.Items)) {
		v.Errorf("resumed run replayed %d items of %d spilled", replayed, len(resume.Items))
	}
	// Its own spill file says there is nothing left to do.
	producers := 0
	for _, line := range bytes.Split(bytes.TrimSpace(second.spill), []byte("\n")) {
		var rec pipeline.SpillRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.Kind != "producer" || rec.Next != rec.Count {
			v.Errorf("resumed run's spill file: %s", line)
		}
		producers++
	}
	replicas := 0
	for _, p := range c.producers {
		replicas += p.replicas
	}
	if producers != replicas {
		v.Errorf("resumed run's spill file has %d producer records, for %d producer replicas", producers, replicas)
	}
	want, wantDead, _ := c.expect()
	for j := range c.stages {
		var got []string
		for id := range first.obs.printed[j] {
			got = append(got, id)
			if second.obs.printed[j][id] > 0 {
				v.Errorf("s%d finished %s in both runs", j+1, id)
			}
		}
		for id, n := range second.obs.printed[j] {
			if n > 1 {
				v.Errorf("s%d finished %s %d times in the resumed run", j+1, id, n)
			}
			if first.obs.printed[j][id] == 0 {
				got = append(got, id)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want[j]) {
			v.Errorf("s%d finished %d items over both runs %v\nwant %d: %v", j+1, len(got), got, len(want[j]), want[j])
		}
	}
	var dead []letterKey
	for k := range first.obs.dead {
		dead = append(dead, k)
		if second.obs.dead[k] > 0 {
			v.Errorf("dead letter %v printed in both runs", k)
		}
	}
	for k, n := range second.obs.dead {
		if n > 1 {
			v.Errorf("dead letter %v printed %d times in the resumed run", k, n)
		}
		if first.obs.dead[k] == 0 {
			dead = append(dead, k)
		}
	}
	if dead = sortedLetters(dead); !slices.Equal(dead, wantDead) {
		v.Errorf("dead letters over both runs %v, want %v", dead, wantDead)
	}
	v.done()
}

// verdict collects the violations of one case: each is logged, and the
// case fails with the first one's format, which names the property
// without the case's values, so that rapid recognizes the same failure in
// smaller cases and shrinks.
type verdict struct {
	t     *rapid.T
	first string
}

// done fails the case if anything was violated.
func (v *verdict) done() {
	if v.first != "" {
		v.t.Fatalf("violated: %s", v.first)
	}
}

func (v *verdict) Errorf(format string, args ...any) {
	v.t.Logf(format, args...)
	if v.first == "" {
		v.first = format
	}
}

func (o *observed) parseStdout(c *propCase, out string) {
	o.printed = make([]map[string]int, len(c.stages))
	o.marked = make([]map[string][]string, len(c.stages))
	for j := range o.printed {
		o.printed[j] = map[string]int{}
		o.marked[j] = map[string][]string{}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "dead":
			o.dead[letterKey{f[1], f[2]}]++
			o.letterAttempts[letterKey{f[1], f[2]}] = f[3]
		case len(f) == 3 && strings.HasPrefix(f[0], "m"):
			j, err := strconv.Atoi(f[0][1:])
			if err != nil || j < 1 || j > len(c.stages) {
				o.bad = append(o.bad, line)
				continue
			}
			o.marked[j-1][f[1]] = append(o.marked[j-1][f[1]], f[2])
		case len(f) == 2 && strings.HasPrefix(f[0], "s"):
			j, err := strconv.Atoi(f[0][1:])
			if err != nil || j < 1 || j > len(c.stages) {
				o.bad = append(o.bad, line)
				continue
			}
			o.printed[j-1][f[1]]++
		default:
			o.bad = append(o.bad, line)
		}
	}
}

func (c *propCase) queueLedger(res *observe.Result, name string) (observe.QueueLedger, bool) {
	for _, q := range res.Queues {
		if q.Name == name {
			return q, true
		}
	}
	return observe.QueueLedger{}, false
}

func (c *propCase) stage(res *observe.Result, name string) observe.StageStats {
	for _, s := range res.Stages {
		if s.Name == name {
			return s
		}
	}
	return observe.StageStats{}
}

func qname(j int) string { return fmt.Sprintf("q%d", j) }

// putFailures are the items whose put was cut short by the run's end:
// made and counted, never in a queue.
type putFailures struct {
	producers int   // producer puts
	emits     []int // per stage: emits (not spilled: the input item is)
	letters   []int // per stage: dead letters
}

func (c *propCase) putFailures(res *observe.Result) putFailures {
	var pf putFailures
	q0, _ := c.queueLedger(res, "q0")
	for k := range c.producers {
		pf.producers += int(c.stage(res, fmt.Sprintf("p%d", k)).Produced)
	}
	pf.producers -= int(q0.Put)
	for j := range c.stages {
		st := c.stage(res, fmt.Sprintf("s%d", j+1))
		in, _ := c.queueLedger(res, qname(j))
		attempted := 0 // letters
		if c.stages[j].then == "dead_letter" {
			attempted = int(in.Ledger.Failed)
		}
		emitted := 0
		if j < len(c.stages)-1 {
			out, _ := c.queueLedger(res, qname(j+1))
			emitted = int(out.Put)
		}
		pf.emits = append(pf.emits, int(st.Produced)-attempted-emitted)
		pf.letters = append(pf.letters, attempted) // minus the letters put, below
	}
	return pf
}

// checkLedger: every ledger balances, the totals are the sum of the
// stages, and the ledgers agree with what was put and printed.
func (c *propCase) checkLedger(v *verdict, res *observe.Result, obs *observed) {
	if err := res.Balanced(); err != nil {
		v.Errorf("%v", err)
	}
	l := res.Total
	if l.Produced != l.Done+l.Filtered+l.Failed+l.Abandoned || l.Skipped+l.DeadLettered > l.Failed {
		v.Errorf("total ledger does not balance: %s", l)
	}
	if sum := res.Ledger(); sum != l {
		v.Errorf("total %s is not the sum of the stages %s", l, sum)
	}
	for _, s := range res.Stages {
		if !s.Ledger.Balanced() {
			v.Errorf("stage %s: %s", s.Name, s.Ledger)
		}
	}
	for _, q := range res.Queues {
		if !q.Ledger.Balanced() {
			v.Errorf("queue %s: %s", q.Name, q.Ledger)
		}
		if q.Ledger.Produced != q.Put {
			v.Errorf("queue %s: ledger produced %d, put %d", q.Name, q.Ledger.Produced, q.Put)
		}
		if n := len(obs.puts[q.Name]); int64(n) != q.Put {
			v.Errorf("queue %s: the observer saw %d puts, the queue counts %d", q.Name, n, q.Put)
		}
		if q.Depth != 0 || q.Taken+q.Abandoned != q.Put {
			v.Errorf("queue %s: put %d, taken %d, abandoned %d, depth %d at the end", q.Name, q.Put, q.Taken, q.Abandoned, q.Depth)
		}
		if q.Capacity > 0 && q.MaxDepth > q.Capacity {
			v.Errorf("queue %s: depth %d over capacity %d", q.Name, q.MaxDepth, q.Capacity)
		}
	}
	// One reader stage per queue: the stage took what the queue gave.
	// Sentinel end markers: at most one per reader replica, and none in
	// the other strategies.
	readers := map[string]int{"dead": c.morgue}
	for j, s := range c.stages {
		readers[qname(j)] = s.replicas
		st := c.stage(res, fmt.Sprintf("s%d", j+1))
		q, _ := c.queueLedger(res, qname(j))
		if st.Taken != q.Taken {
			v.Errorf("stage %s took %d items, its queue %s gave %d", st.Name, st.Taken, q.Name, q.Taken)
		}
	}
	for _, q := range res.Queues {
		want := int64(0)
		if c.strategy == "sentinel" {
			want = int64(readers[q.Name])
		}
		if q.Markers > want || (c.complete(res) && q.Markers != want) {
			v.Errorf("queue %s: %d end markers, want %d (strategy %s, stop %q)", q.Name, q.Markers, want, c.strategy, res.Stop)
		}
	}
	// How each stage's failures ended is its on_error's `then`.
	var skipped, dead, stopped int64
	for j, s := range c.stages {
		in, _ := c.queueLedger(res, qname(j))
		switch s.then {
		case "skip":
			skipped += in.Ledger.Failed
		case "dead_letter":
			dead += in.Ledger.Failed
		default:
			stopped += in.Ledger.Failed
		}
	}
	if l.Skipped != skipped || l.DeadLettered != dead || l.Failed-l.Skipped-l.DeadLettered != stopped {
		v.Errorf("ledger %s: want %d skipped, %d dead-lettered, %d stopped, by the stages' on_error", l, skipped, dead, stopped)
	}
	// Every abandoned item is in a queue's ledger, or its put was cut short:
	// at most one per writer replica.
	pf := c.putFailures(res)
	writers := 0
	for _, p := range c.producers {
		writers += p.replicas
	}
	if pf.producers < 0 || pf.producers > writers {
		v.Errorf("%d producer puts cut short, with %d producer replicas", pf.producers, writers)
	}
	lettersPut := map[string]int{}
	for _, key := range obs.puts["dead"] {
		lettersPut[strings.Fields(key)[0]]++
	}
	abandoned := int64(pf.producers)
	for _, q := range res.Queues {
		abandoned += q.Ledger.Abandoned
	}
	for j, s := range c.stages {
		name := fmt.Sprintf("s%d", j+1)
		pf.letters[j] -= lettersPut[name]
		if e, d := pf.emits[j], pf.letters[j]; e < 0 || d < 0 || e+d > s.replicas {
			v.Errorf("stage %s: %d emits and %d dead letters cut short, with %d replicas", name, e, d, s.replicas)
		}
		abandoned += int64(pf.emits[j] + pf.letters[j])
	}
	if abandoned != l.Abandoned {
		v.Errorf("%d items abandoned, but the queues and cut-short puts account for %d", l.Abandoned, abandoned)
	}
}

// checkOutputs: nothing is handled twice, an item reaches a stage only
// through the one before, every stage does to an item what the file says,
// and a run that ended by itself did all of it.
func (c *propCase) checkOutputs(v *verdict, res *observe.Result, obs *observed) {
	if len(obs.bad) > 0 {
		v.Errorf("unexpected stdout lines: %q", obs.bad)
	}
	all := c.items()
	byID := map[string]propItem{}
	for _, it := range all {
		byID[it.id] = it
	}
	// Puts: each id at most once per queue, and only ids that exist.
	put := map[string]map[string]bool{}
	for q, keys := range obs.puts {
		put[q] = map[string]bool{}
		for _, k := range keys {
			if put[q][k] {
				v.Errorf("%s put into %s twice", k, q)
			}
			put[q][k] = true
			if q != "dead" {
				if _, ok := byID[k]; !ok {
					v.Errorf("unknown item %q put into %s", k, q)
				}
			}
		}
	}
	for j := range c.stages {
		name := fmt.Sprintf("s%d", j+1)
		for id, times := range obs.printed[j] {
			it, ok := byID[id]
			switch {
			case !ok:
				v.Errorf("%s printed an unknown item %q", name, id)
				continue
			case times > 1:
				v.Errorf("%s handled %s %d times", name, id, times)
			}
			if !put[qname(j)][id] {
				v.Errorf("%s printed %s, never put into %s", name, id, qname(j))
			}
			if o := c.outcome(j, it.n); o != "done" {
				v.Errorf("%s printed %s, which its file says is %s there", name, id, o)
			}
		}
		// The mark: once at most, on the attempt the file says, and only
		// for items that reach it; a retry resumes after it.
		for id, attempts := range obs.marked[j] {
			it, ok := byID[id]
			if !ok || !put[qname(j)][id] {
				v.Errorf("%s marked %s, never put into %s", name, id, qname(j))
				continue
			}
			reach, attempt := c.stages[j].marks(it.n)
			if len(attempts) != 1 || !reach || c.stages[j].when.match(it.n) || attempts[0] != strconv.Itoa(attempt) {
				v.Errorf("%s marked %s on attempts %v; the file says reach %v, on attempt %d, filtered %v",
					name, id, attempts, reach, attempt, c.stages[j].when.match(it.n))
			}
		}
		// Emits: what went into the next queue is exactly what this
		// stage finished (it prints right after its emit).
		if j < len(c.stages)-1 {
			for id := range put[qname(j+1)] {
				if obs.printed[j][id] == 0 {
					v.Errorf("%s emitted %s into %s but did not finish it", name, id, qname(j+1))
				}
			}
			for id := range obs.printed[j] {
				if !put[qname(j+1)][id] {
					v.Errorf("%s finished %s without emitting it into %s", name, id, qname(j+1))
				}
			}
		}
		// The queue's ledger against the outputs.
		q, _ := c.queueLedger(res, qname(j))
		filterable, failable := 0, 0
		for id := range put[qname(j)] {
			switch c.outcome(j, byID[id].n) {
			case "filtered":
				filterable++
			case "failed":
				failable++
			}
		}
		if q.Ledger.Done != int64(len(obs.printed[j])) || q.Ledger.Filtered > int64(filterable) || q.Ledger.Failed > int64(failable) {
			v.Errorf("queue %s: ledger %s, but %d printed by %s, %d could be filtered, %d could fail",
				qname(j), q.Ledger, len(obs.printed[j]), name, filterable, failable)
		}
	}
	// Dead letters: each item at most once, from the stage that failed it.
	for key := range put["dead"] {
		f := strings.Fields(key)
		j, _ := strconv.Atoi(strings.TrimPrefix(f[0], "s"))
		it, ok := byID[f[1]]
		switch {
		case !ok || j < 1 || j > len(c.stages):
			v.Errorf("dead letter of unknown origin %q", key)
		case c.stages[j-1].then != "dead_letter":
			v.Errorf("dead letter %q from a stage whose on_error is %s", key, c.stages[j-1].then)
		case !put[qname(j-1)][f[1]] || c.outcome(j-1, it.n) != "failed":
			v.Errorf("dead letter %q: the item never reached s%d, or its file says it does not fail there", key, j)
		}
	}
	for k, times := range obs.dead {
		if times > 1 || !put["dead"][k.stage+" "+k.id] {
			v.Errorf("morgue printed %v %d times, put %v", k, times, put["dead"][k.stage+" "+k.id])
		}
		j, _ := strconv.Atoi(strings.TrimPrefix(k.stage, "s"))
		if j >= 1 && j <= len(c.stages) && obs.letterAttempts[k] != strconv.Itoa(c.stages[j-1].attempts) {
			v.Errorf("dead letter %v says %s attempts, its stage makes %d", k, obs.letterAttempts[k], c.stages[j-1].attempts)
		}
	}
	if dq, ok := c.queueLedger(res, "dead"); ok && dq.Ledger.Done != int64(len(obs.dead)) {
		v.Errorf("queue dead: ledger %s, %d printed", dq.Ledger, len(obs.dead))
	}

	if !c.complete(res) {
		return
	}
	// The run ended by itself (or deadlocked with every item handled,
	// under `none`): every item was made, and each met its fate.
	if l := res.Total; l.Abandoned != 0 {
		v.Errorf("run ended by itself (stop %q) with %d abandoned", res.Stop, l.Abandoned)
	}
	for k, p := range c.producers {
		if got := c.stage(res, fmt.Sprintf("p%d", k)).Produced; got != int64(p.count*p.replicas) {
			v.Errorf("producer p%d made %d items, want %d", k, got, p.count*p.replicas)
		}
	}
	for _, it := range all {
		j, _ := c.fate(it.n)
		for s := 0; s <= j; s++ {
			reach, _ := c.stages[s].marks(it.n)
			if got := len(obs.marked[s][it.id]); reach && !c.stages[s].when.match(it.n) && got != 1 {
				v.Errorf("s%d marked %s %d times, want once", s+1, it.id, got)
			}
		}
	}
	want, wantDead, wantL := c.expect()
	for j := range c.stages {
		if got := mapKeys(obs.printed[j]); !slices.Equal(got, want[j]) {
			v.Errorf("s%d printed %d items %v\nwant %d: %v", j+1, len(got), got, len(want[j]), want[j])
		}
	}
	if got := sortedLetters(mapKeys(obs.dead)); !slices.Equal(got, wantDead) {
		v.Errorf("morgue printed %v, want %v", got, wantDead)
	}
	if res.Total != wantL {
		v.Errorf("ledger %s\nwant   %s", res.Total, wantL)
	}
}

// expect is what a run that handles every item does: the ids each stage
// finishes (sorted), the dead letters, and the ledger.
func (c *propCase) expect() (want [][]string, dead []letterKey, l observe.Ledger) {
	want = make([][]string, len(c.stages))
	for _, it := range c.items() {
		j, how := c.fate(it.n)
		for s := range j {
			want[s] = append(want[s], it.id)
		}
		switch how {
		case "done":
			want[j] = append(want[j], it.id)
		case "filtered":
			l.Filtered++
		case "failed":
			l.Failed++
			switch c.stages[j].then {
			case "skip":
				l.Skipped++
			case "dead_letter":
				l.DeadLettered++
				dead = append(dead, letterKey{fmt.Sprintf("s%d", j+1), it.id})
			}
		}
	}
	for j := range want {
		slices.Sort(want[j])
		l.Done += int64(len(want[j]))
	}
	l.Done += l.DeadLettered // the letters, done by the morgue
	l.Produced = l.Done + l.Filtered + l.Failed
	return want, sortedLetters(dead), l
}

func sortedLetters(ks []letterKey) []letterKey {
	slices.SortFunc(ks, func(a, b letterKey) int { return strings.Compare(a.stage+" "+a.id, b.stage+" "+b.id) })
	return ks
}

func mapKeys[K comparable](m map[K]int) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	if s, ok := any(out).([]string); ok {
		slices.Sort(s)
	}
	return out
}

// complete: the run was not stopped early, so every item was handled.
// A deadlock under `none` is detected only once every producer finished
// and every queue is empty.
func (c *propCase) complete(res *observe.Result) bool {
	return res.Stop == "" || res.Stop == "deadlock"
}

// checkError: the error says how the run ended, and the file decides
// that whenever nothing external (deadline, signal) interferes.
func (c *propCase) checkError(v *verdict, res *observe.Result, err error) {
	l := res.Total
	stopped := l.Failed - l.Skipped - l.DeadLettered
	var dl *pipeline.DeadlockError
	var fe *pipeline.FailedError
	switch {
	case errors.As(err, &dl):
		if c.strategy != "none" {
			v.Errorf("deadlock under strategy %s: %v", c.strategy, err)
		}
		if res.Stop != "deadlock" && res.Stop != "interrupt" { // a signal may land as the run ends
			v.Errorf("deadlock error, but stop %q", res.Stop)
		}
	case errors.Is(err, pipeline.ErrInterrupted):
		if len(c.signals) == 0 || res.Stop != "interrupt" {
			v.Errorf("ErrInterrupted with %d signals, stop %q", len(c.signals), res.Stop)
		}
	case errors.As(err, &fe):
		if fe.Failed != stopped || fe.Abandoned != l.Abandoned || (stopped == 0 && l.Abandoned == 0) {
			v.Errorf("%v: but %d items failed with stop, %d abandoned", err, stopped, l.Abandoned)
		}
		if res.Stop != "" && res.Stop != "failure" && res.Stop != "deadline" {
			v.Errorf("FailedError, but stop %q", res.Stop)
		}
		if res.Stop == "" && (stopped == 0 || l.Abandoned != 0) {
			v.Errorf("FailedError for a run that ended by itself: %d stopped, %d abandoned", stopped, l.Abandoned)
		}
	case err == nil:
		if stopped != 0 || l.Abandoned != 0 {
			v.Errorf("nil error, but %d items failed with stop, %d abandoned", stopped, l.Abandoned)
		}
		if res.Stop != "" && res.Stop != "deadline" {
			v.Errorf("nil error, but stop %q", res.Stop)
		}
	default:
		v.Errorf("unexpected error %T: %v", err, err)
	}
	switch res.Stop {
	case "", "failure":
	case "deadline":
		if c.deadline == 0 {
			v.Errorf("stopped at a deadline the file does not have")
		}
	case "interrupt":
		if len(c.signals) == 0 {
			v.Errorf("interrupted without a signal")
		}
	case "deadlock":
		if dl == nil {
			v.Errorf("stop %q, err %v", res.Stop, err)
		}
	default:
		v.Errorf("unknown stop %q", res.Stop)
	}
	if res.Stop == "failure" && stopped == 0 {
		v.Errorf("stopped after a failure, but no item failed with on_error: stop")
	}
	if c.deadline > 0 || len(c.signals) > 0 {
		return
	}
	// Nothing external: the file alone decides.
	predicted := c.stopFailurePredicted()
	switch {
	case c.strategy == "none" && !predicted:
		if dl == nil {
			v.Errorf("strategy none without deadline or signal: err = %v, want a deadlock", err)
		}
	case c.strategy == "none":
		if dl == nil && fe == nil {
			v.Errorf("strategy none, an item fails with stop: err = %v, want a deadlock or a failure", err)
		}
	case !predicted:
		if err != nil || res.Stop != "" {
			v.Errorf("err = %v, stop %q; want a clean run", err, res.Stop)
		}
	default:
		if fe == nil || fe.Failed < 1 {
			v.Errorf("err = %v; want a FailedError, an item fails with on_error: stop", err)
		}
	}
}

// checkTiming: a deadline or signal ends the run within the grace period,
// a second signal at once; a complete run took at least its producers'
// delays.
func (c *propCase) checkTiming(v *verdict, res *observe.Result, err error) {
	if c.deadline > 0 && res.Elapsed > c.deadline+c.grace {
		v.Errorf("took %s, past deadline %s + grace %s", res.Elapsed, c.deadline, c.grace)
	}
	if len(c.signals) > 0 && res.Elapsed > c.signals[0]+c.grace {
		v.Errorf("took %s, past the signal at %s + grace %s", res.Elapsed, c.signals[0], c.grace)
	}
	if len(c.signals) > 1 && res.Elapsed > c.signals[1] {
		v.Errorf("took %s, past the second signal at %s", res.Elapsed, c.signals[1])
	}
	// A run whose stop began at a known time and that ended before its
	// grace period ran out drained every queue: nothing is abandoned but
	// the items producers were putting when told to stop.
	l := res.Total
	began := time.Duration(-1)
	switch res.Stop {
	case "deadline":
		if res.Elapsed < c.deadline {
			v.Errorf("stopped at the deadline %s after %s", c.deadline, res.Elapsed)
		}
		began = c.deadline
	case "interrupt":
		if len(c.signals) > 0 && res.Elapsed < c.signals[0] {
			v.Errorf("interrupted after %s, the signal came at %s", res.Elapsed, c.signals[0])
		}
		if l.Failed == l.Skipped+l.DeadLettered && (c.deadline == 0 || c.deadline > c.signals[0]) &&
			(len(c.signals) == 1 || res.Elapsed < c.signals[1]) {
			began = c.signals[0] // no failure, no deadline, no second signal first
		}
	case "":
		if c.deadline > 0 && res.Elapsed > c.deadline {
			v.Errorf("ended by itself after %s, past its deadline %s", res.Elapsed, c.deadline)
		}
		if len(c.signals) > 0 && res.Elapsed > c.signals[0] {
			v.Errorf("ended by itself after %s, past the signal at %s", res.Elapsed, c.signals[0])
		}
	}
	if n := l.Abandoned - int64(c.putFailures(res).producers); began >= 0 && res.Elapsed < began+c.grace && n > 0 {
		v.Errorf("stop began at %s, run ended at %s within grace %s, yet %d items abandoned after their producer put them",
			began, res.Elapsed, c.grace, n)
	}
	if c.complete(res) {
		for _, p := range c.producers {
			if min := time.Duration(p.count) * p.delay; res.Elapsed < min {
				v.Errorf("took %s, less than a producer's delays %s", res.Elapsed, min)
			}
		}
	}
}

// checkRetriesAndStall: a run that handled every item retried each one
// exactly as its stage's on_error says; a deadlock names every consumer
// replica, waiting to take from its queue, and nothing else.
func (c *propCase) checkRetriesAndStall(v *verdict, res *observe.Result, err error, stderr string) {
	var dl *pipeline.DeadlockError
	if errors.As(err, &dl) {
		var got, want []string
		for _, w := range dl.Stall.Waits {
			got = append(got, w.Worker+" "+w.Op+" "+w.Queue)
		}
		add := func(name string, replicas int, queue string) {
			for r := 1; r <= replicas; r++ {
				worker := name
				if replicas > 1 {
					worker = fmt.Sprintf("%s-%d", name, r)
				}
				want = append(want, worker+" take from "+queue)
			}
		}
		for j, s := range c.stages {
			add(fmt.Sprintf("s%d", j+1), s.replicas, qname(j))
		}
		add("morgue", c.morgue, "dead")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			v.Errorf("deadlock waits %q, want %q", got, want)
		}
	}
	if !c.complete(res) {
		return
	}
	want := 0
	for _, it := range c.items() {
		for j := range c.stages {
			s := &c.stages[j]
			if s.when.match(it.n) {
				break
			}
			if s.fails(it.n) {
				want += s.attempts - 1
				break
			}
			if s.flaky.match(it.n) {
				want += s.flakyN - 1
			}
		}
	}
	if got := strings.Count(stderr, "pcrun: retry: "); got != want {
		v.Errorf("%d retries, the file says %d", got, want)
	}
}

// checkSpill: the spill file holds every abandoned item but the emits cut
// short (their input item is spilled instead), each once, and only items
// that really were abandoned; producer records say where each producer
// replica stopped.
func (c *propCase) checkSpill(v *verdict, res *observe.Result, obs *observed, data []byte) {
	var items []pipeline.SpillRecord
	next := map[string]int{} // "pK.R" -> next
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec pipeline.SpillRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			v.Errorf("spill line %d: %v: %s", i+1, err, line)
			continue
		}
		switch rec.Kind {
		case "item":
			items = append(items, rec)
		case "producer":
			key := fmt.Sprintf("%s.%d", rec.Stage, rec.Replica)
			if _, dup := next[key]; dup {
				v.Errorf("spill: producer %s twice", key)
			}
			next[key] = rec.Next
		default:
			v.Errorf("spill line %d: kind %q", i+1, rec.Kind)
		}
	}
	if len(items) != res.Spilled {
		v.Errorf("spill file has %d items, Result.Spilled = %d", len(items), res.Spilled)
	}
	pf := c.putFailures(res)
	emits := 0
	for _, e := range pf.emits {
		emits += e
	}
	if want := res.Total.Abandoned - int64(emits); int64(len(items)) != want {
		v.Errorf("spilled %d items, want %d: %d abandoned less %d emits cut short", len(items), want, res.Total.Abandoned, emits)
	}
	put := map[string]map[string]bool{}
	for q, keys := range obs.puts {
		put[q] = map[string]bool{}
		for _, k := range keys {
			put[q][k] = true
		}
	}
	ids := map[uint64]bool{}
	spilled := map[string]map[string]bool{} // queue -> item key
	reasons := map[string]bool{}
	for _, rec := range items {
		reasons[rec.Reason] = true
		if ids[rec.ID] {
			v.Errorf("spill: id %d twice", rec.ID)
		}
		ids[rec.ID] = true
		// The reason is what began the stop: the stop itself, or what a
		// signal interrupted.
		if ok := rec.Reason == res.Stop || res.Stop == "interrupt" && (rec.Reason == "failure" || rec.Reason == "deadline"); !ok {
			v.Errorf("spill: item %d abandoned for reason %q, the run stopped for %q", rec.ID, rec.Reason, res.Stop)
		}
		m, _ := rec.Item.(map[string]any)
		var key string
		if rec.Queue == "dead" {
			inner, _ := m["item"].(map[string]any)
			key = fmt.Sprintf("%v %v", m["stage"], inner["id"])
		} else {
			key = fmt.Sprint(m["id"])
		}
		if spilled[rec.Queue] == nil {
			spilled[rec.Queue] = map[string]bool{}
		}
		if spilled[rec.Queue][key] {
			v.Errorf("spill: %s from %s twice", key, rec.Queue)
		}
		spilled[rec.Queue][key] = true
	}
	if len(reasons) > 1 {
		v.Errorf("spill: items abandoned for several reasons %v", reasons)
	}
	// Per item: whatever went into a queue was finished by its reader,
	// filtered or failed there as the file says, or spilled; never two
	// of these. Only a producer's put may be spilled without a put.
	byID := map[string]propItem{}
	for _, it := range c.items() {
		byID[it.id] = it
	}
	var failedAt [][]string
	for j := range c.stages {
		q := qname(j)
		var filtered, failed, abandoned int64
		var failedIDs []string
		for id := range put[q] {
			printed, sp := obs.printed[j][id] > 0, spilled[q][id]
			switch {
			case printed && sp:
				v.Errorf("%s both finished by s%d and spilled from %s", id, j+1, q)
			case printed:
			case sp:
				abandoned++
			default:
				switch c.outcome(j, byID[id].n) {
				case "filtered":
					filtered++
				case "failed":
					failed++
					failedIDs = append(failedIDs, id)
				default:
					v.Errorf("%s went into %s and then nowhere: not finished, filtered, failed or spilled", id, q)
				}
			}
		}
		failedAt = append(failedAt, failedIDs)
		for id := range spilled[q] {
			if !put[q][id] && j > 0 {
				v.Errorf("%s spilled from %s, never put there (an emit cut short is not spilled)", id, q)
			}
		}
		ql, _ := c.queueLedger(res, q)
		if ql.Ledger.Filtered != filtered || ql.Ledger.Failed != failed || ql.Ledger.Abandoned != abandoned {
			v.Errorf("queue %s: ledger %s; the items say %d filtered, %d failed, %d abandoned", q, ql.Ledger, filtered, failed, abandoned)
		}
	}
	// Each item failed at a dead-letter stage was printed by the morgue
	// or spilled as a letter, once.
	for j, ids := range failedAt {
		if c.stages[j].then != "dead_letter" {
			continue
		}
		for _, id := range ids {
			k := letterKey{fmt.Sprintf("s%d", j+1), id}
			printed, sp := obs.dead[k] > 0, spilled["dead"][k.stage+" "+k.id]
			if printed == sp {
				v.Errorf("letter %v: printed by morgue %v, spilled %v; want exactly one", k, printed, sp)
			}
		}
	}
	// Producers: replica R made items 0..next-1, each put or spilled.
	var made int64
	for k, p := range c.producers {
		for r := 1; r <= p.replicas; r++ {
			key := fmt.Sprintf("p%d.%d", k, r)
			n, ok := next[key]
			if !ok {
				v.Errorf("spill: no producer record for %s", key)
				continue
			}
			made += int64(n)
			for i := range p.count {
				id := fmt.Sprintf("%s.%d", key, i)
				if in := put["q0"][id] || spilled["q0"][id]; in != (i < n) {
					v.Errorf("spill: %s next=%d, but item %d put or spilled: %v", key, n, i, in)
				}
			}
		}
	}
	var produced int64
	for k := range c.producers {
		produced += c.stage(res, fmt.Sprintf("p%d", k)).Produced
	}
	if made != produced {
		v.Errorf("spill: producers' next add up to %d, they made %d", made, produced)
	}
}
