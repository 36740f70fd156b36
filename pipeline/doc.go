// Package pipeline runs a compiled pipeline: it builds the goroutine graph
// from a [stages.Graph], owns every goroutine and queue, applies the
// shutdown strategy, handles deadline and signals, detects deadlocks, and
// accounts for every item.
//
// It is the runtime only. Queues come from backends (package queue; the
// memory backend is the default), time and the order goroutines run in
// from a [Clock] (wall time by default; package sim gives a virtual one),
// IO effects from package effects, and whoever watches the run is an
// observe.Observer. docs/architecture.md draws the packages.
//
// Ownership: [Run] starts every worker and waits for all of them before it
// returns. Queues are opened by the run through their backends and ended
// by them after their last writer (never by a reader). Every blocking
// operation watches a context: a soft one that stops producing and a hard
// one that cancels everything.
package pipeline

import (
	// The memory backend is the embedded default: every run can use it.
	_ "github.com/pcrun/pcrun/queue/memory"
)
