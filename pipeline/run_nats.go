package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// replayStage is the writer name of the replay of a spill file.
const replayStage = "replay"

// shared reports whether other processes share this run's NATS queues.
func (r *run) shared() bool { return r.opts.Shared || len(r.opts.Only) > 0 }

// openNats opens a NATS queue of the graph (see nats.go) and tells it
// which of its writers and readers run in this process.
func (r *run) openNats(ctx context.Context, q *stages.Queue) error {
	if r.brokers == nil {
		r.brokers = map[string]*natsBroker{}
	}
	nq, err := openNats(ctx, r.brokers, r.g.Name, q)
	if err != nil {
		return err
	}
	nq.strategy, nq.shared = r.g.Strategy, r.shared()
	nq.rowOf, nq.nameOf, nq.abort, nq.proc = r.rowOf, r.stageName, r.abortRun, r.proc
	nq.b.notice = func(line string) { r.opts.Log.Warn(strings.TrimPrefix(line, "pcrun: "), "broker", nq.b.redacted()) }
	for _, p := range r.g.Producers {
		if p.To == q.Name && r.selected(p.Name) {
			nq.writers[p.Name] += p.Replicas
		}
	}
	for _, c := range r.g.Consumers {
		if !r.selected(c.Name) {
			continue
		}
		if slices.Contains(q.Writers, c.Name) {
			nq.writers[c.Name] += c.Replicas // one writer however it puts into q
		}
		if c.From == q.Name {
			nq.readers[c.Name] += c.Replicas
		}
	}
	if r.replaysInto(q.Name) {
		nq.writers[replayStage]++
	}
	maps.Copy(nq.localLeft, nq.writers)
	r.queues[q.Name] = nq
	r.nats = append(r.nats, nq)
	if r.shared() {
		r.received[q.Name] = new(counters)
	}
	return nil
}

// startNats resets the pipeline's NATS queues when the run owns them or
// says Fresh, then registers this process's writers and readers in the
// current generation (nats_roster.go).
func (r *run) startNats(ctx context.Context) error {
	if !r.shared() || r.opts.Fresh {
		// Every NATS queue of the pipeline, those other processes use too.
		var urls []string
		streams := map[string][]string{}
		queue := map[string]string{}
		for _, q := range r.g.Queues {
			if q.Backend != config.NATS {
				continue
			}
			if _, ok := streams[q.URL]; !ok {
				urls = append(urls, q.URL)
				queue[q.URL] = q.Name
			}
			streams[q.URL] = append(streams[q.URL], q.Stream)
		}
		if len(urls) > 0 && r.brokers == nil {
			r.brokers = map[string]*natsBroker{}
		}
		for _, url := range urls {
			b, err := connectNats(ctx, r.brokers, r.g.Name, url, queue[url])
			if err != nil {
				return err
			}
			if err := b.resetAll(ctx, r.g.Name, streams[url]); err != nil {
				return fmt.Errorf("--fresh: %v", err)
			}
		}
	}
	for _, nq := range r.nats {
		if !nq.b.joined {
			nq.b.joined = true
			if err := nq.b.join(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeNats withdraws this process's readers from queues that have not
// ended, stops the NATS queues' goroutines and closes the connections.
func (r *run) closeNats() {
	for _, nq := range r.nats {
		nq.shutdown() // first: the pump may register again (checkGen)
		nq.withdraw()
	}
	for _, b := range r.brokers {
		b.nc.Close()
	}
}

// abortRun stops the run at once: its NATS queues cannot go on (another
// process reset them, or the broker could not record a writer's end).
func (r *run) abortRun(err error) {
	select {
	case r.aborted <- err:
	default:
	}
}

// abortError is why a run was aborted.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

// put puts an item into a queue. In a shared run an item put into a NATS
// queue is handed off: whichever process takes it accounts for it, so its
// origin's row counts it as handed off (see Ledger).
func (r *run) put(ctx context.Context, q Queue, it Item) error {
	err := q.Put(ctx, it)
	nq, ok := q.(*natsQueue)
	if ok && nq.shared && err == nil {
		r.stats[it.Origin].handedOff.Add(1)
		r.qstats[nq.spec.Name].handedOff.Add(1)
	}
	if ok && err == nil && r.world.obs != nil {
		r.brokerPut(ctx, nq.spec.Name, it) // a memory queue reports its puts itself
	}
	return err
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
	for _, name := range r.g.DownstreamOrder() {
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
