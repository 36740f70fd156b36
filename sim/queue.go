package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// simQueue is a memory queue on the simulator's virtual clock: FIFO, with
// a capacity (0: unbounded); a worker that must wait joins the queue's
// list of getters, putters or joiners and hands the baton back, and is
// made due again, first come first served, when the queue changes. It
// measures the wait of every item, from put to take.
type simQueue struct {
	s        *scheduler
	env      *queue.Env
	name     string
	capacity int
	buf      []simSlot
	head     int
	closed   bool
	readers  int // reader replicas: the end markers to put (sentinel)
	writers  int // writer replicas still putting
	// unfinished counts the items put and not yet acknowledged.
	unfinished int64
	getters    []*proc
	putters    []*proc
	joiners    []*proc
	stats      observe.QueueStats
	waits      observe.Histogram
}

type simSlot struct {
	it queue.Item
	at time.Duration // when it was put
}

var _ queue.Queue = (*simQueue)(nil)

func newSimQueue(s *scheduler, env *queue.Env, name string, capacity, writers, readers int) *simQueue {
	return &simQueue{s: s, env: env, name: name, capacity: capacity, writers: writers, readers: readers,
		stats: observe.QueueStats{Name: name, Capacity: capacity}}
}

// WriterDone ends the queue after its last writer replica; with no
// writer at all, the call with stage "" ends it.
func (q *simQueue) WriterDone(ctx context.Context, stage string) error {
	if stage != "" {
		q.writers--
	}
	if q.writers == 0 {
		queue.End(ctx, q, q.env.Strategy, q.readers, q.env.Log)
	}
	return nil
}

func (q *simQueue) Name() string { return q.name }
func (q *simQueue) len() int     { return len(q.buf) - q.head }
func (q *simQueue) full() bool   { return q.capacity > 0 && q.len() >= q.capacity }

func (q *simQueue) satisfiable(op queue.Op) bool {
	switch op {
	case queue.OpGet:
		return q.len() > 0 || q.closed
	case queue.OpPut:
		return !q.full() || q.closed
	}
	return q.unfinished == 0
}

func (q *simQueue) pop() simSlot {
	sl := q.buf[q.head]
	q.buf[q.head] = simSlot{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return sl
}

// wait puts the worker of ctx on list and hands the baton back until it
// is woken (the queue changed, or ctx ended); it counts the wait as the
// stage's idle or blocked time and reports it.
func (q *simQueue) wait(ctx context.Context, op queue.Op, list *[]*proc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := q.s
	p := s.running()
	p.state, p.op, p.q, p.list, p.wctx, p.since = procWaiting, op, q, list, ctx, s.now
	p.who = queue.WorkerFrom(ctx)
	*list = append(*list, p)
	s.busy--
	s.yield <- struct{}{}
	<-p.wake
	d := s.now - p.since
	if p.who != nil {
		p.who.Waited(op, d)
		if q.env.Observe != nil {
			q.env.Event(p.who.WaitEvent(op, q.name, d))
		}
	}
	return ctx.Err()
}

// wakeFirst makes the first waiter of list due now.
func (q *simQueue) wakeFirst(list []*proc) {
	if len(list) > 0 {
		q.s.unwait(list[0])
	}
}

func (q *simQueue) wakeAll(list *[]*proc) {
	for len(*list) > 0 {
		q.s.unwait((*list)[0])
	}
}

func (q *simQueue) Put(ctx context.Context, it queue.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for q.full() && !q.closed {
		if err := q.wait(ctx, queue.OpPut, &q.putters); err != nil {
			return err
		}
	}
	if q.closed {
		return fmt.Errorf("%w: %s", queue.ErrPutClosed, q.name)
	}
	q.buf = append(q.buf, simSlot{it: it, at: q.s.now})
	if it.Marker {
		q.stats.Markers++
	} else {
		q.unfinished++
		q.stats.Put++
	}
	q.stats.MaxDepth = max(q.stats.MaxDepth, q.len())
	q.wakeFirst(q.getters)
	if q.env.Observe != nil {
		q.env.Event(queue.PutEvent(ctx, q.name, it, q.len()))
	}
	return nil
}

func (q *simQueue) Get(ctx context.Context) (queue.Item, error) {
	if err := ctx.Err(); err != nil {
		return queue.Item{}, err
	}
	for q.len() == 0 {
		if q.closed {
			return queue.Item{}, queue.ErrClosed
		}
		if err := q.wait(ctx, queue.OpGet, &q.getters); err != nil {
			return queue.Item{}, err
		}
	}
	sl := q.pop()
	if !sl.it.Marker {
		q.stats.Taken++
		q.waits.Add(int64(q.s.now - sl.at))
	}
	q.wakeFirst(q.putters)
	if q.env.Observe != nil {
		q.env.Event(queue.TakeEvent(ctx, q.name, sl.it, q.len()))
	}
	return sl.it, nil
}

func (q *simQueue) Ack(it queue.Item) {
	if it.Marker {
		return
	}
	if q.unfinished--; q.unfinished == 0 {
		q.wakeAll(&q.joiners)
	}
}

func (q *simQueue) Join(ctx context.Context) error {
	for q.unfinished > 0 {
		if err := q.wait(ctx, queue.OpJoin, &q.joiners); err != nil {
			return err
		}
	}
	return nil
}

func (q *simQueue) Close() {
	if !q.closed {
		q.env.Event(observe.Event{Kind: observe.EventClosed, Queue: q.name, Depth: -1})
	}
	q.closed = true
	q.wakeAll(&q.getters)
	q.wakeAll(&q.putters)
}

func (q *simQueue) Drain() []queue.Item {
	var out []queue.Item
	for q.len() > 0 {
		if sl := q.pop(); !sl.it.Marker {
			out = append(out, sl.it)
			q.unfinished--
		}
	}
	q.stats.Abandoned += int64(len(out))
	return out
}

func (q *simQueue) Stats() observe.QueueStats {
	st := q.stats
	st.Depth = q.len()
	if q.waits.N() > 0 {
		st.Wait = q.waits.Stats()
	}
	return st
}

// backend opens every queue of a simulated run on the scheduler
// (pipeline.Options.Backend).
type backend struct{ s *scheduler }

func (b backend) Open(_ context.Context, env *queue.Env, specs []*queue.Spec) (queue.Set, error) {
	st := &set{}
	for _, sp := range specs {
		capacity := sp.Capacity
		if sp.Unbounded {
			capacity = 0
		}
		st.queues = append(st.queues, newSimQueue(b.s, env, sp.Name, capacity, sp.LocalWriters(), sp.ReaderReplicas))
	}
	b.s.sets = append(b.s.sets, st)
	return st, nil
}

// set is a simulated run's queues. It is a queue.Tracker whose stalls the
// scheduler finds itself (no worker can run), so Enter and Leave have
// nothing to count.
type set struct{ queues []*simQueue }

var _ queue.Tracker = (*set)(nil)

func (st *set) Queues() []queue.Queue {
	out := make([]queue.Queue, len(st.queues))
	for i, q := range st.queues {
		out[i] = q
	}
	return out
}

func (st *set) Start(context.Context) error { return nil }
func (st *set) Close()                      {}
func (st *set) Enter()                      {}
func (st *set) Leave()                      {}
func (st *set) Stalls() <-chan queue.Stall  { return nil }

// Idle reports whether no queue holds an unfinished item.
func (st *set) Idle(context.Context) bool {
	for _, q := range st.queues {
		if q.unfinished > 0 {
			return false
		}
	}
	return true
}
