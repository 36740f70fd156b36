package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// memQueue is the in-process queue. It blocks on sync.Cond (so tests in a
// synctest bubble see its waits as durable) and grows a ring buffer up to
// its capacity.
type memQueue struct {
	w        *world
	name     string
	capacity int // 0: unbounded
	readers  int // reader replicas: the end markers to put (sentinel)
	// writersLeft counts the writer replicas still putting; the last
	// to finish ends the queue (WriterDone).
	writersLeft atomic.Int64
	buf         []queue.Item
	stamps      []int64 // beside buf: when each was put, for its wait (sampled); 0: not sampled
	head, n     int
	closed      bool
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
	waits      *observe.Histogram // sampled waits from put to take (sampled); nil until the first
}

func newMemQueue(w *world, name string, capacity, writers, readers int) *memQueue {
	q := &memQueue{w: w, name: name, capacity: capacity, readers: readers}
	q.writersLeft.Store(int64(writers))
	q.notEmpty.L, q.notFull.L, q.idle.L = &w.mu, &w.mu, &w.mu
	q.stats = observe.QueueStats{Name: name, Capacity: capacity}
	return q
}

func (q *memQueue) Name() string { return q.name }
func (q *memQueue) len() int     { return q.n }
func (q *memQueue) full() bool   { return q.capacity > 0 && q.n >= q.capacity }

func (q *memQueue) push(it queue.Item, stamp int64) {
	if q.n == len(q.buf) {
		size := max(16, 2*len(q.buf))
		if q.capacity > 0 {
			size = min(size, q.capacity)
		}
		nb, ns := make([]queue.Item, size), make([]int64, size)
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
func (q *memQueue) pop() (queue.Item, int64) {
	it, stamp := q.buf[q.head], q.stamps[q.head]
	q.buf[q.head] = queue.Item{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return it, stamp
}

func (q *memQueue) Put(ctx context.Context, it queue.Item) error {
	if err := ctx.Err(); err != nil {
		return err // cancelled: never block, never add
	}
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	for q.full() {
		if err := q.w.wait(ctx, &q.notFull, queue.OpPut, q); err != nil {
			return err
		}
	}
	if q.closed {
		return fmt.Errorf("%w: %s", queue.ErrPutClosed, q.name)
	}
	var stamp int64
	if sampled(it.ID) && !it.Marker {
		stamp = q.w.now()
	}
	q.push(it, stamp)
	if it.Marker {
		q.stats.Markers++
	} else {
		q.unfinished.Add(1)
		q.stats.Put++
	}
	q.stats.MaxDepth = max(q.stats.MaxDepth, q.n)
	q.notEmpty.Signal()
	if q.w.env.Observe != nil {
		q.putEvent(ctx, it)
	}
	return nil
}

// putEvent reports an item (or end marker) just put. Call with the lock
// held, so that the queue's events come in the order of its operations.
//
//go:noinline
func (q *memQueue) putEvent(ctx context.Context, it queue.Item) {
	q.w.env.Event(queue.PutEvent(ctx, q.name, it, q.n))
}

// PutBatch puts items in order, as that many Puts would, taking the lock
// once for as many as fit: it blocks while the queue holds `capacity`
// items, exactly as Put does. It returns how many it put; those after
// them were not put (ctx ended, or the queue was closed).
func (q *memQueue) PutBatch(ctx context.Context, items []queue.Item) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	n := 0
	for n < len(items) {
		for q.full() {
			if err := q.w.wait(ctx, &q.notFull, queue.OpPut, q); err != nil {
				return n, err
			}
		}
		if q.closed {
			return n, fmt.Errorf("%w: %s", queue.ErrPutClosed, q.name)
		}
		k := 0
		var now int64 // one clock read for the sampled items of the lot
		for ; n < len(items) && !q.full(); n, k = n+1, k+1 {
			var stamp int64
			if sampled(items[n].ID) {
				if now == 0 {
					now = q.w.now()
				}
				stamp = now
			}
			q.push(items[n], stamp)
			if q.w.env.Observe != nil {
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

func (q *memQueue) Get(ctx context.Context) (queue.Item, error) {
	if err := ctx.Err(); err != nil {
		return queue.Item{}, err // cancelled: leave the rest in the queue, to be counted
	}
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	for q.n == 0 {
		if q.closed {
			return queue.Item{}, queue.ErrClosed
		}
		if err := q.w.wait(ctx, &q.notEmpty, queue.OpGet, q); err != nil {
			return queue.Item{}, err
		}
	}
	it, stamp := q.pop()
	if !it.Marker {
		q.stats.Taken++
	}
	if stamp != 0 {
		q.recordWait(stamp)
	}
	q.notFull.Signal()
	if q.w.env.Observe != nil {
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
	q.waits.Add(q.w.now() - put)
}

// takeEvent reports an item (or end marker) just taken. Call with the
// lock held. (Apart from Get, so that Get's frame stays small.)
//
//go:noinline
func (q *memQueue) takeEvent(ctx context.Context, it queue.Item) {
	q.w.env.Event(queue.TakeEvent(ctx, q.name, it, q.n))
}

// Ack is safe without the lock: a joiner counts itself in joiners before
// it reads unfinished under the lock, so when the last acknowledgement
// brings unfinished to 0, either the joiner reads 0, or this Ack sees it
// counted and wakes it under the lock (after it waits: Wait releases the
// lock atomically). A worker inside Ack is live, not waiting, so no stall
// is reported while an acknowledgement is under way.
func (q *memQueue) Ack(it queue.Item) {
	if it.Marker {
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
		if err := q.w.wait(ctx, &q.idle, queue.OpJoin, q); err != nil {
			return err
		}
	}
	return nil
}

func (q *memQueue) Close() {
	q.w.mu.Lock()
	if !q.closed {
		q.w.env.Event(observe.Event{Kind: observe.EventClosed, Queue: q.name, Depth: -1})
	}
	q.closed = true
	q.notEmpty.Broadcast()
	q.notFull.Broadcast()
	q.w.mu.Unlock()
}

func (q *memQueue) Drain() []queue.Item {
	q.w.mu.Lock()
	defer q.w.mu.Unlock()
	var out []queue.Item
	for q.n > 0 {
		if it, _ := q.pop(); !it.Marker {
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

// WriterDone ends the queue after its last writer replica; with no
// writer at all, the call with stage "" ends it.
func (q *memQueue) WriterDone(ctx context.Context, stage string) error {
	if stage == "" && q.writersLeft.Load() == 0 || stage != "" && q.writersLeft.Add(-1) == 0 {
		queue.End(ctx, q, q.w.env.Strategy, q.readers, q.w.env.Log)
	}
	return nil
}

// idleNow reports whether the queue holds no unfinished item.
func (q *memQueue) idleNow() bool {
	return q.unfinished.Load() == 0
}
