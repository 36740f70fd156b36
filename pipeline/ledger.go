package pipeline

import (
	"sync/atomic"

	"github.com/pcrun/pcrun/observe"
)

// counters are one stage's live counts. As an origin (a producer, or a
// consumer that emits or dead-letters) it owns the ledger row: every item
// it produced ends done, filtered, failed, abandoned or handed off. As a
// consumer it counts what it took. The same counters hold the items a
// shared run took from a shared NATS queue (run.received), with handedOff
// counting those handed back to the broker.
type counters struct {
	produced, done, filtered, failed, abandoned atomic.Int64
	skipped, deadLettered                       atomic.Int64 // parts of failed
	handedOff                                   atomic.Int64
	taken                                       atomic.Int64
	// Nanoseconds its workers spent waiting for items (idle), waiting to
	// put into a full queue (blocked), and alive (added as each exits).
	idle, blocked, alive atomic.Int64
}

// ledger reads the counters' ledger.
func (c *counters) ledger() observe.Ledger {
	return observe.Ledger{
		Produced: c.produced.Load(), Done: c.done.Load(), Filtered: c.filtered.Load(),
		Failed: c.failed.Load(), Skipped: c.skipped.Load(), DeadLettered: c.deadLettered.Load(),
		Abandoned: c.abandoned.Load(), HandedOff: c.handedOff.Load(),
	}
}

// queueCounters are the ledger of the items put into one queue.
type queueCounters struct {
	done, filtered, failed, abandoned, handedOff atomic.Int64
}
