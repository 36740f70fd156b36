package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
	natsq "github.com/pcrun/pcrun/queue/nats"
)

// End to end across real processes: `pcrun broker`, one producer process
// and two consumer processes of one pipeline, as on three hosts.
//
// The consumers are started first, and the producer only once both of them
// are registered in the queue's roster on the broker and fetching from it
// (waitReaders): a consumer process started after the producer could find
// every item taken by the other one before it even registered (its start
// takes longer than the whole run on a busy machine), and the tests would
// then see one consumer do nothing.
//
// ack_wait is 4s: a consumer tells the broker every ack_wait/2 that it is
// still working on the items it holds, and they are delivered again when
// that word is late. With 1s, the survivor of TestNatsE2EKilledConsumer,
// held up for half a second on a busy machine, consumed an item twice.

const e2eYAML = `
name: e2e
vars: {url: "nats://127.0.0.1:1", step: %s, marks: ""}
queues:
  main: {backend: nats, url: "${url}", capacity: 4, ack_wait: 4s}
producers:
  - {name: p, count: %d, item: "item ${i}", print: "${name} Produced ${item}"}
consumers:
  - name: c
    replicas: 2
    do:
      - print: "${worker} start ${item}"
      - sleep: "${step}"
%s      - print: "${worker} Ate ${item}"
`

// markStep, among a consumer's steps, leaves a file named after the item in
// the directory of the var marks once the item's work is done, before it is
// acknowledged. A file written by a program pcrun waits for is on disk when
// the step ends, where a printed line may still sit in pcrun's stdout buffer
// (lost on SIGKILL): an item without its mark was surely not acknowledged.
const markStep = `      - exec: [touch, "${marks}/${item}"]
`

const (
	e2ePipeline = "e2e"
	e2eQueue    = "main"
)

var startRE = regexp.MustCompile(`^\S+ start (.+)$`)

// e2eSetup starts a broker and writes the pipeline file: count items, each
// taking step in a consumer (the var step), with extra steps before its
// last one.
func e2eSetup(t *testing.T, count int, step, extra string) (file, url string) {
	t.Helper()
	_, url, _ = startBroker(t, "--port", "0", "--memory")
	file = writeFile(t, "e2e.yaml", fmt.Sprintf(e2eYAML, step, count, extra))
	return file, url
}

// startConsumer starts a process running the consumer c, with --set for
// each of sets (NAME=VALUE).
func startConsumer(t *testing.T, file, url string, sets ...string) *proc {
	t.Helper()
	args := []string{"run", "--only", "c", "--summary", "json", "--set", "url=" + url}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return startPcrun(t, append(args, file)...)
}

// startProducer starts the producer process. Without --fresh: the broker is
// new, and the consumers started first have begun the run's generation,
// which it joins (a --fresh run would reset it under them).
func startProducer(t *testing.T, file, url string) *proc {
	t.Helper()
	return startPcrun(t, "run", "--only", "p", "--summary", "json", "--set", "url="+url, file)
}

