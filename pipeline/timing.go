package pipeline

import (
	"time"
)

// clock is a run's time since it started, for stamps and events: real
// time, or a simulation's virtual time (virt).
type clock struct {
	start time.Time
	virt  *time.Duration // the simulator's now; nil in a real run
}

// elapsed is the time since the start.
func (c *clock) elapsed() time.Duration {
	if c.virt != nil {
		return *c.virt
	}
	return time.Since(c.start)
}

// now is the time since the start, at least 1 (0 means "not stamped").
// Not inlined: the queue operations that call it on their rare paths
// keep a small frame.
//
//go:noinline
func (c *clock) now() int64 { return max(int64(c.elapsed()), 1) }
