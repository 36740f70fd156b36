package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/internal/wait"
)

// While a JetStream cluster elects a new leader for a stream (the
// server leading it was lost), or a connection moves to another server,
// requests about that stream go unanswered for a while: no server
// answers yet (nats.ErrNoResponders), the answer does not come in time,
// or the cluster says it is not available (a 503 other than "JetStream
// not enabled"). Such an error says nothing about the request: it is
// asked again, each try bounded by attemptTimeout, until it is answered
// or the run's context ends. Each episode of such failures is logged: a
// warning with the broker's words when it starts, a notice when the
// request is answered again.

// attemptTimeout bounds one try of a request that is retried: a request
// sent to a server that died meanwhile is sent again, not waited for
// until the run's context ends.
const attemptTimeout = 5 * time.Second

// rosterTimeout bounds the retries of recording that a writer finished
// (finishStageNow), which runs on a context of its own: long enough for
// a cluster to elect a leader on a loaded machine.
const rosterTimeout = time.Minute

// transient reports whether err is one a cluster gives while it elects a
// leader, or a connection while it moves to another server.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return false
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, jetstream.ErrConsumerLeadershipChanged),
		errors.Is(err, jetstream.ErrNoStreamResponse):
		return true
	case errors.As(err, &apiErr):
		return apiErr.Code == 503 || apiErr.Code == 408
	}
	return false
}

// episode is one operation retried through transient failures.
type episode struct {
	log   *slog.Logger
	what  string // e.g. "queue main: reading key gen of bucket PCRUN_shop on nats://..."
	since time.Time
	pause time.Duration
}

// retry reports whether err, a failure of the operation, is to be tried
// again: it is transient and ctx has not ended. It logs the start of an
// episode, and waits before the next try.
func (e *episode) retry(ctx context.Context, err error) bool {
	if !transient(err) || ctx.Err() != nil {
		return false
	}
	e.failed(err)
	e.pause = min(max(2*e.pause, retryFirst), retryMax)
	return wait.For(ctx, e.pause) == nil
}

// failed logs the start of an episode: err is the first failure.
func (e *episode) failed(err error) {
	if !e.since.IsZero() {
		return
	}
	e.since = time.Now()
	if e.log != nil {
		e.log.Warn(fmt.Sprintf("%s failed: %v; retrying until it works or the run stops", e.what, err), "err", err.Error())
	}
}

// done ends an episode when err is nil, and starts one otherwise.
func (e *episode) done(err error) {
	if err != nil {
		e.failed(err)
	} else {
		e.ok()
	}
}

// ok logs the end of an episode, if there was one.
func (e *episode) ok() {
	if e.since.IsZero() {
		return
	}
	d := time.Since(e.since)
	if e.log != nil {
		e.log.Info(fmt.Sprintf("%s works again after %s", e.what, d.Round(time.Millisecond)), "after", d)
	}
	e.since, e.pause = time.Time{}, 0
}

// retrying runs op, each try on a context bounded by attemptTimeout, until
// it succeeds, fails with an error that is not transient, or ctx ends.
func retrying[T any](ctx context.Context, log *slog.Logger, what string, op func(context.Context) (T, error)) (T, error) {
	e := episode{log: log, what: what}
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := op(actx)
		cancel()
		if err == nil {
			e.ok()
			return v, nil
		}
		if !e.retry(ctx, err) {
			return v, err
		}
	}
}

// getKey reads key, waiting at most attemptTimeout for the answer.
func getKey(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return kv.Get(ctx, key)
}

// readGenRetried reads the generation (readGen) through a cluster's
// leader elections: a bucket just made with replicas answers no read for
// a moment.
func (b *natsBroker) readGenRetried(ctx context.Context) (string, error) {
	what := fmt.Sprintf("reading key %s of bucket %s on %s", genKey, b.kv.Bucket(), b.redacted())
	return retrying(ctx, b.log, what, func(ctx context.Context) (string, error) { return readGen(ctx, b.kv) })
}

// putKey creates key (rev 0) or updates it from revision rev, waiting at
// most attemptTimeout for the answer.
func putKey(ctx context.Context, kv jetstream.KeyValue, key string, data []byte, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	var err error
	if rev == 0 {
		_, err = kv.Create(ctx, key, data)
	} else {
		_, err = kv.Update(ctx, key, data, rev)
	}
	return err
}
