package nats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pcrun/pcrun/config"
)

// The pump fetches for this process's readers, and the keeper tells the
// broker the items held here are in progress.

// startPump starts the goroutines that serve this process's readers.
func (q *natsQueue) startPump() {
	n := maxBatch
	if q.capacity > 0 {
		n = min(n, q.capacity)
	}
	if q.env.Strategy == config.Sentinel {
		n = 1 // a reader leaving on its marker leaves nothing fetched behind
	}
	q.deliveries = make(chan *delivery, n)
	q.wg.Go(q.pump)
	q.wg.Go(q.keep)
}

// fetchHorizon is how much work, at the pace of this process's readers,
// the pump of a shared queue fetches ahead: items fetched here wait for a
// reader here, while another process's readers may be idle.
const fetchHorizon = 2 * time.Millisecond

// fetchSize is how many items the local buffer may hold. A queue this
// process owns fills the whole buffer. A shared one fetches for each
// local reader what it finishes within fetchHorizon (by the moving
// average of how long a reader holds an item), at least one: readers
// whose items take long get one each, so the items go to the processes
// with idle readers; fast readers get batches.
func (q *natsQueue) fetchSize() int {
	n := cap(q.deliveries)
	if !q.shared || n == 1 {
		return n
	}
	readers := 0
	for _, r := range q.readers {
		readers += r
	}
	per := int64(1)
	if h := q.handling.Load(); h > 0 {
		per = max(1, int64(fetchHorizon)/h)
	}
	return int(min(int64(n), int64(max(1, readers))*per))
}

// handled adds how long a reader here held an item to the moving
// average (a weight of 1/8 for the newest).
func (q *natsQueue) handled(d time.Duration) {
	for {
		old := q.handling.Load()
		avg := int64(d)
		if old > 0 {
			avg = old + (int64(d)-old)/8
		}
		if q.handling.CompareAndSwap(old, max(avg, 1)) {
			return
		}
	}
}

// pump fetches as many messages as the local buffer has room for, and
// closes it when the queue is closed and the broker has nothing left. A
// fetch is never cancelled halfway (a message the broker sent and nobody
// saw would wait out ack_wait): each ends by itself within natsPoll.
// A failed fetch or check (a cluster electing a leader for the stream or
// its consumer) is tried again after natsPoll, and said (retry.go).
func (q *natsQueue) pump() {
	fetching := episode{log: q.env.Log, what: fmt.Sprintf("queue %s: fetching from stream %s", q.spec.Name, q.spec.Stream)}
	checking := episode{log: q.env.Log, what: fmt.Sprintf("queue %s: asking whether stream %s is drained", q.spec.Name, q.spec.Stream)}
	for {
		select {
		case <-q.stop:
			return
		default:
		}
		n := max(1, q.fetchSize()-len(q.deliveries))
		batch, err := q.cons.Fetch(n, jetstream.FetchMaxWait(natsPoll))
		if err != nil {
			fetching.failed(err)
			if sleepStop(q.stop, natsPoll) {
				return
			}
			continue
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if !q.ours(m) {
				continue
			}
			d := q.delivery(m)
			if !q.admit(d) {
				continue // a delivery of a message held or finished here: dedupe.go
			}
			select {
			case q.deliveries <- d:
			case <-q.stop:
				q.hmu.Lock()
				q.orphans = append(q.orphans, d)
				q.hmu.Unlock()
			}
		}
		fetching.done(batch.Error())
		if got > 0 {
			continue
		}
		if err := q.b.checkGen(context.Background(), false); err != nil {
			q.env.Abort(err)
		}
		if q.env.Strategy == config.Close || q.unmarked.Load() {
			drained, err := q.closedAndDrained()
			checking.done(err)
			if drained {
				close(q.deliveries)
				<-q.stop
				return
			}
		}
		if batch.Error() != nil && sleepStop(q.stop, natsPoll) { // a failure answers at once: no busy loop
			return
		}
	}
}

// ours reports whether a fetched message may be handed to a reader. One
// put in another generation makes the process look whether its own was
// reset (roster.go); if it was and the process cannot join the new
// one, the message goes back and the run stops.
func (q *natsQueue) ours(m jetstream.Msg) bool {
	// A generation is a nuid: 22 characters (an outside publisher's
	// message id says nothing about it).
	if g, _, found := strings.Cut(m.Headers().Get(jetstream.MsgIDHeader), "."); found && len(g) == 22 && g != q.b.generation() {
		if err := q.b.checkGen(context.Background(), true); err != nil {
			m.Nak()
			q.env.Abort(err)
			return false
		}
	}
	q.b.touched.Store(true)
	return true
}

// closedAndDrained reports whether every writer has ended and the broker
// holds no item that is not yet delivered or not yet acknowledged.
// A failure to ask is returned (it is false then).
func (q *natsQueue) closedAndDrained() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !q.ended.Load() {
		if r, err := q.roster(ctx); err != nil || r == nil || !r.Ended || q.awaitsResume(r) {
			return false, err
		}
		q.ended.Store(true)
	}
	if len(q.deliveries) > 0 {
		return false, nil
	}
	info, err := q.cons.Info(ctx)
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0, err
}

// keep tells the broker every ack_wait/2 that the items held here are in
// progress, so a long step does not get its item delivered again.
func (q *natsQueue) keep() {
	t := time.NewTicker(max(q.spec.AckWait/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		q.hmu.Lock()
		for d := range q.held {
			d.msg.InProgress()
		}
		q.hmu.Unlock()
	}
}

// shutdown stops the pump and the keeper and waits for them; idempotent.
func (q *natsQueue) shutdown() {
	q.hmu.Lock()
	select {
	case <-q.stop:
	default:
		close(q.stop)
	}
	q.hmu.Unlock()
	q.wg.Wait()
	q.forgetWorkers()
}

// sleepStop waits d or until stop is closed, and reports the latter.
func sleepStop(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return true
	case <-t.C:
		return false
	}
}
