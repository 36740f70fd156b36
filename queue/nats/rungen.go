package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// A process that starts without --fresh joins the generation it finds on
// the broker, unless that run has ended: every process of it recorded
// itself and none is running any more (procs.go), every queue of it has
// ended, and the pipeline's queues on this broker (those this process
// does not use too) hold no item. Then it starts a new
// generation, so that consumers started before their producer, after an
// earlier run, wait for that producer instead of finding the earlier
// run's queues ended. A run that ended with items left in its queues (its
// consumers were interrupted) is joined: a new consumer drains them.

// renewIfEnded returns gen, or a new generation that it set in place of
// gen if gen's run has ended.
func (b *natsBroker) renewIfEnded(ctx context.Context, gen string) (string, error) {
	ended, err := b.runEnded(ctx, gen)
	if err != nil || !ended {
		return gen, err
	}
	e, err := b.kv.Get(ctx, genKey)
	if err != nil {
		return "", fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
	}
	if string(e.Value()) != gen {
		return string(e.Value()), nil // another process renewed it first
	}
	next := nuid.Next()
	if _, err := b.kv.Update(ctx, genKey, []byte(next), e.Revision()); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			return readGen(ctx, b.kv) // another process renewed it first
		}
		return "", fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
	}
	b.notice(fmt.Sprintf("pcrun: the previous run on %s had ended; this process starts a new one", b.redacted()))
	b.purgeGen(ctx, gen)
	return next, nil
}

// runEnded reports whether gen's run has ended (see above).
func (b *natsBroker) runEnded(ctx context.Context, gen string) (bool, error) {
	run, err := ReadRun(ctx, []jetstream.KeyValue{b.kv})
	if err != nil || run.Generation != gen || !run.Ended {
		return false, err
	}
	for _, q := range b.pipelineQueues {
		e, err := b.kv.Get(ctx, rosterKey(gen, kvToken(q.Name)))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound): // no process of the run used it
		case err != nil:
			return false, err
		default:
			var r Roster
			if err := json.Unmarshal(e.Value(), &r); err != nil || !r.Ended {
				return false, err
			}
		}
		s, err := b.js.Stream(ctx, q.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		info, err := s.Info(ctx)
		if err != nil || info.State.Msgs > 0 {
			return false, err
		}
	}
	return true, nil
}

// purgeGen removes what an ended generation left in the bucket; what
// cannot be removed now is left (a later --fresh removes it).
func (b *natsBroker) purgeGen(ctx context.Context, gen string) {
	s, err := b.js.Stream(ctx, "KV_"+b.kv.Bucket())
	if err != nil {
		return
	}
	_ = s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+b.kv.Bucket()+"."+strings.TrimSpace(gen)+".>"))
}

// RunningError refuses a run of every stage (which resets the pipeline's
// queues as it starts) while processes of another run of the pipeline
// are alive on the broker: resetting would take their items.
type RunningError struct {
	URL       string
	Processes []ProcessStatus
}

func (e *RunningError) Error() string {
	p := e.Processes[0]
	more := ""
	if len(e.Processes) > 1 {
		more = fmt.Sprintf(" and %d other process(es)", len(e.Processes)-1)
	}
	return fmt.Sprintf("another run of this pipeline is running on %s (process %s, stages %s, started %s%s); "+
		"starting this one would purge its queues: give this run its own --run-id, wait for that one to end "+
		"(pcrun status --wait FILE), or reset it on purpose with --fresh",
		e.URL, p.ID, strings.Join(p.Stages, ", "), p.Started.Format(time.RFC3339), more)
}

// notRunning refuses, with a *RunningError, to reset the queues on b
// while a process of the run there is alive.
func (s *set) notRunning(ctx context.Context, b *natsBroker) error {
	run, err := ReadRun(ctx, []jetstream.KeyValue{b.kv})
	if err != nil {
		return fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
	}
	var alive []ProcessStatus
	for _, p := range run.Processes {
		if p.Live() == stateRunning {
			alive = append(alive, p)
		}
	}
	if len(alive) == 0 {
		return nil
	}
	return &RunningError{URL: b.redacted(), Processes: alive}
}
