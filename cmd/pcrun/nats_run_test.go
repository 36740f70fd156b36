package main

import (
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
	natsq "github.com/pcrun/pcrun/queue/nats"
	"github.com/pcrun/pcrun/stages"
)

// The whole run across real processes: each process's record on the
// broker (its part of the ledger, its heartbeat), `pcrun status` and
// `status --wait` reading them, a writer process that dies, and a run
// started after an earlier one ended.

// statusJSON runs `pcrun status --format json` (with --wait if wait) on
// the e2e file, with flags, and returns its exit code and report.
func statusJSON(t *testing.T, file, url string, wait bool, flags ...string) (int, Status) {
	t.Helper()
	args := append([]string{"status", "--format", "json", "--set", "url=" + url}, flags...)
	if wait {
		args = append(args, "--wait")
	}
	p := startPcrun(t, append(args, file)...)
	p.wait(t, 90*time.Second)
	var st Status
	if err := json.Unmarshal([]byte(p.stdout.text()), &st); err != nil {
		t.Fatalf("status: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.text(), p.stderr.text())
	}
	return p.code, st
}

// Status is the JSON of `pcrun status`, as far as these tests read it.
type Status struct {
	Run *natsq.RunStatus `json:"run"`
}

// TestNatsE2EWholeRun: `status --wait`, started before any process of
// the run, waits for the run to end and exits 0; the run's ledger is the
// sum of the three processes' parts, and the last consumer to finish
// prints the whole run in its summary.
func TestNatsE2EWholeRun(t *testing.T) {
	t.Parallel()
	const n = 20
	file, url := e2eSetup(t, n, "10ms", "")
	waiter := make(chan Status, 1)
	codes := make(chan int, 1)
	go func() {
		code, st := statusJSON(t, file, url, true)
		codes <- code
		waiter <- st
	}()
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	prod := startProducer(t, file, url)
	exitsOK(t, "producer", prod)
	exitsOK(t, "consumer 1", c1)
	exitsOK(t, "consumer 2", c2)
	var st Status
	select {
	case code := <-codes:
		st = <-waiter
		if code != exitcode.OK {
			t.Errorf("status --wait: exit %d, want 0", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("status --wait did not return within 60s of the run's end")
	}
	run := st.Run
	if run == nil || !run.Ended || run.Code != 0 || len(run.Processes) != 3 {
		t.Fatalf("status --wait: run %+v; want ended, code 0, 3 processes", run)
	}
	want := observe.Whole{Processes: 3, Produced: n, Done: n}
	if run.Ledger != want {
		t.Errorf("whole run %+v, want %+v", run.Ledger, want)
	}
	for _, p := range run.Processes {
		if p.Live() != "finished" || p.PID == 0 || p.Host == "" || len(p.Stages) != 1 {
			t.Errorf("process %+v: want finished, with host, pid and its one stage", p)
		}
	}
	var last *observe.Whole
	for _, c := range []*proc{c1, c2} {
		res := summary(t, c)
		if res.Run == nil {
			t.Errorf("a consumer's summary has no whole run")
			continue
		}
		if res.Run.Produced != n {
			t.Errorf("a consumer's whole run: %+v, want %d produced", res.Run, n)
		}
		if res.Run.Running == 0 {
			last = res.Run
		}
	}
	if last == nil || *last != want {
		t.Errorf("the last consumer to finish saw the whole run as %+v, want %+v", last, want)
	}
}

// TestNatsE2EKilledProducer: the producer process is SIGKILLed mid-run.
// Its heartbeat stops; the consumers take it for dead once its lease has
// passed, drain what it put, and exit 1 naming it, instead of waiting
// forever; `status --wait` exits 1 and shows it gone.
func TestNatsE2EKilledProducer(t *testing.T) {
	t.Parallel()
	file, url := e2eSetup(t, 1000, "20ms", "")
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	prod := startProducer(t, file, url)
	c1.waitFor(t, c1.stdout, "the first consumer's items", 3, ateRE.MatchString, 30*time.Second)
	prod.signal(t, syscall.SIGKILL)
	prod.wait(t, 10*time.Second)
	for i, c := range []*proc{c1, c2} {
		c.wait(t, 60*time.Second)
		stderr := c.stderr.text()
		if c.code != exitcode.Failed || !strings.Contains(stderr, "writer p (of queue main) in process ") ||
			!strings.Contains(stderr, "stopped without finishing") {
			t.Errorf("consumer %d: exit %d, want 1 with the lost writer named; stderr:\n%s", i+1, c.code, stderr)
		}
	}
	code, st := statusJSON(t, file, url, true)
	if code != exitcode.Failed || st.Run == nil || st.Run.Code != 1 || st.Run.Ledger.Gone != 1 {
		t.Fatalf("status --wait: exit %d, run %+v; want 1, one process gone", code, st.Run)
	}
	for _, p := range st.Run.Processes {
		if slices.Equal(p.Stages, []string{"p"}) && p.Live() != "gone" {
			t.Errorf("the producer's record: %+v, want gone", p)
		}
	}
	text := startPcrun(t, "status", "--set", "url="+url, file)
	text.wait(t, 30*time.Second)
	if out := text.stdout.text(); !strings.Contains(out, "ended (exit 1)") || !strings.Contains(out, "gone since ") {
		t.Errorf("status: want the run ended (exit 1) and the producer gone since a time:\n%s", out)
	}
	t.Logf("whole run: %s", st.Run.Ledger)
}

// TestNatsE2ENextRun: after a run has ended, consumers started before the
// next run's producer wait for it (saying so) rather than finding the
// earlier run's queue ended; every item of the second run is consumed
// once.
func TestNatsE2ENextRun(t *testing.T) {
	t.Parallel()
	const n = 10
	file, url := e2eSetup(t, n, "1ms", "")
	c := startConsumer(t, file, url)
	waitReaders(t, url, c)
	exitsOK(t, "first producer", startProducer(t, file, url))
	exitsOK(t, "first consumer", c)
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	for i, c := range []*proc{c1, c2} {
		select {
		case <-c.done:
			t.Fatalf("consumer %d of the second run exited (code %d) before its producer started:\n%s", i+1, c.code, c.stderr.text())
		default:
		}
	}
	prod := startProducer(t, file, url)
	exitsOK(t, "second producer", prod)
	exitsOK(t, "consumer 1", c1)
	exitsOK(t, "consumer 2", c2)
	ate := slices.Concat(c1.stdout.items(ateRE), c2.stdout.items(ateRE))
	if got := sorted(ate); !slices.Equal(got, sorted(numberedItems(n))) {
		t.Errorf("the second run consumed %v, want each of %d items once", got, n)
	}
	said := c1.stderr.text() + c2.stderr.text()
	if !strings.Contains(said, "the previous run on ") || !strings.Contains(said, "waiting for p, which write to it, to start") {
		t.Errorf("the consumers did not say they started a new run and wait for its producer:\n%s", said)
	}
}

// TestNatsE2ERunID: `--run-id` (or PCRUN_RUN_ID) names a run; status
// reports the run it is given, and an id that cannot name streams is bad
// usage.
func TestNatsE2ERunID(t *testing.T) {
	t.Parallel()
	const n = 5
	file, url := e2eSetup(t, n, "1ms", "")
	run := startPcrun(t, "run", "--run-id", "r1", "--set", "url="+url, file)
	exitsOK(t, "the run r1", run)
	code, st := statusJSON(t, file, url, false, "--run-id", "r1")
	if code != exitcode.OK || st.Run == nil || !st.Run.Ended || st.Run.Ledger != (observe.Whole{Processes: 1, Produced: n, Done: n}) {
		t.Errorf("status --run-id r1: exit %d, run %+v; want the run ended with %d items done", code, st.Run, n)
	}
	if _, st = statusJSON(t, file, url, false); st.Run == nil || len(st.Run.Processes) != 0 {
		t.Errorf("status of the default run: %+v, want no process", st.Run)
	}
	bad := startPcrun(t, "run", "--run-id", "a.b", "--set", "url="+url, file)
	bad.wait(t, 30*time.Second)
	if bad.code != exitcode.Usage || !strings.Contains(bad.stderr.text(), `invalid run id "a.b"`) {
		t.Errorf("--run-id a.b: exit %d, stderr:\n%s", bad.code, bad.stderr.text())
	}
}

// TestNatsE2EResumedProducer: the producer process is SIGKILLed mid-run;
// the consumers find it gone and exit 1. A producer and consumers
// restarted with --resume-run continue the same run: the new producer
// starts where the dead one's record says it got (less the publishes
// that may not have been stored), the items the dead one had stored are
// not stored again (same message ids), and every item is consumed
// exactly once over both rounds. status --wait then exits 0: the lost
// writer was resumed.
func TestNatsE2EResumedProducer(t *testing.T) {
	t.Parallel()
	const n = 600 // at 20ms each in 4 workers: 3s, several heartbeats
	file, url := e2eSetup(t, n, "20ms", "")
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	prod := startProducer(t, file, url)
	// Once its record on the broker says how far it got, and some way on.
	waitPosition(t, url, 150) // past the 128 items a resumed producer makes again
	prod.signal(t, syscall.SIGKILL)
	prod.wait(t, 10*time.Second)
	for i, c := range []*proc{c1, c2} {
		c.wait(t, 60*time.Second)
		if c.code != exitcode.Failed {
			t.Fatalf("consumer %d of the first round: exit %d, want 1\n%s", i+1, c.code, c.stderr.text())
		}
	}
	// The new consumers first: they wait for the lost writer to be
	// taken over instead of finding the queue ended.
	c3 := startPcrun(t, "run", "--only", "c", "--resume-run", "--summary", "json", "--set", "url="+url, file)
	c4 := startPcrun(t, "run", "--only", "c", "--resume-run", "--summary", "json", "--set", "url="+url, file)
	waitReaders(t, url, c3, c4)
	again := startPcrun(t, "run", "--only", "p", "--resume-run", "--summary", "json", "--set", "url="+url, file)
	exitsOK(t, "the resumed producer", again)
	exitsOK(t, "consumer 3", c3)
	exitsOK(t, "consumer 4", c4)
	var ate []string
	for _, c := range []*proc{c1, c2, c3, c4} {
		ate = append(ate, c.stdout.items(ateRE)...)
	}
	if got := sorted(ate); !slices.Equal(got, sorted(numberedItems(n))) {
		missing, twice := diffOnce(got, numberedItems(n))
		t.Errorf("consumed %d items over both rounds, want each of %d once: missing %v, twice %v", len(got), n, missing, twice)
	}
	res := summary(t, again)
	if res.Total.Produced >= n || res.Total.Produced == 0 {
		t.Errorf("the resumed producer made %d items: want it to start where the dead one got, not at 0", res.Total.Produced)
	}
	code, st := statusJSON(t, file, url, true)
	if code != exitcode.OK || st.Run == nil || st.Run.Ledger.Done != n || st.Run.Ledger.Produced != n || st.Run.Ledger.InFlight != 0 {
		t.Errorf("status --wait: exit %d, run %+v; want 0 and the whole run's %d items produced and done once", code, st.Run, n)
	}
	t.Logf("the resumed producer made %d items; whole run: %s", res.Total.Produced, st.Run.Ledger)
}

// waitPosition waits until the record of the e2e producer's process on
// the broker says its replica got past item min.
func waitPosition(t *testing.T, url string, min int64) {
	t.Helper()
	queues := []*stages.Queue{{Name: e2eQueue, Backend: config.NATS, URL: url}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		run, err := natsq.Run(t.Context(), e2ePipeline, queues, 5*time.Second)
		for _, p := range run.Processes {
			if p.Part.Positions["p"][1] > min {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after 60s: the producer's record on the broker at position %d or more (run %+v, %v)", min, run, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// diffOnce returns the items of want missing from got, and those got
// has more than once.
func diffOnce(got, want []string) (missing, twice []string) {
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		switch count[w] {
		case 0:
			missing = append(missing, w)
		case 1:
		default:
			twice = append(twice, w)
		}
	}
	return missing, twice
}

// TestNatsE2ECutShort: the producer process is interrupted while it waits
// to put into the full queue, so its items from then on are abandoned.
// The consumers drain what was put; their own parts go well, yet they exit
// 1, saying the run was cut short elsewhere: no process reports success
// for a run that lost items. status --wait exits 130.
func TestNatsE2ECutShort(t *testing.T) {
	t.Parallel()
	file, url := e2eSetup(t, 1000, "2s", "")
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	prod := startProducer(t, file, url)
	// The queue holds 4 and each of the 4 consumer replicas holds one for
	// 2s: once all four have started one, the producer waits in its
	// fifth put, and does for all but an instant of every 2s.
	c1.waitFor(t, c1.stdout, "the first consumer's starts", 2, startRE.MatchString, 30*time.Second)
	c2.waitFor(t, c2.stdout, "the second consumer's starts", 2, startRE.MatchString, 30*time.Second)
	prod.signal(t, syscall.SIGINT)
	prod.wait(t, 30*time.Second)
	if prod.code != exitcode.Interrupted {
		t.Fatalf("producer: exit %d, want 130\n%s", prod.code, prod.stderr.text())
	}
	if res := summary(t, prod); res.Total.Abandoned == 0 {
		t.Fatalf("the producer abandoned nothing (%s): the test needs it interrupted in a put", res.Total)
	}
	for i, c := range []*proc{c1, c2} {
		c.wait(t, 60*time.Second)
		if c.code != exitcode.Failed || !strings.Contains(c.stderr.text(), "the run was cut short elsewhere") {
			t.Errorf("consumer %d: exit %d, want 1 saying the run was cut short; stderr:\n%s", i+1, c.code, c.stderr.text())
		}
	}
	if code, st := statusJSON(t, file, url, true); code != exitcode.Interrupted {
		t.Errorf("status --wait: exit %d, want 130; run %+v", code, st.Run)
	}
}
