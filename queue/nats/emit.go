package nats

import (
	"context"
	"sync"
	"time"

	"github.com/pcrun/pcrun/queue"
)

// A consumer's emits into a NATS queue go through the window too
// (window.go), and the item it took from a NATS queue is acknowledged
// only once every emit it made is stored: at least once across a crash,
// as when each emit was confirmed before Put returned.
//
// The Get of a consumer's worker records which delivery the worker holds
// (taking); a Put by the same worker ties its publish to that delivery
// (parent); the Ack of a delivery whose emits are pending is left to the
// confirmer of the last of them. An emit given up at the stop never
// acknowledges its parent: the broker delivers it again, to this run's
// Drain or a later run (the emit itself is abandoned, and spilled).

// taking is the delivery each consumer worker holds, by worker.
var taking sync.Map // *queue.Worker -> *delivery

// emits is what a delivery waits for before it is acknowledged.
type emits struct {
	mu      sync.Mutex
	pending int  // emits of the item not yet stored
	acked   bool // the consumer finished the item: acknowledge it once pending is 0
	lost    bool // an emit was given up: never acknowledge it
}

// took records that the worker of ctx, a consumer, holds d.
func (q *natsQueue) took(ctx context.Context, d *delivery) {
	if w := queue.WorkerFrom(ctx); w != nil && w.Kind == queue.Consumer {
		d.q, d.by, d.at = q, w, time.Now()
		taking.Store(w, d)
	}
}

// parent is the delivery whose processing a consumer's Put emits
// from, if the worker took it from a NATS queue; nil otherwise.
func parent(ctx context.Context) *delivery {
	w := queue.WorkerFrom(ctx)
	if w == nil || w.Kind != queue.Consumer {
		return nil
	}
	d, _ := taking.Load(w)
	p, _ := d.(*delivery)
	return p
}

// emitting counts one more pending emit of p.
func (p *delivery) emitting() {
	p.emu.Lock()
	if p.emits == nil {
		p.emits = &emits{}
	}
	p.emits.pending++
	p.emu.Unlock()
}

// emitted ends one pending emit of p: stored, or given up (lost). The
// last one acknowledges p if its consumer finished it meanwhile.
func (p *delivery) emitted(lost bool) {
	p.emu.Lock()
	e := p.emits
	e.pending--
	e.lost = e.lost || lost
	ack := e.pending == 0 && e.acked && !e.lost
	p.emu.Unlock()
	if ack {
		p.q.ackNow(p)
	}
}

// deferAck reports whether the acknowledgement of d waits for its
// pending emits (the last of them acknowledges it); it forgets that the
// worker holds d.
func (d *delivery) deferAck() bool {
	if d.by != nil {
		taking.CompareAndDelete(d.by, d)
		d.q.handled(time.Since(d.at))
	}
	d.emu.Lock()
	defer d.emu.Unlock()
	if d.emits == nil || d.emits.pending == 0 && !d.emits.lost {
		return false
	}
	d.emits.acked = true
	return true
}

// handedBack forgets that the worker holds d.
func (d *delivery) handedBack() {
	if d.by != nil {
		taking.CompareAndDelete(d.by, d)
	}
}

// ackNow acknowledges d: the broker removes its message.
func (q *natsQueue) ackNow(d *delivery) {
	q.settle(d, true)
	// Counted before the broker hears of it: once it has, a writer here
	// may put into the room the ack made, and the depth this process
	// estimates (put - acked) must not count the item twice meanwhile.
	q.acked.Add(1)
	d.msg.Ack()
}

// forgetWorkers forgets the workers holding q's deliveries (the queue
// stopped: an item abandoned at the stop is never acknowledged nor handed
// back).
func (q *natsQueue) forgetWorkers() {
	taking.Range(func(w, d any) bool {
		if d.(*delivery).q == q {
			taking.CompareAndDelete(w, d)
		}
		return true
	})
}
