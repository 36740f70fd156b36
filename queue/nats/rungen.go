package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	lister, err := b.kv.ListKeysFiltered(ctx, gen+".*")
	if err != nil {
		return false, fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		e, err := b.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		var r Roster
		if err := json.Unmarshal(e.Value(), &r); err != nil || !r.Ended {
			return false, err
		}
	}
	for _, name := range b.streams {
		s, err := b.js.Stream(ctx, name)
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
