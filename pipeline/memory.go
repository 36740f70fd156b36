package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcrun/pcrun/observe"
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
	stall  chan Stall // capacity 1; read by the supervisor
	clock  clock
	obs    observe.Observer // nil: no events
}

func newWorld() *world {
	return &world{waits: map[*waiter]struct{}{}, stall: make(chan Stall, 1), clock: clock{start: time.Now()}}
}

// worker is a live goroutine the world tracks.
type worker struct {
	name  string
	stage string
	kind  byte      // 'p' producer (or replay), 'c' consumer, 0 the run itself
	c     *counters // its stage's: waits add to idle and blocked; nil for the run itself
}

// event sends an event to the observer, if there is one.
func (w *world) event(e observe.Event) {
	if w.obs != nil {
		e.T = w.clock.elapsed()
		w.obs.Observe(e)
	}
}

type ctxKey struct{}

func withWorker(ctx context.Context, w *worker) context.Context {
	return context.WithValue(ctx, ctxKey{}, w)
}

func workerFrom(ctx context.Context) *worker {
	w, _ := ctx.Value(ctxKey{}).(*worker)
	return w
}

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

type waitOp int

const (
	opGet waitOp = iota
	opPut
	opJoin
)

func (o waitOp) String() string {
	return [...]string{"take from", "put into", "join"}[o]
}

type waiter struct {
	who *worker
	op  waitOp
	q   *memQueue
}

// satisfiable reports whether the wait could end now. Call with w.mu held.
func (x *waiter) satisfiable() bool {
	q := x.q
	switch x.op {
	case opGet:
		return q.len() > 0 || q.closed
	case opPut:
		return !q.full() || q.closed
	default:
		return q.unfinished.Load() == 0
	}
}

// wait blocks on cond (whose lock is w.mu, held by the caller) until the
// operation op on q can go on (x.satisfiable) or ctx ends. A tracked
// worker's wait is timed: its stage's idle or blocked time, and an event.
func (w *world) wait(ctx context.Context, cond *sync.Cond, op waitOp, q *memQueue) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := &waiter{who: workerFrom(ctx), op: op, q: q}
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
		kind := observe.EventIdle
		if op == opPut {
			kind = observe.EventBlocked
		}
		if c := x.who.c; c != nil && kind == observe.EventBlocked {
			c.blocked.Add(int64(d))
		} else if c != nil {
			c.idle.Add(int64(d))
		}
		if w.obs != nil {
			w.event(observe.Event{Kind: kind, Stage: x.who.stage, Worker: x.who.name, Queue: q.name, Dur: d, Depth: -1})
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
	s := Stall{}
	for x := range w.waits {
		s.Waits = append(s.Waits, Wait{Worker: x.who.name, Op: x.op.String(), Queue: x.q.name,
			Depth: x.q.len(), Capacity: x.q.capacity})
	}
	s.sort()
	select {
	case w.stall <- s:
	default: // the supervisor has one report pending already
	}
}

// memQueue is the in-process queue. It blocks on sync.Cond (so tests in a
// synctest bubble see its waits as durable) and grows a ring buffer up to
// its capacity.
type memQueue struct {
	w        *world
	name     string
	capacity int // 0: unbounded
	buf      []Item
	stamps   []int64 // beside buf: when each was put, for its wait (timing.go); 0: not sampled
	head, n  int
	closed   bool
	// unfinished counts the items put and not yet acknowledged. Ack
	// lowers it without the lock, and takes the lock only to wake the
	// joiners (Join waits under the lock, counted in joiners), so an
	// acknowledgement costs no lock while nobody joins.
	unfinished atomic.Int64
	joiners    atomic.Int32
	notEmpty   sync.Cond
	notFull    sync.Cond
	idle       sync.Cond
	stats      observe.QueueStats
	waits      *observe.Histogram // sampled waits from put to take (timing.go); nil until the first
}

func newMemQueue(w *world, name string, capacity int) *memQueue {
	q := &memQueue{w: w, name: name, capacity: capacity}
	q.notEmpty.L, q.notFull.L, q.idle.L = &w.mu, &w.mu, &w.mu
	q.stats = observe.QueueStats{Name: name, Capacity: capacity}
	return q
}

func (q *memQueue) Name() string { return q.name }
func (q *memQueue) len() int     { return q.n }
func (q *memQueue) full() bool   { return q.capacity > 0 && q.n >= q.capacity }

func (q *memQueue) push(it Item, stamp int64) {
	if q.n == len(q.buf) {
		size := max(16, 2*len(q.buf))
		if q.capacity > 0 {
			size = min(size, q.capacity)
		}
		nb, ns := make([]Item, size), make([]int64, size)
		for i := 0; i < q.n; i++ {
			j := (q.head + i) % len(q.buf)
			nb[i], ns[i] = q.buf[j], q.stamps[j]
		}
		q.buf, q.stamps, q.head = nb, ns, 0
	}
	j := (q.head + q.n) % len(q.buf)
	q.buf[j], q.stamps[j] = it, stamp
	q.n++
}

