package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/queue"
)

// A run whose writer process died (taken for dead: procs.go) is continued
// by processes started with --resume-run (queue.Env.ResumeRun). Such a
// process joins the broker's current run even if it has ended, and one
// that runs producer stages takes over a dead process that ran them:
//
//   - the dead process's record says how far each of its producer
//     replicas got (Part.Positions, as of its last heartbeat); the new
//     process starts each replica resumeBack items before that, since the
//     publishes of the last items may not have been stored;
//   - it publishes those items under the message ids the dead process
//     used (its id, the replica, the item's index), so the stream keeps
//     one copy of each item that was stored already, as long as the
//     restart comes within the stream's duplicates window (2 minutes by
//     default); later, those items are stored again;
//   - in the rosters, the dead process's writer entries are replaced by
//     the new process's, and a queue that had ended because the writer
//     was gone opens again (under `close` and `join`: the end markers of
//     `sentinel` were taken by readers that have left, so a run under
//     sentinel cannot be resumed);
//   - the dead record's state becomes "resumed", so that each dead
//     process is taken over once, and the new record says how many items
//     it makes again that the dead one had counted (Part.Resumed), so that
//     the whole run's ledger counts each item once.
//
// Readers of the resumed run are started with --resume-run too: without
// it, a process that finds the run ended starts a new one.

// resumeBack is how many items before its recorded position a resumed
// producer replica starts: at least the publishes a queue may have
// awaiting their acknowledgement.
const resumeBack = 128

const stateResumed = "resumed"

// resumption is what a process took over from a dead one.
type resumption struct {
	from *ProcessRecord // the dead process's record, as taken over
	rev  uint64
}

// prefix is the message id prefix of the items of producer stage: the
// dead process's when this process resumes that stage, else this one's.
func (b *natsBroker) prefix(stage, own string) string {
	if r := b.resumed; r != nil && slices.Contains(r.from.Stages, stage) {
		return idOf(r.from.ID)
	}
	return own
}

// idOf is the unique part of a process id (host/pid/unique).
func idOf(proc string) string {
	return proc[strings.LastIndexByte(proc, '/')+1:]
}

// producerMsgID names a producer's item by its process, replica and
// index, the same when a resumed run makes it again; "" when ctx carries
// no producer.
func (q *natsQueue) producerMsgID(ctx context.Context) string {
	w := queue.WorkerFrom(ctx)
	if w == nil || w.Kind != queue.Producer || w.Stage == "replay" {
		return ""
	}
	return q.b.prefix(w.Stage, idOf(q.proc)) + "." + kvToken(w.Name) + "." + strconv.FormatInt(w.Index.Load(), 10)
}

// resumeOn prepares b for --resume-run, before this process joins it:
// the current run is joined even if it has ended, and the dead process
// to take over is chosen.
func (s *set) resumeOn(ctx context.Context, b *natsBroker) error {
	if !s.env.ResumeRun {
		return nil
	}
	b.keepRun = true
	gen, err := b.currentGen(ctx)
	if err != nil {
		return err
	}
	b.gen.Store(&gen)
	return s.chooseResumed(ctx, b, gen)
}

// chooseResumed picks the dead process this one takes over on b: the
// first, by start time, that ran producer stages of this process, ended
// without finishing, and was not taken over yet. With no producer stage
// here, there is nothing to take over.
func (s *set) chooseResumed(ctx context.Context, b *natsBroker, gen string) error {
	if s.env.Strategy == config.Sentinel {
		return errors.New("--resume-run: a run under `shutdown: {strategy: sentinel}` cannot be resumed (its end markers were " +
			"taken by readers that have left); start a new run with --fresh")
	}
	mine := map[string]bool{}
	for _, p := range s.env.Graph.Producers {
		if slices.Contains(s.env.Local, p.Name) {
			mine[p.Name] = true
		}
	}
	if len(mine) == 0 {
		return nil
	}
	st, err := ReadRun(ctx, []jetstream.KeyValue{b.kv})
	if err != nil {
		return err
	}
	for _, p := range st.Processes {
		live := p.Live()
		if live == stateRunning || live == "finished" || live == stateResumed || !slices.ContainsFunc(p.Stages, func(s string) bool { return mine[s] }) {
			continue
		}
		key := procKey(gen, p.ID)
		rec, rev, err := getRecord(ctx, b.kv, key)
		if err != nil || rec == nil {
			return err
		}
		b.resumed = &resumption{from: rec, rev: rev}
		return nil
	}
	return fmt.Errorf("--resume-run: no process of the run on %s that ran %s has died: nothing to resume "+
		"(a process is taken for dead %s after its last heartbeat; `pcrun status` shows the processes)",
		b.redacted(), joinNames(slices.Sorted(maps.Keys(mine))), leaseFor)
}

// markResumed sets the dead record's state to resumed, by compare-and-set
// (another process resuming it at the same time fails).
func (s *set) markResumed(ctx context.Context, b *natsBroker) error {
	r := b.resumed
	rec := *r.from
	rec.State, rec.Note = stateResumed, "resumed by "+s.queues[0].proc
	data, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	if _, err := b.kv.Update(ctx, procKey(b.generation(), rec.ID), data, r.rev); err != nil {
		return fmt.Errorf("--resume-run: taking over process %s: %v (did another process take it over first?)", rec.ID, err)
	}
	return nil
}

// awaitsResume reports whether this process, started with --resume-run,
// is to wait for a lost writer of the queue to be taken over rather than
// take the queue's end: r ended because a writer was gone, and no
// process has resumed it yet.
func (q *natsQueue) awaitsResume(r *Roster) bool {
	if !q.b.keepRun || !r.Ended {
		return false
	}
	for _, stages := range r.Writers {
		for _, e := range stages {
			if e.Gone {
				return true
			}
		}
	}
	return false
}

// takeOver, in a roster being registered in, replaces the dead process's
// writer entries with this process's and opens the queue again if it
// ended because that writer was gone.
func (q *natsQueue) takeOver(r *Roster) {
	res := q.b.resumed
	if res == nil || len(q.writers) == 0 {
		return
	}
	es := r.Writers[res.from.ID]
	gone := false
	for st := range q.writers {
		if e, ok := es[st]; ok {
			gone = gone || e.Gone
			delete(es, st)
		}
	}
	if len(es) == 0 {
		delete(r.Writers, res.from.ID)
	}
	if gone && r.Ended {
		r.Ended, r.EndedBy, r.Markers = false, "", 0
	}
}

// Positions tells where the producer replicas of this process start: see
// queue.Resumer. Nil when it resumes nothing.
func (s *set) Positions() map[string]map[int]int {
	var res *resumption
	for _, b := range s.brokers {
		if b.resumed != nil {
			res = b.resumed
		}
	}
	if res == nil {
		return nil
	}
	out := map[string]map[int]int{}
	for stage, replicas := range res.from.Part.Positions {
		if !slices.Contains(s.env.Local, stage) {
			continue
		}
		out[stage] = map[int]int{}
		var starts int64
		for replica, next := range replicas {
			start := max(0, next-resumeBack)
			out[stage][replica] = int(start)
			starts += start
		}
		// The items from the starts on are made again here, and those
		// the dead process counted must not count twice in the whole run.
		s.resumedItems += max(0, res.from.Part.Made[stage]-starts)
	}
	return out
}
