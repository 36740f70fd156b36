package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/queue"
)

// A producer's items are published asynchronously: Put sends the item and
// returns while the broker's acknowledgement is on its way, with at most
// window publishes of the queue unacknowledged at once (Put waits for a
// slot: the window). One goroutine, the confirmer, takes the
// acknowledgements in the order of the publishes; an item the stream
// refused, or whose acknowledgement did not come, is published again with
// its message id (the stream stores it once), as publish does: a full
// stream quietly (backpressure), any other failure with a backoff and a
// warning with the broker's words once per episode, and a notice when
// publishing works again. The emits of a consumer that took its item from
// a NATS queue go through the window too, and that item is acknowledged
// once they are stored (emit.go). Other puts (a consumer's item from a
// memory queue) and end markers are confirmed before Put returns
// (publish): markers follow every item.
//
// Before the queue ends (WriterDone) and before Join, every pending
// publish is confirmed (flush). When the queue stops (shutdown) a refused
// publish is retried no more; Drain returns those never confirmed, as
// abandoned: never lost silently.
//
// Items a window refused and published again arrive after later ones: a
// NATS queue with several readers keeps no order anyway.

const (
	windowMax = 128 // the most publishes of a queue awaiting their acknowledgement
	retryFull = 200 * time.Microsecond
)

// pubWindow is the publishes of a queue awaiting their acknowledgement.
type pubWindow struct {
	js       jetstream.JetStream // its own, for its own limit of pending publishes
	slots    chan struct{}       // a token per publish in flight
	inflight chan *pubEntry      // the confirmer takes them in order

	mu          sync.Mutex
	pending     int           // publishes sent and not yet confirmed or given up
	settled     chan struct{} // closed and replaced each time pending drops to 0 (nil: none waits)
	unconfirmed []queue.Item  // given up at the stop: Drain returns them
}

// pubEntry is one asynchronous publish of an item.
type pubEntry struct {
	it     queue.Item
	parent *delivery // the item a consumer emitted it from (emit.go)
	msg    *nats.Msg
	id     string
	f      jetstream.PubAckFuture
	sent   time.Time // when it was last sent
}

// windowSize is how many publishes of a queue may await their
// acknowledgement: a quarter of the capacity (a window larger than the
// room in the stream has most publishes refused), at most windowMax.
func windowSize(capacity int) int {
	if capacity <= 0 {
		return windowMax
	}
	return min(max(capacity/4, 1), windowMax)
}

// asyncPut reports whether Put publishes it in the window: an item a
// producer (or the replay of a spill file) puts, or one a consumer emits
// while it holds an item taken from a NATS queue (p, acknowledged once
// the emit is stored: emit.go).
func asyncPut(ctx context.Context, it queue.Item) (async bool, p *delivery) {
	if it.Marker {
		return false, nil
	}
	w := queue.WorkerFrom(ctx)
	if w != nil && w.Kind == queue.Producer {
		return true, nil
	}
	p = parent(ctx)
	return p != nil, p
}

// window returns the queue's window, starting its confirmer the first
// time.
func (q *natsQueue) window() (*pubWindow, error) {
	q.pubOnce.Do(func() {
		n := windowSize(q.capacity)
		js, err := jetstream.New(q.b.nc, jetstream.WithPublishAsyncMaxPending(2*n), jetstream.WithPublishAsyncTimeout(publishTimeout))
		if err != nil {
			q.pubErr = err
			return
		}
		w := &pubWindow{js: js, slots: make(chan struct{}, n), inflight: make(chan *pubEntry, n)}
		q.wg.Go(func() { q.confirm(w) })
		q.pubs.Store(w)
	})
	return q.pubs.Load(), q.pubErr
}

// publishAsync sends the item in the window, waiting for a slot. An
// error that no retry can cure (the item is too large) is returned; a
// send that fails otherwise (no connection) falls back to publish.
func (q *natsQueue) publishAsync(ctx context.Context, it queue.Item, msg *nats.Msg, id string, p *delivery) error {
	w, err := q.window()
	if err != nil {
		return q.publish(ctx, msg, id)
	}
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-q.stop:
		return q.publish(ctx, msg, id) // stopping: no confirmer any more
	}
	f, err := w.js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
	if err != nil {
		<-w.slots
		return q.publish(ctx, msg, id)
	}
	if p != nil {
		p.emitting()
	}
	w.mu.Lock()
	w.pending++
	w.mu.Unlock()
	w.inflight <- &pubEntry{it: it, parent: p, msg: msg, id: id, f: f, sent: time.Now()} // room: a slot is held
	return nil
}

