package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
)

// End to end across real processes: `pcrun broker`, one producer process
// and two consumer processes of one pipeline, as on three hosts.

const e2eYAML = `
name: e2e
vars: {url: "nats://127.0.0.1:1"}
queues:
  main: {backend: nats, url: "${url}", capacity: 4, ack_wait: 1s}
producers:
  - {name: p, count: %d, item: "item ${i}", print: "${name} Produced ${item}"}
consumers:
  - name: c
    replicas: 2
    do:
      - print: "${worker} start ${item}"
      - sleep: %s
      - print: "${worker} Ate ${item}"
`

var startRE = regexp.MustCompile(`^\S+ start (.+)$`)

// e2eRun starts a broker and the producer process (--fresh), and waits
// until the producer has put an item: its run has started.
func e2eRun(t *testing.T, count int, step string) (file, url string, prod *proc) {
	t.Helper()
	_, url, _ = startBroker(t, "--port", "0", "--memory")
	file = writeFile(t, "e2e.yaml", fmt.Sprintf(e2eYAML, count, step))
	prod = startPcrun(t, "run", "--only", "p", "--fresh", "--summary", "json", "--set", "url="+url, file)
	prod.waitFor(t, prod.stdout, "Produced", 1, isProduced, 20*time.Second)
	return file, url, prod
}

func startConsumer(t *testing.T, file, url string) *proc {
	t.Helper()
	return startPcrun(t, "run", "--only", "c", "--summary", "json", "--set", "url="+url, file)
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
	file, url, prod := e2eRun(t, n, "20ms")
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
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
// killed process had started it (its ack may not have reached the broker).
func TestNatsE2EKilledConsumer(t *testing.T) {
	t.Parallel()
	const n, capacity = 12, 4
	file, url, prod := e2eRun(t, n, "200ms")
	survivor, victim := startConsumer(t, file, url), startConsumer(t, file, url)
	// Its third start comes once it finished an item: it has finished
	// some and holds others.
	victim.waitFor(t, victim.stdout, "start", 3, startRE.MatchString, 20*time.Second)
	victim.signal(t, syscall.SIGKILL)
	victim.wait(t, 10*time.Second)
	exitsOK(t, "producer", prod)
	exitsOK(t, "survivor", survivor)

	started, finished := victim.stdout.items(startRE), victim.stdout.items(ateRE)
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
				t.Errorf("%s consumed by both, but the victim had not started it", it)
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
	// Each item the victim held (started, or fetched and waiting) is
	// delivered again once; the stream never holds more than capacity.
	if q.Redelivered < int64(len(inFlight)) || q.Redelivered > capacity || int64(len(twice)) > q.Redelivered {
		t.Errorf("survivor: redelivered %d; want between the %d in flight and capacity %d, and at least the %d consumed twice",
			q.Redelivered, len(inFlight), capacity, len(twice))
	}
	if r == nil || r.Taken != int64(len(ate)) || r.Done != r.Taken {
		t.Errorf("survivor: received %+v, want %d taken and done", r, len(ate))
	}
	if res.Stop != "" {
		t.Errorf("survivor stopped early: %q", res.Stop)
	}
	t.Logf("victim: started %d, finished %d, in flight %d; survivor: consumed %d, redelivered %d, consumed twice %d",
		len(started), len(finished), len(inFlight), len(ate), q.Redelivered, len(twice))
}
