package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/pcrun/pcrun/internal/wait"
)

// publish stores msg in the stream under the message id id, retrying
// until it is stored or ctx ends. The stream deduplicates by id, so a
// retry after a publish whose answer was lost stores the item once. A
// full stream is waited out quietly (backpressure, maxPutWait at most
// between tries); any other failure (the broker restarting, a cluster
// electing a leader, a lost connection) is retried with a longer backoff,
// and each episode is logged: a warning with the broker's words when it
// starts, a notice when publishing works again. Only an error that no
// retry can cure (the item is larger than the broker accepts) ends it.
func (q *natsQueue) publish(ctx context.Context, msg *nats.Msg, id string) error {
	full, broken := time.Millisecond, time.Duration(0)
	var since time.Time // when the current episode of failures began
	for {
		// Once sent, a publish is not cancelled: the item could be in
		// the stream and counted abandoned too. It ends within
		// publishTimeout either way.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		_, err := q.b.js.PublishMsg(pctx, msg, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			q.recovered(since)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("queue %s: publishing to stream %s: %w", q.spec.Name, q.spec.Stream, err)
		}
		var apiErr *jetstream.APIError
		pause := full
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errMaxMsgs {
			full = min(2*full, maxPutWait) // full: wait for a reader to finish an item
		} else {
			if since.IsZero() {
				since = time.Now()
				q.env.Log.Warn(fmt.Sprintf("queue %s: publishing to stream %s failed: %v; retrying until it works or the run stops",
					q.spec.Name, q.spec.Stream, err), "queue", q.spec.Name, "err", err.Error())
			}
			broken = min(max(2*broken, retryFirst), retryMax)
			pause = broken
		}
		if err := wait.For(ctx, pause); err != nil {
			return err
		}
	}
}

// recovered logs the end of an episode of failed publishes that began at
// since (zero: there was none).
func (q *natsQueue) recovered(since time.Time) {
	if since.IsZero() {
		return
	}
	d := time.Since(since)
	q.env.Log.Info(fmt.Sprintf("queue %s: publishing to stream %s works again after %s", q.spec.Name, q.spec.Stream, d.Round(time.Millisecond)),
		"queue", q.spec.Name, "after", d)
}
