package stages

import (
	"time"

	"github.com/pcrun/pcrun/config"
)

// ErrorPolicy is a consumer's compiled `on_error`: how often an item whose
// steps fail is tried, how long to wait between tries, and what happens
// after the last one.
type ErrorPolicy struct {
	// Attempts is the number of tries in all, at least 1 (1: no retry).
	Attempts int
	// Backoff is the wait before the first retry; each later wait is
	// Multiplier times longer, capped at MaxBackoff, then spread by
	// ±Jitter (a fraction) so replicas do not retry in lockstep.
	Backoff    time.Duration
	MaxBackoff time.Duration
	Multiplier float64
	Jitter     float64
	// Then is what happens after the last failed attempt.
	Then config.ErrorAction
	// DeadLetter is the queue failed items go to when Then is DeadLetter.
	DeadLetter string
}

// Wait returns how long to wait before retry number n (1 = the first
// retry, after the first failed attempt): Backoff × Multiplier^(n-1),
// capped at MaxBackoff (0 retries at once), then spread by ±Jitter. u is a
// uniform random number in [0, 1): 0.5 gives the wait without jitter, 0 the
// shortest (1-Jitter times it), values near 1 the longest.
func (p ErrorPolicy) Wait(n int, u float64) time.Duration {
	d, limit := float64(p.Backoff), float64(p.MaxBackoff)
	// Stop growing at the cap: a thousand doublings would overflow.
	for i := 1; i < n && d < limit; i++ {
		d *= p.Multiplier
	}
	d = min(d, limit)
	d *= 1 + p.Jitter*(2*u-1)
	return time.Duration(d)
}

// policy compiles a consumer's `on_error`. Without it an item is tried
// once and a failure stops the run; `retry` brings its attempts and waits
// (the loader fills in their defaults).
func policy(oe config.OnError) ErrorPolicy {
	p := ErrorPolicy{Attempts: 1, Then: oe.Then}
	if r := oe.Retry; r != nil {
		p.Attempts, p.Backoff, p.MaxBackoff, p.Multiplier, p.Jitter = r.Attempts, r.Backoff, r.MaxBackoff, r.Multiplier, r.Jitter
	}
	if p.Then == "" {
		p.Then = config.Stop
	}
	if p.Then == config.DeadLetter {
		p.DeadLetter = oe.DeadLetter.Name
	}
	return p
}
