package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// How a run gets its queues: each queue's backend (`backend:` in the file;
// memory by default) is looked up in the queue registry and opens the
// run's queues on it as one queue.Set. The run knows them only through
// the queue package's interfaces.

// replayStage is the writer name of the replay of a spill file.
const replayStage = "replay"

// shared reports whether other processes share this run's queues.
func (r *run) shared() bool { return r.opts.Shared || len(r.opts.Only) > 0 }

// openQueues opens the queues the run's stages use, backend by backend,
// in graph order, then starts them. On error, what was opened is closed.
func (r *run) openQueues(ctx context.Context) error {
	env := &queue.Env{
		Pipeline: r.g.Name, Graph: r.g, Strategy: r.g.Strategy, Shared: r.shared(), Fresh: r.opts.Fresh, RunID: r.opts.RunID, ResumeRun: r.opts.ResumeRun,
		Stages: r.stageNames(), Since: func() time.Duration { return r.clock.Since() }, Log: r.opts.Log, Abort: r.abortRun,
		Part: r.part, Local: r.localStages(),
	}
	if r.obs != nil {
		env.Observe = r.obs.Observe
	}
	for _, g := range r.groups() {
		if err := r.openSet(ctx, env, g); err != nil {
			return err
		}
	}
	for _, q := range r.g.Queues {
		if r.uses(q) {
			r.qstats[q.Name] = new(queueCounters)
		}
	}
	for _, set := range r.sets {
		if err := set.Start(ctx); err != nil {
			return err
		}
		if res, ok := set.(queue.Resumer); ok && r.opts.ResumeRun {
			if next := res.Positions(); next != nil {
				r.opts.Resume = &Resume{Next: next}
			}
		}
	}
	return nil
}

// group is the queues of a run on one backend.
type group struct {
	backend queue.Backend
	name    config.Backend
	specs   []*queue.Spec
}

// groups sorts the queues the run uses by backend, in graph order, or
// puts them all on Options.Backend.
func (r *run) groups() []*group {
	var out []*group
	byName := map[config.Backend]*group{}
	for _, q := range r.g.Queues {
		if !r.uses(q) {
			continue // another process's queue (--only)
		}
		name := q.Backend
		switch {
		case r.opts.Backend != nil:
			name = "" // every queue on one backend
		case name == "":
			name = config.Memory
		}
		g := byName[name]
		if g == nil {
			g = &group{name: name, backend: r.opts.Backend}
			byName[name] = g
			out = append(out, g)
		}
		sp := r.spec(q)
		r.specs[q.Name] = sp
		g.specs = append(g.specs, sp)
	}
	return out
}

// openSet opens a group's queues on their backend.
func (r *run) openSet(ctx context.Context, env *queue.Env, g *group) error {
	b := g.backend
	if b == nil {
		var ok bool
		if b, ok = queue.Lookup(g.name); !ok {
			return fmt.Errorf("queue backend %q is not part of this pcrun binary", g.name)
		}
	}
	set, err := b.Open(ctx, env, g.specs)
	if err != nil {
		return err
	}
	r.sets = append(r.sets, set)
	if t, ok := set.(queue.Tracker); ok {
		r.trackers = append(r.trackers, t)
	}
	for _, q := range set.Queues() {
		r.queues[q.Name()] = q
		if s, ok := q.(queue.Shared); ok && s.Shared() {
			r.received[q.Name()] = new(counters)
		}
	}
	return nil
}

// closeQueues closes every queue set the run opened.
func (r *run) closeQueues() {
	for _, set := range r.sets {
		set.Close()
	}
}

// spec is what a queue's backend is told of it: which stages of this run
// put into it and take from it, with their replicas.
func (r *run) spec(q *stages.Queue) *queue.Spec {
	sp := &queue.Spec{Queue: q, Writers: map[string]int{}, Readers: map[string]int{}}
	for _, p := range r.g.Producers {
		if p.To == q.Name && r.selected(p.Name) {
			sp.Writers[p.Name] += p.Replicas
		}
	}
	for _, c := range r.g.Consumers {
		if !r.selected(c.Name) {
			continue
		}
		if slices.Contains(q.Writers, c.Name) {
			sp.Writers[c.Name] += c.Replicas // one writer however it puts into q
		}
		if c.From == q.Name {
			sp.Readers[c.Name] += c.Replicas
		}
	}
	if slices.Contains(r.replayQueues(), q.Name) {
		sp.Writers[replayStage]++
	}
	return sp
}

// stageNames names the ledger rows: producers, consumers, then replay.
func (r *run) stageNames() []string {
	names := make([]string, 0, len(r.g.Producers)+len(r.g.Consumers)+1)
	for _, p := range r.g.Producers {
		names = append(names, p.Name)
	}
	for _, c := range r.g.Consumers {
		names = append(names, c.Name)
	}
	return append(names, replayStage)
}

// abortRun stops the run at once: its queues cannot go on (another
// process reset them, or a broker could not record a writer's end).
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

// put puts an item into a queue. An item put into a queue shared with
// other processes is handed off: whichever process takes it accounts for
// it, so its origin's row counts it as handed off (see Ledger).
func (r *run) put(ctx context.Context, q queue.Queue, it queue.Item) error {
	err := q.Put(ctx, it)
	if err == nil && len(r.received) > 0 && r.received[q.Name()] != nil {
		r.stats[it.Origin].handedOff.Add(1)
		r.qstats[q.Name()].handedOff.Add(1)
	}
	return err
}

// handBack gives an item a cancelled consumer did not finish back to its
// queue when other processes share it, and reports whether it did.
// Otherwise the item is this run's to count as abandoned.
func (r *run) handBack(in queue.Queue, it queue.Item) bool {
	s, ok := in.(queue.Shared)
	if !ok || !s.Shared() {
		return false
	}
	s.HandBack(it)
	return true
}

// writerDone is called as each writer replica of a queue exits; the queue
// ends itself after its last writer (queue.Queue.WriterDone).
func (r *run) writerDone(ctx context.Context, q, stage string) {
	if err := r.queues[q].WriterDone(ctx, stage); err != nil {
		r.abortRun(err)
	}
}

// idlePoll is how often the supervisor of a join run polls whether the
// run has ended, when some of its queues cannot report a stall (a worker
// waiting on a broker is no waiter of a Tracker).
const idlePoll = 100 * time.Millisecond

// joinTicker returns a ticker channel for join runs with queues that are
// not tracked, and nil (never ready) otherwise.
func (r *run) joinTicker() (<-chan time.Time, func()) {
	if r.g.Strategy != config.Join || len(r.trackers) == len(r.sets) {
		return nil, func() {}
	}
	t := time.NewTicker(idlePoll)
	return t.C, t.Stop
}

// joined reports whether the join strategy's end has come: every producer
// has returned and no queue holds an unfinished item.
func (r *run) joined() bool {
	if r.producersLeft.Load() > 0 {
		return false
	}
	for _, set := range r.sets {
		if !set.Idle(r.hard) {
			return false
		}
	}
	return true
}

// queueEvents reports the queues the run uses, after its first event.
func (r *run) queueEvents() {
	for _, q := range r.g.Queues {
		if r.uses(q) {
			r.event(observe.Event{Kind: observe.EventQueue, Queue: q.Name, Capacity: r.queues[q.Name].Stats().Capacity, Depth: -1})
		}
	}
}
