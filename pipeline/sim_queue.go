package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/observe"
)

// simQueue is a memory queue on the simulator's virtual clock: FIFO, with
// a capacity (0: unbounded); a worker that must wait joins the queue's
// list of getters, putters or joiners and hands the baton back, and is
// made due again, first come first served, when the queue changes. It
// measures the wait of every item, from put to take.
type simQueue struct {
	s        *sim
	name     string
	capacity int
	buf      []simSlot
	head     int
	closed   bool
	// unfinished counts the items put and not yet acknowledged.
	unfinished int64
	getters    []*proc
	putters    []*proc
	joiners    []*proc
	stats      observe.QueueStats
	waits      observe.Histogram
}

type simSlot struct {
	it Item
	at time.Duration // when it was put
}

var _ Queue = (*simQueue)(nil)

func newSimQueue(s *sim, name string, capacity int) *simQueue {
	return &simQueue{s: s, name: name, capacity: capacity, stats: observe.QueueStats{Name: name, Capacity: capacity}}
}

func (q *simQueue) Name() string { return q.name }
func (q *simQueue) len() int     { return len(q.buf) - q.head }
func (q *simQueue) full() bool   { return q.capacity > 0 && q.len() >= q.capacity }

func (q *simQueue) satisfiable(op waitOp) bool {
	switch op {
	case opGet:
		return q.len() > 0 || q.closed
	case opPut:
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
func (q *simQueue) wait(ctx context.Context, op waitOp, list *[]*proc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := q.s
	p := procOf(ctx)
	p.state, p.op, p.q, p.list, p.wctx, p.since = procWaiting, op, q, list, ctx, s.now
	*list = append(*list, p)
	s.busy--
	s.yield <- struct{}{}
	<-p.wake
	d := s.now - p.since
	kind := observe.EventIdle
	if op == opPut {
		kind = observe.EventBlocked
	}
	if c := p.w.c; c != nil && kind == observe.EventBlocked {
		c.blocked.Add(int64(d))
	} else if c != nil {
		c.idle.Add(int64(d))
	}
	s.r.world.event(observe.Event{Kind: kind, Stage: p.w.stage, Worker: p.w.name, Queue: q.name, Dur: d, Depth: -1})
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

func (q *simQueue) Put(ctx context.Context, it Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for q.full() && !q.closed {
		if err := q.wait(ctx, opPut, &q.putters); err != nil {
			return err
		}
	}
	if q.closed {
		return fmt.Errorf("%w: %s", errPutClosed, q.name)
	}
	q.buf = append(q.buf, simSlot{it: it, at: q.s.now})
	if it.marker {
		q.stats.Markers++
	} else {
		q.unfinished++
		q.stats.Put++
	}
	q.stats.MaxDepth = max(q.stats.MaxDepth, q.len())
	q.wakeFirst(q.getters)
	if q.s.r.opts.Observer != nil {
		q.s.r.world.event(putEvent(ctx, q.name, it, q.len()))
	}
	return nil
}

func (q *simQueue) Get(ctx context.Context) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	for q.len() == 0 {
		if q.closed {
			return Item{}, errClosed
		}
		if err := q.wait(ctx, opGet, &q.getters); err != nil {
			return Item{}, err
		}
	}
	sl := q.pop()
	if !sl.it.marker {
		q.stats.Taken++
		q.waits.Add(int64(q.s.now - sl.at))
	}
	q.wakeFirst(q.putters)
	if q.s.r.opts.Observer != nil {
		e := observe.Event{Kind: observe.EventTaken, Queue: q.name, Item: sl.it.ID, Depth: q.len()}
		if w := workerFrom(ctx); w != nil {
			e.Stage, e.Worker = w.stage, w.name
		}
		q.s.r.world.event(e)
	}
	return sl.it, nil
}

func (q *simQueue) Ack(it Item) {
	if it.marker {
		return
	}
	if q.unfinished--; q.unfinished == 0 {
		q.wakeAll(&q.joiners)
	}
}

func (q *simQueue) Join(ctx context.Context) error {
	for q.unfinished > 0 {
		if err := q.wait(ctx, opJoin, &q.joiners); err != nil {
			return err
		}
	}
	return nil
}

func (q *simQueue) Close() {
	if !q.closed {
		q.s.r.world.event(observe.Event{Kind: observe.EventClosed, Queue: q.name, Depth: -1})
	}
	q.closed = true
	q.wakeAll(&q.getters)
	q.wakeAll(&q.putters)
}

func (q *simQueue) Drain() []Item {
	var out []Item
	for q.len() > 0 {
		if sl := q.pop(); !sl.it.marker {
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
