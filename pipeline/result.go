package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/stages"
)

// result drains the queues (what is left was never consumed: abandoned)
// and collects the counters.
func (r *run) result(elapsed time.Duration, stop error) *observe.Result {
	res := &observe.Result{Pipeline: r.g.Name, Strategy: string(r.g.Strategy), Elapsed: elapsed}
	for _, q := range r.g.Queues {
		if r.uses(q) {
			res.Queues = append(res.Queues, r.queueLedger(res, q))
		}
	}
	res.Shared = len(r.received) > 0
	for i, p := range r.g.Producers {
		if r.selected(p.Name) {
			res.Stages = append(res.Stages, stageStats(p.Name, "producer", p.Replicas, r.stats[i], elapsed))
		}
	}
	for j, c := range r.g.Consumers {
		if r.selected(c.Name) {
			res.Stages = append(res.Stages, stageStats(c.Name, "consumer", c.Replicas, r.stats[len(r.g.Producers)+j], elapsed))
		}
	}
	if len(r.replayQueues()) > 0 {
		res.Stages = append(res.Stages, stageStats("replay", "replay", 1, r.stats[len(r.stats)-1], elapsed))
	}
	res.Total = res.Ledger()
	res.Stop = stopName(stop)
	r.failMu.Lock()
	res.Failures = append(res.Failures, r.failures...)
	r.failMu.Unlock()
	return res
}

// queueLedger drains queue q, counting what is left as abandoned, and
// returns its line of the summary; the items taken here from a queue
// shared with other processes are added to res.Received.
func (r *run) queueLedger(res *observe.Result, q *stages.Queue) observe.QueueLedger {
	qc := r.qstats[q.Name]
	rc := r.received[q.Name]
	for _, it := range r.queues[q.Name].Drain() {
		if rc != nil {
			// Shared: what Drain returns was put here and never reached
			// the broker (queue.Queue.Drain), so it was not handed off.
			r.stats[it.Origin].handedOff.Add(-1)
			qc.handedOff.Add(-1)
		}
		r.stats[it.Origin].abandoned.Add(1)
		qc.abandoned.Add(1)
		r.spillItem(q.Name, int(it.Origin), it.ID, it.Value)
		r.abandonedEvent(nil, q.Name, it.ID)
	}
	st := r.queues[q.Name].Stats()
	ql := observe.QueueLedger{QueueStats: st, Ledger: observe.Ledger{
		Produced: st.Put, Done: qc.done.Load(), Filtered: qc.filtered.Load(),
		Failed: qc.failed.Load(), Abandoned: qc.abandoned.Load(),
	}}
	if rc == nil {
		return ql
	}
	// Shared: what was put here is handed off; what was taken here,
	// whoever put it, is accounted for in Received.
	ql.Shared = true
	ql.Ledger = observe.Ledger{Produced: st.Put, Abandoned: qc.abandoned.Load(), HandedOff: qc.handedOff.Load()}
	if len(r.specs[q.Name].Readers) > 0 {
		received := receivedOf(rc)
		ql.Received = &received
		if res.Received == nil {
			res.Received = new(observe.Received)
		}
		res.Received.Add(*ql.Received)
	}
	return ql
}

// stageStats is a stage's line of the summary, from its counters.
func stageStats(name, kind string, workers int, c *counters, elapsed time.Duration) observe.StageStats {
	st := observe.StageStats{Name: name, Kind: kind, Workers: workers, Taken: c.taken.Load(), Ledger: c.ledger(),
		Idle: time.Duration(c.idle.Load()), Blocked: time.Duration(c.blocked.Load())}
	n := st.Produced
	if kind == "consumer" {
		n = st.Taken
	}
	if elapsed > 0 {
		st.Rate = float64(n) / elapsed.Seconds()
	}
	if alive := c.alive.Load(); alive > 0 {
		st.Busy = min(max(float64(alive-int64(st.Idle)-int64(st.Blocked))/float64(alive), 0), 1)
	}
	return st
}

// stageName names a ledger row.
func (r *run) stageName(row int) string {
	switch {
	case row < len(r.g.Producers):
		return r.g.Producers[row].Name
	case row < len(r.g.Producers)+len(r.g.Consumers):
		return r.g.Consumers[row-len(r.g.Producers)].Name
	}
	return "replay"
}

// reason says why items are being abandoned now.
func (r *run) reason() string { return reasonOf(context.Cause(r.soft)) }

// reasonOf names a stop's cause as Result.Stop does: interrupt, deadline,
// failure or deadlock; "cancelled" for any other.
func reasonOf(cause error) string {
	switch {
	case errors.Is(cause, ErrInterrupted):
		return "interrupt"
	case errors.Is(cause, ErrDeadline):
		return "deadline"
	case errors.Is(cause, errFailure):
		return "failure"
	case errors.As(cause, new(*DeadlockError)):
		return "deadlock"
	}
	return "cancelled"
}

// stopName is Result.Stop for a run stopped early for stop: "" when it
// was not (or ended by itself), "failure" when it was aborted, otherwise
// the reason (reasonOf) unless that is only "cancelled".
func stopName(stop error) string {
	switch reason := reasonOf(stop); {
	case stop == nil, errors.Is(stop, errFinished):
		return ""
	case errors.As(stop, new(*abortError)):
		return "failure"
	case reason == "cancelled":
		return ""
	default:
		return reason
	}
}

// outcome is the error Run (and Simulate) returns for a run that ended
// with res, stopped early for stop (nil if it was not), deadlocked or not.
func outcome(res *observe.Result, stop error, deadlock *DeadlockError) error {
	l := res.Total
	stopped := l.Failed - l.Skipped - l.DeadLettered // failed with on_error: stop
	switch {
	case deadlock != nil:
		return deadlock
	case errors.Is(stop, ErrInterrupted):
		return ErrInterrupted
	case errors.As(stop, new(*abortError)):
		return stop
	case stopped > 0 || l.Abandoned > 0:
		first := ""
		if len(res.Failures) > 0 {
			first = res.Failures[0]
		}
		return &FailedError{Failed: stopped, Abandoned: l.Abandoned, First: first}
	case stop != nil && !errors.Is(stop, ErrDeadline) && !errors.Is(stop, errFinished):
		return stop
	}
	return nil
}
