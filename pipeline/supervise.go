package pipeline

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// supervisor decides how a run stops: it applies the deadline and the
// grace period, counts signals, reacts to failures, stalls and aborts,
// and ends a join run once every item is done. Only the goroutine that
// runs supervise touches it.
type supervisor struct {
	r        *run
	stop     error // why producers were stopped early; nil while they were not
	deadlock *DeadlockError
	signals  <-chan os.Signal
	nsig     int
	grace    *time.Timer
	graceC   <-chan time.Time
	// idlePolls counts the polls in a row that found a join run over.
	idlePolls int
}

// supervise waits for the run to end (done), applying deadline, grace,
// signals, failures and stalls. It returns why producers were stopped
// early (nil if they were not) and the deadlock, if any.
func (r *run) supervise(ctx context.Context, done <-chan struct{}) (stop error, deadlock *DeadlockError) {
	s := &supervisor{r: r, signals: r.opts.Signals}
	var deadlineC <-chan time.Time
	if r.g.Deadline > 0 {
		t := time.NewTimer(r.g.Deadline)
		defer t.Stop()
		deadlineC = t.C
	}
	defer func() {
		if s.grace != nil {
			s.grace.Stop()
		}
	}()
	joinTick, stopJoinTick := r.joinTicker() // nil unless some queues report no stall
	defer stopJoinTick()
	for {
		select {
		case <-done:
			return s.stop, s.deadlock
		case st := <-r.stalls():
			s.stalled(st)
		case <-joinTick:
			s.pollJoin()
		case <-s.signals:
			s.signal()
		case <-deadlineC:
			s.begin(errDeadline, fmt.Sprintf("deadline %s reached", r.g.Deadline))
		case <-r.failed:
			s.begin(errFailure, "a stage failed")
		case err := <-r.aborted:
			s.abort(&abortError{err})
		case <-s.graceC:
			r.opts.Log.Warn(fmt.Sprintf("grace period %s over: cancelling workers", r.g.Grace), "grace", r.g.Grace)
			r.hardCancel(s.stop)
		case <-ctx.Done():
			if s.stop == nil {
				s.stop = context.Cause(ctx)
			}
			r.hardCancel(s.stop)
			ctx = context.Background() // stop selecting on it
		}
	}
}

// begin stops the producers for cause, once: the queues drain for the
// grace period, then the workers are cancelled.
func (s *supervisor) begin(cause error, notice string) {
	r := s.r
	if s.stop != nil {
		return
	}
	s.stop = cause
	r.softStop(cause)
	if r.g.Grace == 0 {
		r.opts.Log.Warn(notice+": producers stopped; no grace period, cancelling workers", "stop", reasonOf(cause))
		r.hardCancel(cause)
		return
	}
	r.opts.Log.Warn(fmt.Sprintf("%s: producers stopped; draining queues for up to %s", notice, r.g.Grace),
		"stop", reasonOf(cause), "grace", r.g.Grace)
	s.grace = time.NewTimer(r.g.Grace)
	s.graceC = s.grace.C
}

// stalled handles a moment when no live worker can make progress: the
// end of a join run, of a drain, or a deadlock.
func (s *supervisor) stalled(st queue.Stall) {
	r := s.r
	if r.hard.Err() != nil {
		return
	}
	switch {
	case r.g.Strategy == config.Join && s.stop == nil && r.joined():
		r.hardCancel(errFinished) // every item is done: stop the daemon consumers
	case s.stop != nil:
		r.hardCancel(s.stop) // drained as far as anything can go
	default:
		s.deadlock = &DeadlockError{Stall: st, Strategy: string(r.g.Strategy)}
		r.event(observe.Event{Kind: observe.EventDeadlock, Msg: s.deadlock.Error(), Depth: -1})
		s.abort(s.deadlock)
	}
}

// pollJoin ends a join run with queues that are not tracked (readers
// waiting on a broker are no waiters of a tracker, so no stall says the
// run is over) once two polls in a row find it over.
func (s *supervisor) pollJoin() {
	r := s.r
	if r.hard.Err() != nil || s.stop != nil || !r.joined() {
		s.idlePolls = 0
		return
	}
	if s.idlePolls++; s.idlePolls >= 2 {
		r.hardCancel(errFinished)
	}
}

// signal handles SIGINT/SIGTERM: the first stops the producers and lets
// the queues drain, the second cancels at once.
func (s *supervisor) signal() {
	r := s.r
	if s.nsig++; s.nsig == 1 {
		if s.stop != nil {
			s.stop = ErrInterrupted
			r.opts.Log.Warn("interrupted while stopping; interrupt again to cancel at once", "stop", "interrupt")
			return
		}
		s.begin(ErrInterrupted, "interrupted (interrupt again to cancel at once)")
		return
	}
	s.stop = ErrInterrupted
	r.opts.Log.Warn("interrupted again: cancelling workers now", "stop", "interrupt")
	r.hardCancel(ErrInterrupted)
	s.signals = nil
}

// abort stops everything at once for cause.
func (s *supervisor) abort(cause error) {
	s.stop = cause
	s.r.softStop(cause)
	s.r.hardCancel(cause)
}
