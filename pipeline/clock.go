package pipeline

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/pcrun/pcrun/internal/wait"
	"github.com/pcrun/pcrun/queue"
)

// Clock is the time a run runs on, and how its goroutines take turns
// (Options.Clock). The real clock (nil Options.Clock) runs the workers as
// goroutines on wall time. A virtual clock (package sim) runs them one at a
// time on simulated time, so that the same run, with the same code, is
// deterministic and a pipeline of minutes ends in milliseconds.
//
// A Clock serves one run: Run calls Begin, Go for every worker, then
// Supervise, which returns once every one of them has returned.
type Clock interface {
	// Begin marks the start of the run, just before its workers start,
	// and returns its wall-clock time, for the run's first event.
	Begin() time.Time
	// Since is the time since the run started.
	Since() time.Duration
	// Sleep waits d, or until ctx ends (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
	// AfterFunc calls f after d, inside Supervise's loop: never at the
	// same time as a Supervisor method or another such f. stop cancels
	// the call if it has not happened yet.
	AfterFunc(d time.Duration, f func()) (stop func())
	// Post hands f, a supervisor's event raised by a worker (a failure),
	// to Supervise's loop. The real clock queues it (one pending post is
	// enough: f must be one that repeating changes nothing); a virtual
	// clock calls it at once, its caller holding the baton.
	Post(f func())
	// Go starts f, a worker of the run. Call it before Supervise.
	Go(f func())
	// Supervise delivers what the inbox brings, and ctx's end, to s, one
	// call at a time, and runs the AfterFunc calls, until every worker
	// started with Go has returned.
	Supervise(ctx context.Context, s Supervisor, in Inbox)
}

// Supervisor decides how a run stops (supervise.go). A Clock's Supervise
// calls its methods one at a time.
type Supervisor interface {
	// Stalled: no live worker can make progress (a Tracker's report).
	Stalled(queue.Stall)
	// Signal: a SIGINT or SIGTERM.
	Signal()
	// Abort: the run cannot go on (a queue's broker said so).
	Abort(err error)
	// Cancelled: the run's context ended, for cause.
	Cancelled(cause error)
	// Expire: the time the run was given is over: producers stop and
	// every worker is cancelled at once.
	Expire(cause error, notice string)
}

// Inbox is what a clock's Supervise watches besides its timers and ctx.
type Inbox struct {
	Stalls  <-chan queue.Stall // nil: no tracker
	Signals <-chan os.Signal
	Aborts  <-chan error
}

// realClock runs a run on wall time, its workers as goroutines.
type realClock struct {
	start time.Time
	wg    sync.WaitGroup
	// fired holds the AfterFunc calls due, for Supervise to make. A run
	// has three timers at most (deadline, grace, join poll), each armed
	// once at a time, so a send never finds it full.
	fired chan func()
	// posted holds a worker's Post, for Supervise to call.
	posted chan func()
}

func newRealClock() *realClock {
	return &realClock{start: time.Now(), fired: make(chan func(), 8), posted: make(chan func(), 1)}
}

func (c *realClock) Begin() time.Time {
	c.start = time.Now()
	return c.start
}
func (c *realClock) Since() time.Duration { return time.Since(c.start) }
func (c *realClock) Go(f func())          { c.wg.Go(f) }
func (c *realClock) Sleep(ctx context.Context, d time.Duration) error {
	return wait.For(ctx, d)
}

// AfterFunc hands f to Supervise when d has passed. The timer's own
// goroutine only sends, and the channel has room: it never blocks.
func (c *realClock) AfterFunc(d time.Duration, f func()) (stop func()) {
	t := time.AfterFunc(d, func() {
		select {
		case c.fired <- f:
		default:
			panic("pcrun bug: more timers than the run arms")
		}
	})
	return func() { t.Stop() }
}

// Post queues f unless a post is pending already.
func (c *realClock) Post(f func()) {
	select {
	case c.posted <- f:
	default:
	}
}

// Supervise is the run's select loop.
func (c *realClock) Supervise(ctx context.Context, s Supervisor, in Inbox) {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }() // ends when the workers do, before Supervise returns
	signals := in.Signals
	for {
		select {
		case <-done:
			return
		case st := <-in.Stalls:
			s.Stalled(st)
		case <-signals:
			s.Signal()
		case f := <-c.posted:
			f()
		case err := <-in.Aborts:
			s.Abort(err)
		case f := <-c.fired:
			f()
		case <-ctx.Done():
			s.Cancelled(context.Cause(ctx))
			ctx = context.Background() // stop selecting on it
		}
	}
}
