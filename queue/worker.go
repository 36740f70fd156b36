package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
)

// Worker is the goroutine that calls a queue operation, carried by its
// context (WithWorker): a backend names it in events and stalls, and adds
// the time it waits to its stage's counters.
type Worker struct {
	Name  string // the worker: the stage, with -N when it has replicas
	Stage string
	Kind  Kind
	// Idle and Blocked, when not nil, add up the nanoseconds the worker
	// waits for an item (or a join), and to put into a full queue.
	Idle, Blocked *atomic.Int64
	// Index, for a producer replica, is the index (its `i`) of the item
	// it is putting, and once the put returned, of the next one: a
	// backend may name an item by its stage, replica and index (the same
	// item when a run is resumed), and record how far a producer got. A
	// batch put (Batcher) holds the items from Index on.
	Index atomic.Int64
}

// Kind says what a worker is.
type Kind uint8

const (
	// Supervisor: the run itself (ending a queue no stage writes to).
	Supervisor Kind = iota
	// Producer: a producer replica, or the replay of a spill file.
	Producer
	// Consumer: a consumer replica; what it puts is emitted.
	Consumer
)

type workerKey struct{}

// WithWorker returns ctx carrying w.
func WithWorker(ctx context.Context, w *Worker) context.Context {
	return context.WithValue(ctx, workerKey{}, w)
}

// WorkerFrom returns the worker ctx carries, or nil.
func WorkerFrom(ctx context.Context) *Worker {
	w, _ := ctx.Value(workerKey{}).(*Worker)
	return w
}

// Waited adds a wait of d, on op, to the worker's counters.
func (w *Worker) Waited(op Op, d time.Duration) {
	switch {
	case op == OpPut && w.Blocked != nil:
		w.Blocked.Add(int64(d))
	case op != OpPut && w.Idle != nil:
		w.Idle.Add(int64(d))
	}
}

// WaitEvent is the event that reports a wait of d on op on queue.
func (w *Worker) WaitEvent(op Op, queue string, d time.Duration) observe.Event {
	kind := observe.EventIdle
	if op == OpPut {
		kind = observe.EventBlocked
	}
	return observe.Event{Kind: kind, Stage: w.Stage, Worker: w.Name, Queue: queue, Dur: d, Depth: -1}
}

// PutEvent is the event of an item (or end marker) put into queue by the
// worker of ctx, which then held depth entries (-1: unknown).
func PutEvent(ctx context.Context, queue string, it Item, depth int) observe.Event {
	e := observe.Event{Kind: observe.EventProduced, Queue: queue, Item: it.ID, Depth: depth}
	if w := WorkerFrom(ctx); w != nil {
		e.Stage, e.Worker = w.Stage, w.Name
		if w.Kind == Consumer {
			e.Kind = observe.EventEmitted
		}
	}
	if it.Marker {
		e.Kind = observe.EventSentinel
	}
	return e
}

// TakeEvent is the event of an item (or end marker) taken from queue by
// the worker of ctx, which then held depth entries (-1: unknown).
func TakeEvent(ctx context.Context, queue string, it Item, depth int) observe.Event {
	e := observe.Event{Kind: observe.EventTaken, Queue: queue, Item: it.ID, Depth: depth}
	if w := WorkerFrom(ctx); w != nil {
		e.Stage, e.Worker = w.Stage, w.Name
	}
	return e
}

// Op is a queue operation a worker waits on.
type Op int

const (
	OpGet Op = iota
	OpPut
	OpJoin
)

func (o Op) String() string {
	return [...]string{"take from", "put into", "join"}[o]
}

// Stall describes a moment when no live worker can make progress: every
// one of them waits on a queue operation that nothing can satisfy.
type Stall struct {
	Waits []Wait
}

// Wait is one blocked worker.
type Wait struct {
	Worker   string `json:"worker"`
	Op       string `json:"op"` // "take from", "put into" or "join"
	Queue    string `json:"queue"`
	Depth    int    `json:"depth"`
	Capacity int    `json:"capacity"` // 0: unbounded
}

// Sort orders the waits by queue, operation and worker.
func (s *Stall) Sort() {
	sort.Slice(s.Waits, func(i, j int) bool {
		a, b := s.Waits[i], s.Waits[j]
		if a.Queue != b.Queue {
			return a.Queue < b.Queue
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Worker < b.Worker
	})
}

// End ends q once its last writer finished, as the strategy says: close
// it, or put one end marker per reader replica (markers), blocking like
// Put. It is what Queue.WriterDone does after the last writer.
func End(ctx context.Context, q Queue, strategy config.Strategy, markers int, log *slog.Logger) {
	switch strategy {
	case config.Close:
		log.Debug("queue "+q.Name()+": its writers finished; closing it", "queue", q.Name())
		q.Close()
	case config.Sentinel:
		log.Debug(fmt.Sprintf("queue %s: its writers finished; putting %d end marker(s)", q.Name(), markers), "queue", q.Name(), "markers", markers)
		for range markers {
			if q.Put(ctx, Item{Marker: true}) != nil {
				return
			}
		}
	}
}
