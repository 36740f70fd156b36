package sim

import (
	"container/heap"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/queue"
)

// scheduler is the simulator's pipeline.Clock: the workers (procs), the
// heap of what is due when, the baton passed between them, and the
// supervisor's events delivered between two workers. See sim.go.
type scheduler struct {
	now   time.Duration
	until time.Duration // Options.Until; 0: none
	seq   uint64
	h     entries
	procs []*proc
	cur   *proc // the proc holding the baton; nil between two
	alive int   // procs not exited
	busy  int   // alive procs not waiting on a queue (running, due or sleeping)
	yield chan struct{}
	wg    sync.WaitGroup
	sets  []*set // the run's queues (queue.go)
}

var _ pipeline.Clock = (*scheduler)(nil)

func newScheduler(until time.Duration) *scheduler {
	return &scheduler{until: until, yield: make(chan struct{})}
}

// proc is one simulated worker.
type proc struct {
	wake  chan struct{}
	gen   uint64 // bumped each time it is made due: older heap entries are stale
	state procState
	// While waiting on a queue (or sleeping): on what, since when, who
	// (for a stall's report), and the context that ends the wait.
	op    queue.Op
	q     *simQueue
	list  *[]*proc
	who   *queue.Worker
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

// entry is a proc due at a time, or a timer (f).
type entry struct {
	at  time.Duration
	seq uint64
	p   *proc
	gen uint64
	f   *func()
}

type entries []entry

func (h entries) Len() int { return len(h) }
func (h entries) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h entries) Swap(i, j int)           { h[i], h[j] = h[j], h[i] }
func (h *entries) Push(x any)             { *h = append(*h, x.(entry)) }
func (h *entries) Pop() any               { o := *h; e := o[len(o)-1]; *h = o[:len(o)-1]; return e }
func (h *entries) push(e entry)           { heap.Push(h, e) }
func (s *scheduler) Since() time.Duration { return s.now }

// Begin returns the Unix epoch: a simulated run prints the same events
// every time.
func (s *scheduler) Begin() time.Time { return time.Unix(0, 0).UTC() }

// Go makes a worker due now; its goroutine waits for the baton.
func (s *scheduler) Go(f func()) {
	p := &proc{wake: make(chan struct{})}
	s.procs = append(s.procs, p)
	s.alive++
	s.busy++
	s.due(p, s.now)
	s.wg.Go(func() {
		<-p.wake
		f()
		p.state = procExited
		s.alive--
		s.busy--
		s.yield <- struct{}{}
	})
}

// due puts p into the heap, to run at time at.
func (s *scheduler) due(p *proc, at time.Duration) {
	p.gen++
	s.seq++
	s.h.push(entry{at: at, seq: s.seq, p: p, gen: p.gen})
}

// AfterFunc calls f at now+d, between two workers. Stopping it leaves a
// stale entry that is passed over.
func (s *scheduler) AfterFunc(d time.Duration, f func()) (stop func()) {
	s.seq++
	fp := &f
	s.h.push(entry{at: s.now + d, seq: s.seq, f: fp})
	return func() { *fp = nil }
}

// Post calls f at once: its caller holds the baton, so nothing else runs.
// Workers whose contexts f ends are made due now.
func (s *scheduler) Post(f func()) {
	f()
	s.wakeCancelled()
}

// Sleep waits d of virtual time, or until ctx ends. Called by the worker
// holding the baton.
func (s *scheduler) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 || ctx.Err() != nil {
		return ctx.Err()
	}
	p := s.running()
	p.state, p.wctx = procSleeping, ctx
	s.due(p, s.now+d)
	s.yield <- struct{}{}
	<-p.wake
	return ctx.Err()
}

// running is the proc holding the baton.
func (s *scheduler) running() *proc {
	if s.cur == nil {
		panic("pcrun bug: a simulated blocking call outside a simulated worker")
	}
	return s.cur
}

// Supervise runs workers until every one has exited, delivering the
// supervisor's events between two of them.
func (s *scheduler) Supervise(ctx context.Context, sup pipeline.Supervisor, in pipeline.Inbox) {
	if s.until > 0 {
		s.AfterFunc(s.until, func() { sup.Expire(errUntil, fmt.Sprintf("simulated %s (--until): stopping", s.until)) })
	}
	signals := in.Signals
	for s.alive > 0 {
		if s.deliver(&ctx, &signals, sup, in) {
			s.wakeCancelled()
		}
		if s.busy == 0 {
			s.stalled(sup)
			continue
		}
		e := heap.Pop(&s.h).(entry)
		if e.p != nil && e.gen != e.p.gen || e.f != nil && *e.f == nil {
			continue // stale: woken earlier, cancelled, or stopped
		}
		s.now = max(s.now, e.at)
		if e.f != nil {
			(*e.f)()
			s.wakeCancelled()
			continue
		}
		s.cur = e.p
		e.p.state = procRunning
		e.p.wake <- struct{}{}
		<-s.yield
		s.cur = nil
	}
	s.wg.Wait()
}

// deliver hands the supervisor what arrived since the last worker ran:
// the end of ctx and signals. It reports whether it did anything.
func (s *scheduler) deliver(ctx *context.Context, signals *<-chan os.Signal, sup pipeline.Supervisor, in pipeline.Inbox) bool {
	select {
	case <-(*ctx).Done():
		sup.Cancelled(context.Cause(*ctx))
		*ctx = context.Background()
		return true
	case <-*signals:
		sup.Signal()
		return true
	default:
		return false
	}
}

// stalled handles the moment no worker can run and some wait on queues,
// as a real run's tracker reports a stall.
func (s *scheduler) stalled(sup pipeline.Supervisor) {
	for _, p := range s.procs { // a waiter that could go on (never expected): wake it
		if p.state == procWaiting && p.q.satisfiable(p.op) {
			s.unwait(p)
			return
		}
	}
	st := queue.Stall{}
	for _, p := range s.procs {
		if p.state == procWaiting {
			st.Waits = append(st.Waits, queue.Wait{Worker: p.who.Name, Op: p.op.String(), Queue: p.q.name,
				Depth: p.q.len(), Capacity: p.q.capacity})
		}
	}
	st.Sort()
	sup.Stalled(st)
	s.wakeCancelled()
	if s.busy == 0 {
		panic("pcrun bug: a simulation stalled after cancelling its workers")
	}
}

// wakeCancelled makes every waiting or sleeping worker whose context
// ended due now, in the order they started.
func (s *scheduler) wakeCancelled() {
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
func (s *scheduler) unwait(p *proc) {
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