// pop takes the first item and when it was put (0: not sampled).
func (q *memQueue) pop() (Item, int64) {
	it, stamp := q.buf[q.head], q.stamps[q.head]
	q.buf[q.head] = Item{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return it, stamp
}

func (q *memQueue) Put(ctx context.Context, it Item) error {
	if err := ctx.Err(); err != nil {
		return err // cancelled: never block, never add
	}
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	for q.full() {
		if err := q.w.wait(ctx, &q.notFull, opPut, q); err != nil {
			return err
		}
	}
	if q.closed {
		return fmt.Errorf("%w: %s", errPutClosed, q.name)
	}
	var stamp int64
	if sampled(it.ID) && !it.marker {
		stamp = q.w.clock.now()
	}
	q.push(it, stamp)
	if it.marker {
		q.stats.Markers++
	} else {
		q.unfinished.Add(1)
		q.stats.Put++
	}
	q.stats.MaxDepth = max(q.stats.MaxDepth, q.n)
	q.notEmpty.Signal()
	if q.w.obs != nil {
		q.putEvent(ctx, it)
	}
	return nil
}

// putEvent reports an item (or end marker) just put. Call with the lock
// held, so that the queue's events come in the order of its operations.
//
//go:noinline
func (q *memQueue) putEvent(ctx context.Context, it Item) {
	q.w.event(putEvent(ctx, q.name, it, q.n))
}

// putBatch puts items in order, as that many Puts would, taking the lock
// once for as many as fit: it blocks while the queue holds `capacity`
// items, exactly as Put does. It returns how many it put; those after
// them were not put (ctx ended, or the queue was closed).
func (q *memQueue) putBatch(ctx context.Context, items []Item) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	n := 0
	for n < len(items) {
		for q.full() {
			if err := q.w.wait(ctx, &q.notFull, opPut, q); err != nil {
				return n, err
			}
		}
		if q.closed {
			return n, fmt.Errorf("%w: %s", errPutClosed, q.name)
		}
		k := 0
		var now int64 // one clock read for the sampled items of the lot
		for ; n < len(items) && !q.full(); n, k = n+1, k+1 {
			var stamp int64
			if sampled(items[n].ID) {
				if now == 0 {
					now = q.w.clock.now()
				}
				stamp = now
			}
			q.push(items[n], stamp)
			if q.w.obs != nil {
				q.putEvent(ctx, items[n])
			}
		}
		q.unfinished.Add(int64(k))
		q.stats.Put += int64(k)
		q.stats.MaxDepth = max(q.stats.MaxDepth, q.n)
		if k == 1 {
			q.notEmpty.Signal()
		} else {
			q.notEmpty.Broadcast()
		}
	}
	return n, nil
}

func (q *memQueue) Get(ctx context.Context) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err // cancelled: leave the rest in the queue, to be counted
	}
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	for q.n == 0 {
		if q.closed {
			return Item{}, errClosed
		}
		if err := q.w.wait(ctx, &q.notEmpty, opGet, q); err != nil {
			return Item{}, err
		}
	}
	it, stamp := q.pop()
	if !it.marker {
		q.stats.Taken++
	}
	if stamp != 0 {
		q.recordWait(stamp)
	}
	q.notFull.Signal()
	if q.w.obs != nil {
		q.takeEvent(ctx, it)
	}
	return it, nil
}

// recordWait adds the wait of an item stamped at put. Call with the lock
// held.
//
//go:noinline
func (q *memQueue) recordWait(put int64) {
	if q.waits == nil {
		q.waits = new(observe.Histogram)
	}
	q.waits.Add(q.w.clock.now() - put)
}

// takeEvent reports an item (or end marker) just taken. Call with the
// lock held. (Apart from Get, so that Get's frame stays small.)
//
//go:noinline
func (q *memQueue) takeEvent(ctx context.Context, it Item) {
	e := observe.Event{Kind: observe.EventTaken, Queue: q.name, Item: it.ID, Depth: q.n}
	if w := workerFrom(ctx); w != nil {
		e.Stage, e.Worker = w.stage, w.name
	}
	q.w.event(e)
}

// Ack is safe without the lock: a joiner counts itself in joiners before
// it reads unfinished under the lock, so when the last acknowledgement
// brings unfinished to 0, either the joiner reads 0, or this Ack sees it
// counted and wakes it under the lock (after it waits: Wait releases the
// lock atomically). A worker inside Ack is live, not waiting, so no stall
// is reported while an acknowledgement is under way.
func (q *memQueue) Ack(it Item) {
	if it.marker {
		return
	}
	if q.unfinished.Add(-1) == 0 && q.joiners.Load() > 0 {
		q.w.mu.Lock()
		q.idle.Broadcast()
		q.w.mu.Unlock()
	}
}

func (q *memQueue) Join(ctx context.Context) error {
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	q.joiners.Add(1)
	defer q.joiners.Add(-1)
	for q.unfinished.Load() > 0 {
		if err := q.w.wait(ctx, &q.idle, opJoin, q); err != nil {
			return err
		}
	}
	return nil
}

func (q *memQueue) Close() {
	q.w.mu.Lock()
	if !q.closed {
		q.w.event(observe.Event{Kind: observe.EventClosed, Queue: q.name, Depth: -1})
	}
	q.closed = true
	q.notEmpty.Broadcast()
	q.notFull.Broadcast()
	q.w.mu.Unlock()
}

func (q *memQueue) Drain() []Item {
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	var out []Item
	for q.n > 0 {
		if it, _ := q.pop(); !it.marker {
			out = append(out, it)
			q.unfinished.Add(-1)
		}
	}
	q.stats.Abandoned += int64(len(out))
	return out
}

func (q *memQueue) Stats() observe.QueueStats {
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	s := q.stats
	s.Depth = q.n
	if q.waits != nil {
		s.Wait = q.waits.Stats()
	}
	return s
}

// idleNow reports whether the queue holds no unfinished item.
func (q *memQueue) idleNow() bool {
	return q.unfinished.Load() == 0
}
