package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// supervisor decides how a run stops: it applies the deadline and the
// grace period, counts signals, reacts to failures, stalls and aborts,
// and ends a join run once every item is done. Its methods are called one
// at a time by the run's Clock (Supervise), which also runs its timers.
type supervisor struct {
	r        *run
	stop     error // why producers were stopped early; nil while they were not
	deadlock *DeadlockError
	nsig     int
	timers   []func() // stop the timers it armed
	// idlePolls counts the polls in a row that found a join run over.
	idlePolls int
}

var _ Supervisor = (*supervisor)(nil)

// supervise runs the supervisor on the run's clock until every worker has
// exited. It returns why producers were stopped early (nil if they were
// not) and the deadlock, if any.
func (r *run) supervise(ctx context.Context) (stop error, deadlock *DeadlockError) {
	s := r.sup
	if r.g.Deadline > 0 {
		s.after(r.g.Deadline, func() { s.begin(ErrDeadline, fmt.Sprintf("deadline %s reached", r.g.Deadline)) })
	}
	if r.g.Strategy == config.Join && len(r.trackers) < len(r.sets) {
		s.after(idlePoll, s.pollJoin) // some queues report no stall
	}
	defer func() {
		for _, stop := range s.timers {
			stop()
		}
	}()
	r.clock.Supervise(ctx, s, Inbox{Stalls: r.stalls(), Signals: r.opts.Signals, Aborts: r.aborted})
	return s.stop, s.deadlock
}

// after arms a timer of the clock.
func (s *supervisor) after(d time.Duration, f func()) {
	s.timers = append(s.timers, s.r.clock.AfterFunc(d, f))
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
	s.after(r.g.Grace, s.graceOver)
}

// graceOver cancels the workers still draining.
func (s *supervisor) graceOver() {
	r := s.r
	r.opts.Log.Warn(fmt.Sprintf("grace period %s over: cancelling workers", r.g.Grace), "grace", r.g.Grace)
	r.hardCancel(s.stop)
}

// Stalled handles a moment when no live worker can make progress: the
// end of a join run, of a drain, or a deadlock.
func (s *supervisor) Stalled(st queue.Stall) {
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
		s.halt(s.deadlock)
	}
}

// pollJoin ends a join run with queues that are not tracked (readers
// waiting on a broker are no waiters of a tracker, so no stall says the
// run is over) once two polls in a row find it over.
func (s *supervisor) pollJoin() {
	r := s.r
	s.after(idlePoll, s.pollJoin)
	if r.hard.Err() != nil || s.stop != nil || !r.joined() {
		s.idlePolls = 0
		return
	}
	if s.idlePolls++; s.idlePolls >= 2 {
		r.hardCancel(errFinished)
	}
}

// Signal handles SIGINT/SIGTERM: the first stops the producers and lets
// the queues drain, the second cancels at once; later ones change nothing.
func (s *supervisor) Signal() {
	r := s.r
	switch s.nsig++; {
	case s.nsig == 1 && s.stop != nil:
		s.stop = ErrInterrupted
		r.opts.Log.Warn("interrupted while stopping; interrupt again to cancel at once", "stop", "interrupt")
	case s.nsig == 1:
		s.begin(ErrInterrupted, "interrupted (interrupt again to cancel at once)")
	case s.nsig == 2:
		s.stop = ErrInterrupted
		r.opts.Log.Warn("interrupted again: cancelling workers now", "stop", "interrupt")
		r.hardCancel(ErrInterrupted)
	}
}

// failure stops the producers after an item failed with on_error stop
// (posted by run.fail).
func (s *supervisor) failure() { s.begin(errFailure, "a stage failed") }

// Abort stops everything at once: the run cannot go on for err.
func (s *supervisor) Abort(err error) { s.halt(&abortError{err}) }

// halt stops everything at once for cause.
func (s *supervisor) halt(cause error) {
	s.stop = cause
	s.r.softStop(cause)
	s.r.hardCancel(cause)
}

// Cancelled cancels every worker: the run's context ended.
func (s *supervisor) Cancelled(cause error) {
	if s.stop == nil {
		s.stop = cause
	}
	s.r.hardCancel(s.stop)
}

// Expire stops the producers and cancels every worker at once: the time
// the run was given is over.
func (s *supervisor) Expire(cause error, notice string) {
	if s.stop == nil {
		s.stop = cause
		s.r.opts.Log.Warn(notice, "stop", reasonOf(cause))
		s.r.softStop(cause)
	}
	s.r.hardCancel(cause)
}
