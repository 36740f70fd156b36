package pipeline

import (
	"context"
	"errors"

	"github.com/pcrun/pcrun/observe"
)

// Item is a value travelling through a queue.
type Item struct {
	ID     uint64
	Origin int32 // ledger row of the stage that put it (int32: with marker, one word)
	Value  any
	marker bool      // a sentinel end marker, not an item
	nats   *delivery // taken from a NATS queue: the delivery Ack acknowledges
}

// errClosed is returned by Get when the queue is closed and empty.
var errClosed = errors.New("queue closed")

// errPutClosed is returned by Put into a closed queue. The run closes a
// queue only after its last writer finished, so this is a bug in pcrun;
// the item fails with the message instead of crashing the run.
var errPutClosed = errors.New("put into a closed queue")

// Queue is a queue between stages. The memory queue is the embedded
// default; an out-of-process broker with acknowledgements implements the
// same methods.
type Queue interface {
	// Name is the queue's name in the pipeline file.
	Name() string
	// Put adds an item, blocking while the queue holds `capacity` items
	// (end markers included). It returns ctx's error if ctx ends first,
	// and an error wrapping errPutClosed if the queue is closed.
	Put(ctx context.Context, it Item) error
	// Get takes the next item, blocking while the queue is empty. It
	// returns errClosed once the queue is closed and empty, or ctx's error.
	Get(ctx context.Context) (Item, error)
	// Ack marks an item taken by Get as finished (task_done).
	Ack(it Item)
	// Join blocks until every item put so far has been acknowledged.
	Join(ctx context.Context) error
	// Close says no item will be put any more; readers drain what is left.
	// Only the run calls it, once the queue's last writer has finished.
	Close()
	// Drain removes and returns the items still queued (end of a run).
	Drain() []Item
	// Stats returns counters for the summary.
	Stats() observe.QueueStats
}