// confirm takes the acknowledgement of each publish in order, publishing
// again what was refused, until the queue stops; then it waits for those
// still in flight, and gives up on those refused.
func (q *natsQueue) confirm(w *pubWindow) {
	r := retrier{q: q}
	for {
		var e *pubEntry
		select {
		case e = <-w.inflight:
		case <-q.stop:
			q.giveUp(w)
			return
		}
		for try := 0; ; try++ {
			err := q.ack(e.f, q.stop)
			if err == nil {
				r.stored()
				w.done(e, true)
				break
			}
			if errors.Is(err, errStopped) || sleepStop(q.stop, r.failed(e, try, err)) {
				w.done(e, false)
				q.giveUp(w)
				return
			}
			e.sent = time.Now()
			if e.f, err = w.js.PublishMsgAsync(e.msg, jetstream.WithMsgID(e.id)); err != nil {
				e.f = failed(err)
			}
		}
	}
}

// retrier says how long the confirmer waits before it publishes again
// what was refused, and logs the episodes of failures.
type retrier struct {
	q        *natsQueue
	since    time.Time // when the current episode of failures began (zero: none)
	lastFail time.Time // when the latest failure was seen
	broken   time.Duration
}

// failed returns the wait before publishing e again after err. A full
// stream is retried at once the first time, then after a short wait (a
// reader makes room). Any other failure of a publish sent after the
// latest one seen starts or prolongs an episode: a warning with the
// broker's words when it starts, and a backoff. A publish that was in
// flight when an earlier failure was seen says nothing new of the broker
// (a restart fails every publish in flight at once): it is sent again at
// once, in silence.
func (r *retrier) failed(e *pubEntry, try int, err error) time.Duration {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errMaxMsgs {
		if try == 0 {
			return 0
		}
		return min(time.Duration(try)*retryFull, maxPutWait)
	}
	stale := e.sent.Before(r.lastFail)
	r.lastFail = time.Now()
	if stale {
		return 0
	}
	if r.since.IsZero() {
		r.since = r.lastFail
		q := r.q
		q.env.Log.Warn(fmt.Sprintf("queue %s: publishing to stream %s failed: %v; retrying until it works or the run stops",
			q.spec.Name, q.spec.Stream, err), "queue", q.spec.Name, "err", err.Error())
	}
	r.broken = min(max(2*r.broken, retryFirst), retryMax)
	return r.broken
}

// stored ends the episode of failures, if any: publishing works again.
func (r *retrier) stored() {
	if !r.since.IsZero() {
		r.q.recovered(r.since)
		r.since, r.broken = time.Time{}, 0
	}
}

// errStopped: the queue stopped while a publish awaited its answer.
var errStopped = errors.New("stopped")

// ack waits for a publish's acknowledgement; errStopped when stop closes
// first.
func (q *natsQueue) ack(f jetstream.PubAckFuture, stop <-chan struct{}) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-stop:
		return errStopped
	}
}

// giveUp, once the queue stops, waits for the publishes still in flight
// (each ends within publishTimeout) and keeps the items of those not
// stored for Drain.
func (q *natsQueue) giveUp(w *pubWindow) {
	for {
		select {
		case e := <-w.inflight:
			var err error
			select {
			case <-e.f.Ok():
			case err = <-e.f.Err():
			}
			if err != nil {
				w.done(e, false)
			} else {
				w.done(e, true)
			}
		default:
			return
		}
	}
}

// done ends one pending publish: stored, or given up (the stop).
func (w *pubWindow) done(e *pubEntry, stored bool) {
	<-w.slots
	w.mu.Lock()
	w.pending--
	if !stored {
		w.unconfirmed = append(w.unconfirmed, e.it)
	}
	if w.pending == 0 && w.settled != nil {
		close(w.settled)
		w.settled = nil
	}
	w.mu.Unlock()
	if e.parent != nil {
		e.parent.emitted(!stored)
	}
}

// flush waits until every publish sent so far is confirmed or given up,
// or ctx ends.
func (q *natsQueue) flush(ctx context.Context) error {
	w := q.pubs.Load()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if w.pending == 0 {
		w.mu.Unlock()
		return nil
	}
	if w.settled == nil {
		w.settled = make(chan struct{})
	}
	c := w.settled
	w.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unconfirmed returns, once the queue has stopped, the items whose
// publish was never confirmed.
func (q *natsQueue) unconfirmed() []queue.Item {
	w := q.pubs.Load()
	if w == nil {
		return nil
	}
	q.giveUp(w) // what was sent after the confirmer returned
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.unconfirmed
	w.unconfirmed = nil
	return out
}

// failedFuture is a publish that failed before it was sent.
type failedFuture struct{ err chan error }

func failed(err error) jetstream.PubAckFuture {
	c := make(chan error, 1)
	c <- err
	return failedFuture{c}
}

func (f failedFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (f failedFuture) Err() <-chan error            { return f.err }
func (f failedFuture) Msg() *nats.Msg               { return nil }

// flushNow confirms the pending publishes before a writer stage is
// recorded as finished, retrying for as long as the run goes on. A run
// that stops meanwhile goes on without them: the queue gives up on them
// when it stops, and Drain returns them as abandoned.
func (q *natsQueue) flushNow(ctx context.Context) {
	_ = q.flush(ctx)
}

// unsent is how many items put here the broker has not confirmed yet.
func (q *natsQueue) unsent() int64 {
	w := q.pubs.Load()
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return int64(w.pending)
}
