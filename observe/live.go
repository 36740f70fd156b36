package observe

import (
	"time"
)

// Live reads a running run's counters. Its methods are safe to call from
// any goroutine, during the run and after Run returns (then they give the
// final values).
type Live interface {
	// Snapshot reads the counters. Reading a NATS queue's depth asks its
	// broker (a round trip).
	Snapshot() Snapshot
}

// Snapshot is a run's progress at one moment.
type Snapshot struct {
	Elapsed time.Duration
	Stages  []StageProgress
	Queues  []QueueStats // Depth, MaxDepth, Put, Taken, ...
}

// StageProgress is one stage's counters at one moment.
type StageProgress struct {
	Name    string
	Kind    string // producer, consumer or replay
	Workers int
	// Total is how many items a producer makes in all (count times
	// replicas, less what a resumed run made before); -1 when unknown.
	Total int64
	Taken int64 // consumers: items taken
	Ledger
	Idle, Blocked time.Duration // summed over its workers, so far
}
