// Package queue defines what the runtime needs from the queues between
// stages: Item, Queue and its optional capabilities, and the registry of
// backends that open them (Backend, Register). The runtime never names a
// concrete queue type: it opens each queue through its backend and asserts
// optional capabilities by behaviour, as io.Copy asserts io.WriterTo.
//
// Backends live in packages of their own and register themselves:
// queue/memory (the embedded default, with exact deadlock detection) and
// queue/nats (NATS JetStream). A backend imports this package, observe for
// the counters and events it reports, and stages/config for the queue's
// spec; never the runtime.
package queue

import (
	"context"
	"errors"
	"fmt"
)

// Item is one value travelling through a queue, and, once taken, one
// delivery of it: Ack and HandBack take the Item that Get returned.
type Item struct {
	// ID is unique in the run (0 for an end marker, and for an item a
	// process outside pcrun published).
	ID uint64
	// Origin is the ledger row of the stage that put it (int32: with
	// Marker, one word).
	Origin int32
	// Marker says the item is a sentinel end marker, not a value.
	Marker bool
	Value  any
	// Receipt is what the backend needs to acknowledge this delivery;
	// opaque to the runtime, nil for a memory queue.
	Receipt any
}

var (
	// ErrClosed is returned by Get when the queue is closed and empty.
	ErrClosed = errors.New("queue closed")
	// ErrPutClosed is wrapped by a Put into a closed queue. The run
	// closes a queue only after its last writer finished, so this is a
	// bug in pcrun; the item fails with the message instead of crashing
	// the run.
	ErrPutClosed = errors.New("put into a closed queue")
)

// Queue is a queue between stages. Every method is safe for concurrent
// use. A blocking method returns ctx's error when ctx ends first, and
// never adds or takes an item it reports as not done.
type Queue interface {
	// Name is the queue's name in the pipeline file.
	Name() string
	// Put adds an item, blocking while the queue holds its capacity
	// (end markers included). It returns an error wrapping ErrPutClosed
	// after Close.
	Put(ctx context.Context, it Item) error
	// Get takes the next item, blocking while the queue is empty. It
	// returns ErrClosed once the queue is closed and drained, or an
	// *ExpiredError carrying an item that must not be handled again.
	Get(ctx context.Context) (Item, error)
	// Ack marks an item taken by Get as finished (task_done).
	Ack(it Item)
	// Join blocks until every item put so far has been acknowledged
	// (JoinableQueue.join).
	Join(ctx context.Context) error
	// WriterDone records that one writer replica of stage has finished
	// putting. When that was the queue's last writer (in every process
	// sharing it), the queue ends as the run's strategy says: it closes,
	// or it puts one end marker per reader (blocking like Put, on ctx).
	WriterDone(ctx context.Context, stage string) error
	// Close says no item will be put any more; readers drain what is
	// left. WriterDone calls it; the runtime calls it only for a queue
	// with no writer.
	Close()
	// Drain removes and returns the items still queued (end of a run);
	// a queue shared with other processes leaves them to the others, and
	// returns only the items put here that never reached it (a put
	// returned before the broker confirmed it, and it never did).
	Drain() []Item
	// Stats returns the counters for the summary.
	Stats() QueueStats
}

// ExpiredError is returned by Get for an item delivered more often than
// its queue allows (a broker's redelivery after readers died or timed
// out): the item fails without running again, and is acknowledged.
type ExpiredError struct {
	Item       Item
	Deliveries uint64
	Max        int
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("delivered %d times and never finished (max_deliver %d): "+
		"the readers it went to died or held it past ack_wait", e.Deliveries, e.Max)
}

// Batcher is a Queue that puts many items at once: one lock and one
// wake-up of the readers for the lot.
type Batcher interface {
	// PutBatch puts items in order, as that many Puts would, blocking
	// while the queue is full. It returns how many it put; those after
	// them were not put (ctx ended, or the queue was closed).
	PutBatch(ctx context.Context, items []Item) (int, error)
}

// Shared is a Queue whose items other processes may take: an item put is
// handed off (whoever takes it accounts for it), and an item taken and
// not finished when this process stops goes back for another reader.
type Shared interface {
	// Shared reports whether other processes share the queue in this
	// run.
	Shared() bool
	// HandBack gives an item taken by Get and not finished back to the
	// queue, for another process's reader.
	HandBack(it Item)
}
