package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/queue"
)

// How the readers of a queue find out that one of its writers died: see
// procs.go.

// watchWriters looks at the record of every unfinished writer of the
// queues read here that have not ended, and takes for dead those whose
// record has not changed for leaseFor.
func (s *set) watchWriters(ctx context.Context) {
	now := time.Now()
	if now.Sub(s.rec.read) > 3*beatEvery {
		// This process could not look for a while (the broker was out
		// of reach, or this process was paused): what it did not see
		// says nothing about the others. Start counting again.
		for k, v := range s.rec.seen {
			v.since = now
			s.rec.seen[k] = v
		}
	}
	ok := true
	for _, q := range s.queues {
		if len(q.readers) == 0 || q.ended.Load() {
			continue
		}
		r, err := q.roster(ctx)
		if err != nil {
			ok = false
			continue
		}
		if r == nil || r.Ended {
			continue
		}
		for _, proc := range slices.Sorted(maps.Keys(r.Writers)) {
			if proc == q.proc || allFinished(r.Writers[proc]) {
				continue
			}
			if err := s.watch(ctx, q.b, proc, now); err != nil {
				ok = false
			}
		}
	}
	if ok {
		s.rec.read = now
	}
}

func allFinished(stages map[string]RosterEntry) bool {
	for _, e := range stages {
		if !e.Finished {
			return false
		}
	}
	return true
}

// watch looks at one writer's record, and takes the process for dead when
// the record has not changed for leaseFor.
func (s *set) watch(ctx context.Context, b *natsBroker, proc string, now time.Time) error {
	key := procKey(b.generation(), proc)
	rec, rev, err := getRecord(ctx, b.kv, key)
	if err != nil {
		return err
	}
	last, ok := s.rec.seen[key]
	if !ok || last.rev != rev {
		s.rec.seen[key] = sighting{rev: rev, since: now}
		return nil
	}
	lease := leaseFor
	if rec != nil && rec.Lease > 0 {
		lease = max(rec.Lease, lease)
	}
	if now.Sub(last.since) < lease {
		return nil
	}
	return s.takeForDead(ctx, b, proc, key, rec, rev, now.Sub(last.since))
}

// takeForDead marks a writer process gone: its record (unless it wrote
// it meanwhile) and its unfinished writer stages in the rosters of the
// queues on b that this process uses; a queue that this ends, this
// process ends as the strategy says.
func (s *set) takeForDead(ctx context.Context, b *natsBroker, proc, key string, rec *ProcessRecord, rev uint64, silent time.Duration) error {
	if rec != nil && rec.State == stateRunning {
		rec.State = stateGone
		rec.Note = fmt.Sprintf("no heartbeat for %s; taken for dead by %s", silent.Round(time.Second), s.rec.rec.ID)
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if _, err := b.kv.Update(ctx, key, data, rev); err != nil {
			delete(s.rec.seen, key) // it beat meanwhile, or the broker did not answer: look again
			return nil
		}
	}
	for _, q := range b.queues {
		if err := s.writerGone(ctx, q, proc, silent); err != nil {
			return err
		}
	}
	return nil
}

// writerGone marks proc's unfinished writer stages of q finished and gone,
// and ends q if that was the last writer.
func (s *set) writerGone(ctx context.Context, q *natsQueue, proc string, silent time.Duration) error {
	var stages []string
	var ended bool
	var markers int
	b := q.b
	b.rmu.Lock()
	err := b.updateRoster(ctx, rosterKey(b.generation(), q.key), true, func(r *Roster) error {
		stages, ended, markers = nil, false, 0
		for st, e := range r.Writers[proc] {
			if !e.Finished {
				e.Finished, e.Gone = true, true
				r.Writers[proc][st] = e
				stages = append(stages, st)
			}
		}
		if len(stages) > 0 && !r.Ended && r.endable(q.spec.Writers) {
			r.Ended, r.EndedBy = true, q.proc
			if q.env.Strategy == config.Sentinel {
				r.Markers = r.readers()
			}
			ended, markers = true, r.Markers
		}
		return nil
	})
	b.rmu.Unlock()
	if err != nil || len(stages) == 0 {
		return err
	}
	slices.Sort(stages)
	s.env.Log.Error(fmt.Sprintf("queue %s: writer %s in process %s sent no heartbeat for %s: taken for dead; "+
		"the items it had not put are missing, and the run will fail once the queue is drained",
		q.spec.Name, joinNames(stages), proc, silent.Round(time.Second)), "queue", q.spec.Name, "process", proc)
	if ended {
		q.ended.Store(true)
		queue.End(ctx, q, q.env.Strategy, markers, q.env.Log)
	}
	return nil
}
