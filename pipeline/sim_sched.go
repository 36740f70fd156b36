package pipeline

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// The simulator's scheduler: the workers (procs), the heap of what is due
// when, the baton passed between them, and the supervisor's work (stalls,
// deadline, grace) done between two workers. See sim.go.

// proc is one simulated worker.
type proc struct {
	id    int
	w     *worker
	wake  chan struct{}
	gen   uint64 // bumped each time it is made due: older heap entries are stale
	state procState
	// While waiting on a queue (or sleeping): on what, since when, and
	// the context that ends the wait.
	op    queue.Op
	q     *simQueue
	list  *[]*proc
	wctx  context.Context
	since time.Duration
}

type procState uint8

const (
	procDue      procState = iota // in the heap, to run at its time
	procRunning                   // holds the baton
	procSleeping                  // in the heap, at the end of a delay or sleep
	procWaiting                   // on a queue's list, not in the heap
	procExited
)

// supervisor timers, also in the heap.
const (
	supNone = iota
	supDeadline
	supGrace
	supUntil
)

type simEntry struct {
	at  time.Duration
	seq uint64
	p   *proc
	gen uint64
	sup int
}

type simHeap []simEntry

func (h simHeap) Len() int { return len(h) }
func (h simHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h simHeap) Swap(i, j int)    { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)      { *h = append(*h, x.(simEntry)) }
func (h *simHeap) Pop() any        { o := *h; e := o[len(o)-1]; *h = o[:len(o)-1]; return e }
func (h *simHeap) push(e simEntry) { heap.Push(h, e) }

// spawn starts a worker's goroutine, due now; it waits for the baton.
func (s *sim) spawn(w *worker, f func(*proc)) {
	p := &proc{id: len(s.procs), w: w, wake: make(chan struct{})}
	s.procs = append(s.procs, p)
	s.alive++
	s.busy++
	s.due(p, s.now)
	s.wg.Go(func() {
		<-p.wake
		f(p)
		p.state = procExited
		s.alive--
		s.busy--
		s.yield <- struct{}{}
	})
}

// due puts p into the heap, to run at time at.
func (s *sim) due(p *proc, at time.Duration) {
	p.gen++
	s.seq++
	s.h.push(simEntry{at: at, seq: s.seq, p: p, gen: p.gen})
}

func (s *sim) timer(at time.Duration, kind int) {
	s.seq++
	s.h.push(simEntry{at: at, seq: s.seq, sup: kind})
}

// loop runs workers until every one has exited.
func (s *sim) loop(ctx context.Context) {
	signals := s.r.opts.Signals
	nsig := 0
	for s.alive > 0 {
		select {
		case <-ctx.Done():
			if s.stop == nil {
				s.stop = context.Cause(ctx)
			}
			s.hardCancel(s.stop)
			ctx = context.Background()
		case <-signals:
			if nsig++; nsig == 1 {
				if s.stop != nil {
					s.stop = ErrInterrupted
				} else {
					s.begin(ErrInterrupted, "interrupted (interrupt again to cancel at once)")
				}
			} else {
				s.stop = ErrInterrupted
				s.hardCancel(ErrInterrupted)
				signals = nil
			}
		default:
		}
		if s.busy == 0 {
			s.stalled()
			if s.busy == 0 {
				panic("pcrun bug: a simulation stalled after cancelling its workers")
			}
			continue
		}
		e := heap.Pop(&s.h).(simEntry)
		if e.p != nil && e.gen != e.p.gen {
			continue // stale: woken earlier, or cancelled
		}
		s.now = max(s.now, e.at)
		switch e.sup {
		case supDeadline:
			s.begin(errDeadline, fmt.Sprintf("deadline %s reached", s.r.g.Deadline))
			continue
		case supGrace:
			s.r.opts.Log.Warn(fmt.Sprintf("grace period %s over: cancelling workers", s.r.g.Grace), "grace", s.r.g.Grace)
			s.hardCancel(s.stop)
			continue
		case supUntil:
			if s.stop == nil {
				s.stop = errUntil
				s.r.opts.Log.Warn(fmt.Sprintf("simulated %s (--until): stopping", s.so.Until), "stop", "deadline")
				s.softStop(errUntil)
			}
			s.hardCancel(errUntil)
			continue
		}
		p := e.p
		p.state = procRunning
		p.wake <- struct{}{}
		<-s.yield
	}
}

