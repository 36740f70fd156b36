package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// What a run does with its generation on one broker (see roster.go).

// resetAll purges every key of earlier generations on the broker and
// every stream of streams that exists there, then starts a new
// generation. The generation key itself is only ever overwritten: until
// the new one is set, a process that joins finds the old one and
// registers there, then moves to the new one once it sees it
// (checkGen), as it has done nothing yet. Purging after setting it would
// remove what such a process registered in the new generation.
func (b *natsBroker) resetAll(ctx context.Context, pipeline string, streams []string) error {
	kvs, err := b.js.Stream(ctx, "KV_"+bucketName(pipeline))
	if err == nil {
		// Every key but gen has two tokens or more (rosters: <gen>.<queue>).
		err = kvs.Purge(ctx, jetstream.WithPurgeSubject("$KV."+bucketName(pipeline)+".*.>"))
	}
	if err != nil {
		return fmt.Errorf("resetting bucket %s on %s: %v", bucketName(pipeline), b.redacted(), err)
	}
	for _, name := range streams {
		s, err := b.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err == nil {
			err = s.Purge(ctx)
		}
		if err != nil {
			return fmt.Errorf("purging stream %s on %s: %v", name, b.redacted(), err)
		}
	}
	gen := nuid.Next()
	if _, err := b.kv.Put(ctx, genKey, []byte(gen)); err != nil {
		return fmt.Errorf("bucket %s on %s: %v", bucketName(pipeline), b.redacted(), err)
	}
	b.gen.Store(&gen)
	return nil
}

// join registers the broker's queues in the current generation, creating
// the first one if there is none. It retries when a reset comes in
// between: nothing has happened in this process yet.
func (b *natsBroker) join(ctx context.Context) error {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	for {
		gen := b.generation()
		if gen == "" {
			var err error
			if gen, err = b.currentGen(ctx); err != nil {
				return err
			}
			if !b.keepRun {
				if gen, err = b.renewIfEnded(ctx, gen); err != nil { // rungen.go
					return err
				}
			}
		}
		if err := b.registerAll(ctx, gen); err != nil {
			return err
		}
		now, err := b.readGenRetried(ctx)
		if err != nil {
			return fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
		}
		if now == gen {
			return nil
		}
		b.gen.Store(&now) // reset while we registered: register again
	}
}

// currentGen reads the generation, creating one when there is none.
// Reads and the creation are retried through a cluster's elections
// (retry.go): a creation whose answer was lost is read back.
func (b *natsBroker) currentGen(ctx context.Context) (string, error) {
	retry := episode{log: b.log, what: fmt.Sprintf("creating key %s of bucket %s on %s", genKey, b.kv.Bucket(), b.redacted())}
	for {
		gen, err := b.readGenRetried(ctx)
		if err != nil {
			return "", fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
		}
		if gen == "" {
			gen = nuid.Next()
			err := putKey(ctx, b.kv, genKey, []byte(gen), 0)
			switch {
			case errors.Is(err, jetstream.ErrKeyExists), err != nil && retry.retry(ctx, err):
				continue // another process created it first, or a try to read back
			case err != nil:
				return "", fmt.Errorf("bucket %s on %s: %v", b.kv.Bucket(), b.redacted(), err)
			}
			retry.ok()
		}
		return gen, nil
	}
}

// registerAll registers every queue on the broker in gen. Called with rmu.
func (b *natsBroker) registerAll(ctx context.Context, gen string) error {
	b.gen.Store(&gen)
	for _, q := range b.queues {
		if err := q.register(ctx, gen); err != nil {
			return err
		}
	}
	return nil
}

// checkGen finds out whether another process started a new generation
// and, if so, joins it or fails with errReset (see above). force skips the
// rate limit (a message of another generation arrived).
func (b *natsBroker) checkGen(ctx context.Context, force bool) error {
	now := time.Now().UnixNano()
	if !force && now-b.lastCheck.Load() < int64(natsPoll) {
		return nil
	}
	b.lastCheck.Store(now)
	b.rmu.Lock()
	defer b.rmu.Unlock()
	return b.checkGenLocked(ctx)
}

func (b *natsBroker) checkGenLocked(ctx context.Context) error {
	cur, err := readGen(ctx, b.kv)
	if err != nil || cur == "" || cur == b.generation() {
		return nil // unknown, or a reset half done: look again later
	}
	if b.touched.Load() {
		return errReset
	}
	if err := b.registerAll(ctx, cur); err != nil {
		return err
	}
	b.notice(fmt.Sprintf("pcrun: the NATS queues on %s were reset by a run started with --fresh; this process joined that run", b.redacted()))
	return nil
}