// waitReaders waits until every one of readers (pcrun processes reading
// the e2e queue) is registered in the queue's roster on the broker at url,
// and the queue's consumer has a pull request waiting from each (one per
// process: a process's pump has one fetch under way at a time): each is
// ready to take items, and the broker hands items out in turn to the
// requests waiting. It fails t if a reader exits first, or after a timeout,
// saying what was still missing.
func waitReaders(t *testing.T, url string, readers ...*proc) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	stream := "PCRUN_" + e2ePipeline + "_" + e2eQueue
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, r, rerr := natsq.ReadRoster(ctx, js, e2ePipeline, e2eQueue)
		waiting, werr := -1, error(nil)
		if c, err := js.Consumer(ctx, stream, "pcrun"); err != nil {
			werr = err
		} else if info, err := c.Info(ctx); err != nil {
			werr = err
		} else {
			waiting = info.NumWaiting
		}
		cancel()
		var missing []string
		for i, p := range readers {
			if !inRoster(r, p) {
				missing = append(missing, fmt.Sprintf("reader %d (pid %d)", i+1, p.cmd.Process.Pid))
			}
		}
		if len(missing) == 0 && waiting >= len(readers) {
			return
		}
		for i, p := range readers {
			select {
			case <-p.done:
				t.Fatalf("reader %d exited (code %d) before it was registered and fetching from queue %s", i+1, p.code, e2eQueue)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: each of %d reader processes registered in the roster of queue %s and fetching "+
				"(a pull request waiting on consumer pcrun of stream %s): not registered %v (roster %+v, %v); "+
				"pull requests waiting %d (%v)", timeout, len(readers), e2eQueue, stream, missing, r, rerr, waiting, werr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inRoster reports whether r lists p (host/pid/id) as a reader.
func inRoster(r *natsq.Roster, p *proc) bool {
	if r == nil {
		return false
	}
	for id := range r.Readers {
		if parts := strings.Split(id, "/"); len(parts) == 3 && parts[1] == strconv.Itoa(p.cmd.Process.Pid) {
			return true
		}
	}
	return false
}

// items returns the last group of each line of l that matches re: the item.
func (l *pipeLines) items(re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.all {
		if m := re.FindStringSubmatch(s); m != nil {
			out = append(out, m[len(m)-1])
		}
	}
	return out
}

// summary parses the JSON summary a process printed on stderr, after its
// notices, and checks that its part of the ledger balances.
func summary(t *testing.T, p *proc) observe.Result {
	t.Helper()
	text := p.stderr.text()
	i := strings.Index(text, "\n{\n")
	if strings.HasPrefix(text, "{\n") {
		i = -1
	} else if i < 0 {
		t.Fatalf("no JSON summary on stderr:\n%s", text)
	}
	var res observe.Result
	if err := json.Unmarshal([]byte(text[i+1:]), &res); err != nil {
		t.Fatalf("summary: %v\n%s", err, text)
	}
	if err := res.Balanced(); err != nil || !res.Shared {
		t.Errorf("summary: shared %v, %v", res.Shared, err)
	}
	return res
}

func exitsOK(t *testing.T, who string, p *proc) {
	t.Helper()
	p.wait(t, 30*time.Second)
	if p.code != exitcode.OK {
		t.Errorf("%s: exit %d, want 0", who, p.code)
	}
}

func numberedItems(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("item %d", i))
	}
	return out
}

// TestNatsE2EShare: one producer process and two consumer processes.
// Every item is consumed exactly once across the two, each prints its own
// part of the ledger (the producer's items handed off, the consumers'
// taken and done, adding up to the whole), and all exit 0.
func TestNatsE2EShare(t *testing.T) {
	t.Parallel()
	const n = 30
	file, url := e2eSetup(t, n, "20ms", "")
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	prod := startProducer(t, file, url)
	exitsOK(t, "producer", prod)
	exitsOK(t, "consumer 1", c1)
	exitsOK(t, "consumer 2", c2)
	ate1, ate2 := c1.stdout.items(ateRE), c2.stdout.items(ateRE)
	if got := sorted(slices.Concat(ate1, ate2)); !slices.Equal(got, sorted(numberedItems(n))) {
		t.Errorf("consumed %d items, want each of %d once: %v", len(got), n, got)
	}
	if len(ate1) == 0 || len(ate2) == 0 {
		t.Errorf("the consumers took %d and %d items: one did nothing", len(ate1), len(ate2))
	}
	t.Logf("consumer 1 took %d items, consumer 2 %d", len(ate1), len(ate2))
	if l := summary(t, prod); l.Total != (observe.Ledger{Produced: n, HandedOff: n}) || l.Received != nil {
		t.Errorf("producer's part: %+v, received %+v; want %d produced and handed off", l.Total, l.Received, n)
	}
	var taken int64
	for i, c := range []*proc{c1, c2} {
		res := summary(t, c)
		r := res.Received
		ate := int64(len(c.stdout.items(ateRE)))
		if r == nil || *r != (observe.Received{Taken: ate, Done: ate}) || res.Total != (observe.Ledger{}) || res.Queues[0].Redelivered != 0 {
			t.Errorf("consumer %d's part: %+v, received %+v, redelivered %d; want %d taken and done, nothing produced",
				i+1, res.Total, r, res.Queues[0].Redelivered, ate)
		} else {
			taken += r.Taken
		}
	}
	if taken != n {
		t.Errorf("the consumers' parts add up to %d taken, want %d", taken, n)
	}
}