// stalled handles the moment no worker can run and some wait on queues,
// as Run's supervisor handles a stall.
func (s *sim) stalled() {
	for _, p := range s.procs { // a waiter that could go on (never expected): wake it
		if p.state == procWaiting && p.q.satisfiable(p.op) {
			s.unwait(p)
			return
		}
	}
	switch {
	case s.r.g.Strategy == config.Join && s.stop == nil && s.joined():
		s.hardCancel(errFinished) // every item is done: stop the daemon consumers
	case s.stop != nil:
		s.hardCancel(s.stop) // drained as far as anything can go
	default:
		st := queue.Stall{}
		for _, p := range s.procs {
			if p.state == procWaiting {
				st.Waits = append(st.Waits, queue.Wait{Worker: p.w.Name, Op: p.op.String(), Queue: p.q.name,
					Depth: p.q.len(), Capacity: p.q.capacity})
			}
		}
		st.Sort()
		s.deadlock = &DeadlockError{Stall: st, Strategy: string(s.r.g.Strategy)}
		s.r.event(observe.Event{Kind: observe.EventDeadlock, Msg: s.deadlock.Error(), Depth: -1})
		s.stop = s.deadlock
		s.softStop(s.deadlock)
		s.hardCancel(s.deadlock)
	}
}

func (s *sim) joined() bool {
	if s.producersLeft > 0 {
		return false
	}
	for _, q := range s.queues {
		if q.unfinished > 0 {
			return false
		}
	}
	return true
}

// begin stops the producers, as the supervisor's begin does: the queues
// drain for the grace period, then the workers are cancelled.
func (s *sim) begin(cause error, notice string) {
	if s.stop != nil {
		return
	}
	s.stop = cause
	s.softStop(cause)
	g := s.r.g
	if g.Grace == 0 {
		s.r.opts.Log.Warn(notice+": producers stopped; no grace period, cancelling workers", "stop", reasonOf(cause))
		s.hardCancel(cause)
		return
	}
	s.r.opts.Log.Warn(fmt.Sprintf("%s: producers stopped; draining queues for up to %s", notice, g.Grace),
		"stop", reasonOf(cause), "grace", g.Grace)
	s.timer(s.now+g.Grace, supGrace)
}

func (s *sim) softStop(cause error) {
	s.r.softStop(cause)
	s.wakeCancelled()
}

func (s *sim) hardCancel(cause error) {
	s.r.hardCancel(cause)
	s.wakeCancelled()
}

// wakeCancelled makes every waiting or sleeping worker whose context
// ended due now, in the order they started.
func (s *sim) wakeCancelled() {
	for _, p := range s.procs {
		switch {
		case p.state == procWaiting && p.wctx.Err() != nil:
			s.unwait(p)
		case p.state == procSleeping && p.wctx.Err() != nil:
			p.state = procDue
			s.due(p, s.now)
		}
	}
}

// unwait takes a waiting worker off its queue's list and makes it due now.
func (s *sim) unwait(p *proc) {
	l := *p.list
	for i, x := range l {
		if x == p {
			*p.list = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	p.state = procDue
	s.busy++
	s.due(p, s.now)
}

// sleep waits d of virtual time, or until ctx ends. Called by the
// running worker of ctx.
func (s *sim) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 || ctx.Err() != nil {
		return ctx.Err()
	}
	p := procOf(ctx)
	p.state, p.wctx = procSleeping, ctx
	s.due(p, s.now+d)
	s.yield <- struct{}{}
	<-p.wake
	return ctx.Err()
}
