package pipeline

import (
	"errors"
	"fmt"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
)

// A run spread over several processes keeps, through its queue backend,
// each process's part of the ledger where the others read it
// (queue.Recorder); and a backend may find the run broken beyond this
// process (queue.Failing).

// part is this process's part of the run so far (queue.Env.Part).
func (r *run) part() observe.Part {
	var p observe.Part
	for _, c := range r.stats {
		p.Ledger.Add(c.ledger())
	}
	for _, rc := range r.received {
		p.Received.Add(receivedOf(rc))
	}
	for i, pr := range r.g.Producers {
		if r.selected(pr.Name) && i < len(r.stats) {
			if p.Made == nil {
				p.Made = map[string]int64{}
			}
			p.Made[pr.Name] = r.stats[i].produced.Load()
		}
	}
	r.posMu.Lock() // positions after Made: a position never counts an item Made does not
	for _, pos := range r.positions {
		if p.Positions == nil {
			p.Positions = map[string]map[int]int64{}
		}
		if p.Positions[pos.stage] == nil {
			p.Positions[pos.stage] = map[int]int64{}
		}
		p.Positions[pos.stage][pos.replica] = pos.w.Index.Load()
	}
	r.posMu.Unlock()
	return p
}

// localStages names the stages whose workers run in this process.
func (r *run) localStages() []string {
	var out []string
	for _, p := range r.g.Producers {
		if r.selected(p.Name) {
			out = append(out, p.Name)
		}
	}
	for _, c := range r.g.Consumers {
		if r.selected(c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// position is a producer replica at work, for Part.Positions.
type position struct {
	stage   string
	replica int
	w       *worker
}

// producing records that a producer replica has started.
func (r *run) producing(stage string, replica int, w *worker) {
	r.posMu.Lock()
	r.positions = append(r.positions, position{stage, replica, w})
	r.posMu.Unlock()
}

// receivedOf reads the accounting of the items taken from a shared queue.
func receivedOf(rc *counters) observe.Received {
	return observe.Received{Taken: rc.taken.Load(), Done: rc.done.Load(), Filtered: rc.filtered.Load(),
		Failed: rc.failed.Load(), Skipped: rc.skipped.Load(), DeadLettered: rc.deadLettered.Load(),
		HandedBack: rc.handedOff.Load()}
}

// broken is the first error of a queue set that found the run broken
// beyond this process; nil when none did.
func (r *run) broken() error {
	for _, set := range r.sets {
		if f, ok := set.(queue.Failing); ok {
			if err := f.Err(); err != nil {
				return err // the run's error: the command says it
			}
		}
	}
	return nil
}

// record gives the recorders among the queue sets this process's final
// part and how it ended (state), and puts the whole run as they know it
// in res.
func (r *run) record(res *observe.Result, state string) {
	now := r.part()
	p := observe.Part{Ledger: res.Total, Positions: now.Positions, Made: now.Made}
	if res.Received != nil {
		p.Received = *res.Received
	}
	for _, set := range r.sets {
		if rec, ok := set.(queue.Recorder); ok {
			if w := rec.Finish(p, state); w != nil {
				res.Run = w
			}
		}
	}
}

// CutShortError fails a process whose own part of a run spread over
// several went well, while the run as a whole, as far as its processes
// recorded it when this one ended, lost items elsewhere: abandoned, or
// failed with `on_error: stop`. No process reports success for a run
// that was cut short.
type CutShortError struct {
	Abandoned, Stopped int64
}

func (e *CutShortError) Error() string {
	return fmt.Sprintf("the run was cut short elsewhere: %d item(s) abandoned and %d failed with on_error: stop in other processes; "+
		"this process's part finished, the run's did not (pcrun status FILE shows which process)", e.Abandoned, e.Stopped)
}

// cutShort is a *CutShortError when the whole run w lost items; nil when
// it did not, or is unknown.
func cutShort(w *observe.Whole) error {
	if w == nil {
		return nil
	}
	stopped := w.Failed - w.Skipped - w.DeadLettered
	if w.Abandoned == 0 && stopped <= 0 {
		return nil
	}
	return &CutShortError{Abandoned: w.Abandoned, Stopped: max(stopped, 0)}
}

// stateOf names how a run that returned err ended, as recorders keep it.
func stateOf(err error) string {
	switch {
	case err == nil:
		return "finished"
	case errors.Is(err, ErrInterrupted):
		return "interrupted"
	case errors.As(err, new(*DeadlockError)):
		return "deadlocked"
	}
	return "failed"
}
