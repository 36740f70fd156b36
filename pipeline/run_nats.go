package pipeline

import (
	"context"
	"slices"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// replayStage is the writer name of the replay of a spill file.
const replayStage = "replay"

// shared reports whether other processes share this run's NATS queues.
func (r *run) shared() bool { return r.opts.Shared || len(r.opts.Only) > 0 }

// partOfWhole reports whether the run's ledger is only its part of a
// multi-process run's: items cross NATS queues shared with other
// processes, so it need not balance on its own.
func (r *run) partOfWhole() bool { return r.shared() && len(r.nats) > 0 }

// openNats opens a NATS queue of the graph (see nats.go) and registers it.
func (r *run) openNats(ctx context.Context, q *stages.Queue) error {
	if r.brokers == nil {
		r.brokers = map[string]*natsBroker{}
	}
	nq, err := openNats(ctx, r.brokers, r.g.Name, q, !r.shared() || r.opts.Fresh)
	if err != nil {
		return err
	}
	nq.strategy, nq.shared = r.g.Strategy, r.shared()
	nq.rowOf, nq.nameOf = r.rowOf, r.stageName
	for _, p := range r.g.Producers {
		if p.To == q.Name && r.selected(p.Name) {
			nq.localLeft[p.Name] += p.Replicas
		}
	}
	for _, c := range r.g.Consumers {
		if slices.Contains(q.Writers, c.Name) && r.selected(c.Name) {
			nq.localLeft[c.Name] += c.Replicas // one writer however it puts into q
		}
	}
	r.queues[q.Name] = nq
	r.nats = append(r.nats, nq)
	return nil
}

// closeNats stops the NATS queues' goroutines and closes the connections.
func (r *run) closeNats() {
	for _, nq := range r.nats {
		nq.shutdown()
	}
	for _, b := range r.brokers {
		b.nc.Close()
	}
}

// rowOf is the ledger row of the stage an item from a NATS queue names as
// its origin; the replay row for a name the file does not have.
func (r *run) rowOf(stage string) int {
	for i, p := range r.g.Producers {
		if p.Name == stage {
			return i
		}
	}
	for j, c := range r.g.Consumers {
		if c.Name == stage {
			return len(r.g.Producers) + j
		}
	}
	return len(r.g.Producers) + len(r.g.Consumers)
}

// replaysInto reports whether the run puts spilled items into queue.
func (r *run) replaysInto(queue string) bool { return slices.Contains(r.replayQueues(), queue) }

// handBack gives an item a cancelled consumer did not finish back to its
// NATS queue's broker when other processes share it, and reports whether
// it did. Otherwise the item is this run's to count as abandoned.
func (r *run) handBack(in Queue, it Item) bool {
	nq, ok := in.(*natsQueue)
	if !ok || !nq.shared {
		return false
	}
	nq.handBack(it)
	return true
}

// natsJoinPoll is how often the supervisor of a join run with NATS queues
// checks whether the run has ended: a worker waiting on a NATS queue is
// not a waiter of the world, so no stall tells it.
const natsJoinPoll = 100 * time.Millisecond

// joinTicker returns a ticker channel for join runs with NATS queues, and
// nil (never ready) otherwise.
func (r *run) joinTicker() (<-chan time.Time, func()) {
	if r.g.Strategy != config.Join || len(r.nats) == 0 {
		return nil, func() {}
	}
	t := time.NewTicker(natsJoinPoll)
	return t.C, t.Stop
}

// natsJoined reports whether every NATS queue of the run is idle under
// join: every producer writing to it has finished, in whichever process,
// and its stream holds no item. Queues are checked from upstream to
// downstream: an item moving on is put downstream before it is
// acknowledged upstream, so it cannot slip past the check.
func (r *run) natsJoined() bool {
	producers := map[string]bool{}
	for _, p := range r.g.Producers {
		producers[p.Name] = true
	}
	ctx, cancel := context.WithTimeout(r.hard, 5*time.Second)
	defer cancel()
	for _, name := range r.downstreamOrder() {
		nq, ok := r.queues[name].(*natsQueue)
		if !ok {
			continue
		}
		if !nq.producersDone(ctx, producers) {
			return false
		}
		if empty, err := nq.empty(ctx); err != nil || !empty {
			return false
		}
	}
	return true
}

// downstreamOrder lists the graph's queues so that a queue comes after
// every queue whose readers put into it (file order within a cycle).
func (r *run) downstreamOrder() []string {
	in := map[string]int{}
	next := hopsOf(r.g)
	for _, hs := range next {
		for _, to := range hs {
			in[to]++
		}
	}
	var order, ready []string
	for _, q := range r.g.Queues {
		if in[q.Name] == 0 {
			ready = append(ready, q.Name)
		}
	}
	seen := map[string]bool{}
	for len(ready) > 0 {
		q := ready[0]
		ready = ready[1:]
		seen[q] = true
		order = append(order, q)
		for _, to := range next[q] {
			if in[to]--; in[to] == 0 {
				ready = append(ready, to)
			}
		}
	}
	for _, q := range r.g.Queues { // in a cycle
		if !seen[q.Name] {
			order = append(order, q.Name)
		}
	}
	return order
}

// hopsOf maps each queue to the queues its readers put into.
func hopsOf(g *stages.Graph) map[string][]string {
	next := map[string][]string{}
	for _, c := range g.Consumers {
		if c.Emits && c.To != "" {
			next[c.From] = append(next[c.From], c.To)
		}
		if dl := c.OnError.DeadLetter; dl != "" && dl != c.From && (!c.Emits || dl != c.To) {
			next[c.From] = append(next[c.From], dl)
		}
	}
	return next
}
