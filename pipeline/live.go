package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/observe"
)

// This file connects a run to what watches it: the events of an Observer
// (observe.go), the worker times of the summary (timing.go), and Live, the
// counters read while the run goes on (progress bars, metrics).

// lifetime reports a worker's start and returns the function, deferred by
// the worker, that reports its end and adds its life to its stage's.
func (r *run) lifetime(w *worker) func() {
	start := r.world.clock.elapsed()
	r.world.event(observe.Event{Kind: observe.EventStarted, Stage: w.stage, Worker: w.name, Depth: -1})
	r.opts.Log.Debug("worker "+w.name+" started", "stage", w.stage, "worker", w.name)
	return func() {
		alive := r.world.clock.elapsed() - start
		if w.c != nil {
			w.c.alive.Add(int64(alive))
		}
		r.world.event(observe.Event{Kind: observe.EventStopped, Stage: w.stage, Worker: w.name, Depth: -1})
		r.opts.Log.Debug(fmt.Sprintf("worker %s stopped after %s", w.name, alive.Round(time.Microsecond)),
			"stage", w.stage, "worker", w.name, "alive", alive)
	}
}

// itemEvent reports how a consumer finished an item taken from queue.
func (r *run) itemEvent(w *worker, kind observe.EventKind, queue string, id uint64, err error) {
	if r.world.obs == nil {
		return
	}
	e := observe.Event{Kind: kind, Stage: w.stage, Worker: w.name, Queue: queue, Item: id, Depth: -1}
	if err != nil {
		e.Msg = err.Error()
	}
	r.world.event(e)
}

// abandonedEvent reports an item a stop cut off while w put it into queue,
// or while w handled it (queue is where it came from).
func (r *run) abandonedEvent(w *worker, queue string, id uint64) {
	if r.world.obs == nil {
		return
	}
	e := observe.Event{Kind: observe.EventAbandoned, Queue: queue, Item: id, Depth: -1}
	if w != nil {
		e.Stage, e.Worker = w.stage, w.name
	}
	r.world.event(e)
}

// brokerTake accounts for a Get from a queue that is not a memory queue
// (which does this itself, under its lock): the time it took is idle
// time, and the take is an event.
func (r *run) brokerTake(w *worker, queue string, since time.Time, it Item, err error) {
	d := time.Since(since)
	w.c.idle.Add(int64(d))
	if r.world.obs == nil {
		return
	}
	r.world.event(observe.Event{Kind: observe.EventIdle, Stage: w.stage, Worker: w.name, Queue: queue, Dur: d, Depth: -1})
	if err == nil {
		r.world.event(observe.Event{Kind: observe.EventTaken, Stage: w.stage, Worker: w.name, Queue: queue, Item: it.ID, Depth: -1})
	}
}

// brokerPut reports an item put into a queue that is not a memory queue.
func (r *run) brokerPut(ctx context.Context, queue string, it Item) {
	r.world.event(putEvent(ctx, queue, it, -1))
}

// putEvent is the event of an item (or end marker) put into queue by the
// worker of ctx: produced by a producer, emitted by a consumer.
func putEvent(ctx context.Context, queue string, it Item, depth int) observe.Event {
	e := observe.Event{Kind: observe.EventProduced, Queue: queue, Item: it.ID, Depth: depth}
	if w := workerFrom(ctx); w != nil {
		e.Stage, e.Worker = w.stage, w.name
		if w.kind == 'c' {
			e.Kind = observe.EventEmitted
		}
	}
	if it.marker {
		e.Kind = observe.EventSentinel
	}
	return e
}

// live reads a running run's counters: the observe.Live of its
// observers.
type live struct{ r *run }

// Snapshot reads the counters. Reading a NATS queue's depth asks its
// broker (a round trip).
func (l *live) Snapshot() observe.Snapshot {
	r := l.r
	s := observe.Snapshot{Elapsed: time.Since(r.world.clock.start)}
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
