package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/queue/nats/natstest"
)

// A run on a three-node JetStream cluster (nats-server processes, see
// natstest) whose queue and bucket have three replicas each: one node is
// killed mid-run, and the run goes on on the two left. The pipeline is
// named as the e2e one, so that waitReaders finds its queue.
const clusterYAML = `
name: e2e
vars: {url: "nats://127.0.0.1:1"}
queues:
  main: {backend: nats, url: "${url}", replicas: 3, capacity: 50, ack_wait: 4s}
producers:
  - {name: p, count: %d, delay: 2ms, item: "item ${i}", print: "${name} Produced ${item}"}
consumers:
  - {name: c, replicas: 2, do: [print: "${worker} Ate ${item}"]}
`

// TestNatsClusterLeaderLoss: a producer process and two consumer
// processes share a queue with replicas: 3 on a three-node cluster. Once
// a third of the items are produced, the node leading the queue's stream
// (or the pipeline's key-value bucket) is killed with SIGKILL; it is
// restarted later, or never. Every process exits 0, every item is
// consumed, and an item consumed twice (an acknowledgement lost with the
// node) was counted as delivered again.
func TestNatsClusterLeaderLoss(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		restart      bool
	}{
		{"stream leader, restarted", "PCRUN_" + e2ePipeline + "_" + e2eQueue, true},
		{"bucket leader, gone", "KV_PCRUN_" + e2ePipeline, false},
	} {
		t.Run(tc.name, func(t *testing.T) { clusterLeaderLoss(t, tc.stream, tc.restart) })
	}
}

func clusterLeaderLoss(t *testing.T, stream string, restart bool) {
	const n = 1500
	c := natstest.Start(t, 3)
	url := c.URL()
	file := writeFile(t, "cluster.yaml", fmt.Sprintf(clusterYAML, n))
	c1, c2 := startConsumer(t, file, url), startConsumer(t, file, url)
	waitReaders(t, url, c1, c2)
	prod := startProducer(t, file, url)
	prod.waitFor(t, prod.stdout, "the producer's items", n/3, isProduced, 120*time.Second)

	victim := leaderOf(t, c, url, stream)
	c.Kill(victim)
	t.Logf("killed %s, the leader of %s, after %d items produced", c.Nodes[victim].Name, stream, prod.stdout.count(isProduced))
	if restart {
		// The two left go on: a third more of the items are consumed
		// before the node comes back.
		ate := c1.stdout.count(isAte) + c2.stdout.count(isAte)
		waitCount(t, "items consumed on two nodes", ate+n/3, 120*time.Second, func() int {
			return c1.stdout.count(isAte) + c2.stdout.count(isAte)
		}, prod, c1, c2)
		c.Restart(victim)
	}
	for _, p := range []struct {
		who string
		p   *proc
	}{{"producer", prod}, {"consumer 1", c1}, {"consumer 2", c2}} {
		select {
		case <-p.p.done:
		case <-time.After(180 * time.Second):
			t.Fatalf("the %s had not exited 180s after the node was killed", p.who)
		}
		if p.p.code != exitcode.OK {
			t.Errorf("%s: exit %d, want 0", p.who, p.p.code)
		}
	}
	checkClusterRun(t, n, prod, c1, c2)
}

// checkClusterRun checks what the processes of a cluster run consumed
// and counted: each item consumed, any twice only as counted deliveries
// again.
func checkClusterRun(t *testing.T, n int, prod, c1, c2 *proc) {
	t.Helper()
	ate := slices.Concat(c1.stdout.items(ateRE), c2.stdout.items(ateRE))
	if got := slices.Compact(sorted(ate)); !slices.Equal(got, sorted(numberedItems(n))) {
		t.Errorf("consumed %d distinct items, want each of %d", len(got), n)
	}
	if l := summary(t, prod); l.Total.Produced != int64(n) || l.Total.HandedOff != int64(n) {
		t.Errorf("producer's part: %+v; want %d produced and handed off", l.Total, n)
	}
	var taken, redelivered int64
	for i, c := range []*proc{c1, c2} {
		res := summary(t, c)
		if r := res.Received; r == nil || r.Done != r.Taken {
			t.Errorf("consumer %d received %+v: want every item taken done", i+1, r)
		} else {
			taken += r.Taken
		}
		redelivered += res.Queues[0].Redelivered
	}
	twice := int64(len(ate) - n)
	if taken != int64(len(ate)) || twice > redelivered {
		t.Errorf("the consumers took %d items and consumed %d (%d of them again), counting %d delivered again",
			taken, len(ate), twice, redelivered)
	}
	t.Logf("consumed %d and %d items (%d again), %d delivered again; warnings:\n%s", c1.stdout.count(isAte),
		c2.stdout.count(isAte), twice, redelivered, warnings(prod, c1, c2))
}

// leaderOf returns the node leading stream, asking the cluster at url.
func leaderOf(t *testing.T, c *natstest.Cluster, url, stream string) int {
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
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	i, err := c.StreamLeader(ctx, js, stream)
	if err != nil {
		t.Fatalf("the leader of stream %s: %v", stream, err)
	}
	return i
}

// waitCount waits until count() reaches want, failing t after timeout or
// when one of procs exits first.
func waitCount(t *testing.T, what string, want int, timeout time.Duration, count func() int, procs ...*proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for count() < want {
		for _, p := range procs {
			select {
			case <-p.done:
				t.Fatalf("a process exited (code %d) before %d %s (%d)", p.code, want, what, count())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %d %s after %v, only %d", want, what, timeout, count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warnings returns the lines of the processes' stderr before their
// summaries that are not the summary.
func warnings(procs ...*proc) string {
	var b strings.Builder
	for _, p := range procs {
		for _, l := range p.stderr.lines() {
			if strings.HasPrefix(l, "{") {
				break
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