// TestNatsE2EKilledConsumer: a consumer process killed with SIGKILL while
// it holds unacknowledged items. Those are delivered again to the other
// consumer once ack_wait has passed: nothing is lost, and the survivor
// counts the redeliveries. An item may be consumed twice only if the
// killed process had finished it (its ack may not have reached the
// broker).
//
// What the victim finished is read from the marks it left (markStep), not
// from its "Ate" lines: SIGKILL loses the lines still in its stdout buffer
// (docs/reliability.md), so an item it finished and acknowledged can lack
// its line, and would wrongly look unfinished.
func TestNatsE2EKilledConsumer(t *testing.T) {
	t.Parallel()
	const n, capacity = 12, 4
	file, url := e2eSetup(t, n, "200ms", markStep)
	survivor := startConsumer(t, file, url, "marks="+t.TempDir())
	// The victim's items take 1s, so that the item of its third start is
	// still being worked on when it is killed a moment after that line,
	// however busy the machine.
	victimMarks := t.TempDir()
	victim := startConsumer(t, file, url, "marks="+victimMarks, "step=1s")
	waitReaders(t, url, survivor, victim)
	prod := startProducer(t, file, url)
	// Its third start comes once it finished an item: it has finished
	// some and holds others.
	victim.waitFor(t, victim.stdout, "the victim's start", 3, startRE.MatchString, 30*time.Second)
	victim.signal(t, syscall.SIGKILL)
	victim.wait(t, 10*time.Second)
	// Every item the victim acknowledged had its mark before: the victim
	// wrote it before the ack, and has exited.
	finished := marks(t, victimMarks)
	exitsOK(t, "producer", prod)
	exitsOK(t, "survivor", survivor)

	started, printed := victim.stdout.items(startRE), victim.stdout.items(ateRE)
	for _, it := range printed {
		if !slices.Contains(finished, it) {
			t.Errorf("the victim printed that it ate %s but left no mark for it (marks %v)", it, finished)
		}
	}
	var inFlight []string // started and not finished when killed: never acknowledged
	for _, it := range started {
		if !slices.Contains(finished, it) {
			inFlight = append(inFlight, it)
		}
	}
	if len(inFlight) == 0 {
		t.Fatalf("the victim held no item when killed (started %v, finished %v)", started, finished)
	}
	ate := survivor.stdout.items(ateRE)
	if len(ate) != len(sorted(slices.Compact(sorted(ate)))) {
		t.Errorf("the survivor consumed an item twice: %v", sorted(ate))
	}
	if got := sorted(slices.Compact(sorted(slices.Concat(ate, finished)))); !slices.Equal(got, sorted(numberedItems(n))) {
		t.Errorf("items consumed: %v; want all %d (nothing lost)", got, n)
	}
	var twice []string
	for _, it := range finished {
		if slices.Contains(ate, it) {
			twice = append(twice, it)
			if !slices.Contains(started, it) {
				t.Errorf("%s consumed by both, but the victim had not printed its start", it)
			}
		}
	}
	for _, it := range inFlight {
		if !slices.Contains(ate, it) {
			t.Errorf("%s, unfinished in the killed process, was not consumed by the survivor", it)
		}
	}
	res := summary(t, survivor)
	r, q := res.Received, res.Queues[0]
	// Each item the victim held (started, finished without its ack
	// reaching the broker, or fetched and waiting) is delivered again
	// once; the stream never holds more than capacity.
	if q.Redelivered < int64(len(inFlight)+len(twice)) || q.Redelivered > capacity {
		t.Errorf("survivor: redelivered %d; want between the %d in flight plus the %d consumed twice, and capacity %d",
			q.Redelivered, len(inFlight), len(twice), capacity)
	}
	if r == nil || r.Taken != int64(len(ate)) || r.Done != r.Taken {
		t.Errorf("survivor: received %+v, want %d taken and done", r, len(ate))
	}
	if res.Stop != "" {
		t.Errorf("survivor stopped early: %q", res.Stop)
	}
	t.Logf("victim: started %d, finished %d (printed %d), in flight %d; survivor: consumed %d, redelivered %d, consumed twice %d",
		len(started), len(finished), len(printed), len(inFlight), len(ate), q.Redelivered, len(twice))
}

// marks returns the names of the files in dir: the items of markStep.
func marks(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
