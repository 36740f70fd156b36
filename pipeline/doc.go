// Package pipeline runs a compiled pipeline: it builds the goroutine graph
// from a [stages.Graph], owns every goroutine and queue, applies the
// shutdown strategy, handles deadline and signals, detects deadlocks, and
// accounts for every item.
//
// Ownership: [Run] starts every worker and waits for all of them before it
// returns. Queues are created by the run and closed by it (never by a
// reader); with several writers, the last writer to finish closes. Every
// blocking operation watches a context: a soft one that stops producing and
// a hard one that cancels everything.
package pipeline

import (
	// The memory backend is the embedded default: every run can use it.
	_ "github.com/pcrun/pcrun/queue/memory"
)
