package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// This file connects a run to what watches it: the events of an Observer
// (observe.go), the worker times of the summary (timing.go), and Live, the
// counters read while the run goes on (progress bars, metrics).

// worker is a live goroutine of the run: who it is to the queues, and
// its stage's counters.
type worker struct {
	queue.Worker
	c *counters
}

// newWorker makes a worker of stage whose waits count in c.
func newWorker(name, stage string, kind queue.Kind, c *counters) *worker {
	return &worker{Worker: queue.Worker{Name: name, Stage: stage, Kind: kind, Idle: &c.idle, Blocked: &c.blocked}, c: c}
}

// in returns parent carrying the worker, for the queues it calls.
func (w *worker) in(parent context.Context) context.Context {
	return queue.WithWorker(parent, &w.Worker)
}

// event sends an event to the observer, if there is one.
func (r *run) event(e observe.Event) {
	if r.obs != nil {
		e.T = r.clock.Since()
		r.obs.Observe(e)
	}
}

// lifetime reports a worker's start and returns the function, deferred by
// the worker, that reports its end and adds its life to its stage's.
func (r *run) lifetime(w *worker) func() {
	start := r.clock.Since()
	r.event(observe.Event{Kind: observe.EventStarted, Stage: w.Stage, Worker: w.Name, Depth: -1})
	r.opts.Log.Debug("worker "+w.Name+" started", "stage", w.Stage, "worker", w.Name)
	return func() {
		alive := r.clock.Since() - start
		if w.c != nil {
			w.c.alive.Add(int64(alive))
		}
		r.event(observe.Event{Kind: observe.EventStopped, Stage: w.Stage, Worker: w.Name, Depth: -1})
		r.opts.Log.Debug(fmt.Sprintf("worker %s stopped after %s", w.Name, alive.Round(time.Microsecond)),
			"stage", w.Stage, "worker", w.Name, "alive", alive)
	}
}

// itemEvent reports how a consumer finished an item taken from queue.
func (r *run) itemEvent(w *worker, kind observe.EventKind, queue string, id uint64, err error) {
	if r.obs == nil {
		return
	}
	e := observe.Event{Kind: kind, Stage: w.Stage, Worker: w.Name, Queue: queue, Item: id, Depth: -1}
	if err != nil {
		e.Msg = err.Error()
	}
	r.event(e)
}

// abandonedEvent reports an item a stop cut off while w put it into queue,
// or while w handled it (queue is where it came from).
func (r *run) abandonedEvent(w *queue.Worker, queue string, id uint64) {
	if r.obs == nil {
		return
	}
	e := observe.Event{Kind: observe.EventAbandoned, Queue: queue, Item: id, Depth: -1}
	if w != nil {
		e.Stage, e.Worker = w.Stage, w.Name
	}
	r.event(e)
}

// live reads a running run's counters: the observe.Live of its
// observers.
type live struct{ r *run }

// Snapshot reads the counters. Reading a NATS queue's depth asks its
// broker (a round trip).
func (l *live) Snapshot() observe.Snapshot {
	r := l.r
	s := observe.Snapshot{Elapsed: r.clock.Since()}
	for i, p := range r.g.Producers {
		if !r.selected(p.Name) {
			continue
		}
		total := int64(p.Count) * int64(p.Replicas)
		for replica := 1; replica <= p.Replicas; replica++ {
			total -= int64(r.startIndex(p.Name, replica))
		}
		s.Stages = append(s.Stages, r.progress(p.Name, "producer", p.Replicas, total, r.stats[i]))
	}
	for j, c := range r.g.Consumers {
		if r.selected(c.Name) {
			s.Stages = append(s.Stages, r.progress(c.Name, "consumer", c.Replicas, -1, r.stats[len(r.g.Producers)+j]))
		}
	}
	if len(r.replayQueues()) > 0 {
		s.Stages = append(s.Stages, r.progress("replay", "replay", 1, int64(len(r.opts.Resume.Items)), r.stats[len(r.stats)-1]))
	}
	for _, q := range r.g.Queues {
		if r.uses(q) {
			s.Queues = append(s.Queues, r.queues[q.Name].Stats())
		}
	}
	return s
}

func (r *run) progress(name, kind string, workers int, total int64, c *counters) observe.StageProgress {
	return observe.StageProgress{Name: name, Kind: kind, Workers: workers, Total: total, Taken: c.taken.Load(),
		Ledger: c.ledger(), Idle: time.Duration(c.idle.Load()), Blocked: time.Duration(c.blocked.Load())}
}
