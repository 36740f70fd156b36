package memory

import (
	"context"
	"sync"
	"time"

	"github.com/pcrun/pcrun/queue"
)

// world is the shared state of a run's memory queues: one lock for all of
// them and the record of who waits on what. Holding queue state and waits
// under one lock makes deadlock detection exact: when every live worker is
// blocked on a queue operation that no state change can satisfy, nothing
// can ever run again.
type world struct {
	mu     sync.Mutex
	active int // live workers not blocked in a queue wait
	waits  map[*waiter]struct{}
	stall  chan queue.Stall // capacity 1; read by the supervisor
	env    *queue.Env
}

func newWorld(env *queue.Env) *world {
	return &world{waits: map[*waiter]struct{}{}, stall: make(chan queue.Stall, 1), env: env}
}

// now is the time since the run started, at least 1 (0 means "not
// stamped"). Not inlined: the queue operations that call it on their
// rare paths keep a small frame.
//
//go:noinline
func (w *world) now() int64 { return max(int64(w.env.Since()), 1) }

// enter registers a live worker; leave unregisters it when it exits.
func (w *world) enter() {
	w.mu.Lock()
	w.active++
	w.mu.Unlock()
}

func (w *world) leave() {
	w.mu.Lock()
	w.active--
	w.checkStall()
	w.mu.Unlock()
}

type waiter struct {
	who *queue.Worker
	op  queue.Op
	q   *memQueue
}

// satisfiable reports whether the wait could end now. Call with w.mu held.
func (x *waiter) satisfiable() bool {
	q := x.q
	switch x.op {
	case queue.OpGet:
		return q.len() > 0 || q.closed
	case queue.OpPut:
		return !q.full() || q.closed
	default:
		return q.unfinished.Load() == 0
	}
}

// wait blocks on cond (whose lock is w.mu, held by the caller) until the
// operation op on q can go on (x.satisfiable) or ctx ends. A tracked
// worker's wait is timed: its stage's idle or blocked time, and an event.
func (w *world) wait(ctx context.Context, cond *sync.Cond, op queue.Op, q *memQueue) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := &waiter{who: queue.WorkerFrom(ctx), op: op, q: q}
	tracked := x.who != nil
	var since time.Time
	if tracked {
		since = time.Now()
		w.waits[x] = struct{}{}
		w.active--
		w.checkStall()
	}
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		cond.Broadcast()
		w.mu.Unlock()
	})
	for !x.satisfiable() && ctx.Err() == nil {
		cond.Wait() // woken for another waiter, or too early: wait on
	}
	stop()
	if tracked {
		delete(w.waits, x)
		w.active++
		d := time.Since(since)
		x.who.Waited(op, d)
		if w.env.Observe != nil {
			w.env.Event(x.who.WaitEvent(op, q.name, d))
		}
	}
	return ctx.Err()
}

// checkStall reports a stall when no live worker can make progress. Call
// with w.mu held.
func (w *world) checkStall() {
	if w.active > 0 || len(w.waits) == 0 { // nobody waits: the run is over, not stuck
		return
	}
	for x := range w.waits {
		if x.satisfiable() {
			return
		}
	}
	s := queue.Stall{}
	for x := range w.waits {
		s.Waits = append(s.Waits, queue.Wait{Worker: x.who.Name, Op: x.op.String(), Queue: x.q.name,
			Depth: x.q.len(), Capacity: x.q.capacity})
	}
	s.Sort()
	select {
	case w.stall <- s:
	default: // the supervisor has one report pending already
	}
}
