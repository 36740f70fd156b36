package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

const (
	// producerBatch is how many items a producer that only makes items
	// (stages.Producer.OnlyItems) makes before it puts them into its
	// memory queue together: one lock and one wake-up of the readers for
	// the lot instead of one per item.
	producerBatch = 64
	// batchWindow bounds how long the first item of a batch waits for the
	// others: a producer whose items are slow to make puts what it has.
	batchWindow = 100 * time.Microsecond
)

// produceBatched is the loop of a producer replica that only makes items,
// into a memory queue: it makes up to producerBatch items, then puts them
// with putBatch, which blocks while the queue is full exactly as Put does
// (the queue never holds more than its capacity). next is the index of the
// next item to make. It returns false when the producer stopped early:
// stopped, failed or cancelled.
//
// When a stop cuts a batch short, the items not put were made but never
// produced: no one saw them (the producer prints nothing; observers see a put
// after the put), so next goes back to the first of them, and a run
// resuming from the spill file makes them again. The per-item loop
// abandons (and spills) the one item whose put was cut short instead.
func (r *run) produceBatched(ctx context.Context, w *stages.ProducerWorker, count int, to string, q queue.Batcher, row int, next *int) bool {
	c := r.stats[row]
	batch := make([]queue.Item, 0, producerBatch)
	for *next < count {
		first := *next
		batch = batch[:0]
		var failed error
		start := time.Now()
		for *next < count && len(batch) < producerBatch {
			if ctx.Err() != nil {
				break
			}
			v, err := w.Item(*next)
			if err != nil {
				failed = err
				break
			}
			batch = append(batch, queue.Item{ID: r.ids.Add(1), Origin: int32(row), Value: v})
			*next++
			if len(batch)%8 == 0 && time.Since(start) > batchWindow {
				break
			}
		}
		me := queue.WorkerFrom(ctx)
		me.Index.Store(int64(first))
		n, err := q.PutBatch(ctx, batch)
		me.Index.Store(int64(first + n))
		c.produced.Add(int64(n))
		if r.puts != nil {
			for _, it := range batch[:n] {
				r.puts.Put(to, it.Value)
			}
		}
		if err != nil {
			*next = first + n
			return false
		}
		if failed != nil {
			c.produced.Add(1)
			c.failed.Add(1)
			r.fail(fmt.Sprintf("producer %s: item %d: %v", w.Name(), *next, failed))
			*next++
			return false
		}
	}
	return true
}
