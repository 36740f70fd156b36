package pipeline

import (
	"math"
	"math/bits"
	"time"
)

// How the summary's times are measured, without a clock read per item on
// the hot path (a clock read costs about as much as moving an item):
//
//   - Busy, idle and blocked: a worker reads the clock only when a queue
//     operation has to wait (world.wait), which costs a sleep and a wake-up
//     anyway. Its idle time is its waits for items (and joins), its
//     blocked time its waits to put into a full queue, and its busy time
//     the rest of its life.
//   - The wait of an item from put to take is sampled: every item among
//     the first waitSampleAll of the run, then one in waitSampleEvery, is
//     stamped when it is put and measured when it is taken. A batch of
//     items put together shares one clock read.

const (
	waitSampleAll   = 1024
	waitSampleEvery = 64
)

// sampled reports whether an item's wait in a queue is measured.
func sampled(id uint64) bool {
	return id != 0 && (id <= waitSampleAll || id%waitSampleEvery == 0)
}

// histogram counts durations in log-linear buckets: histSub buckets per
// power of two, so a quantile it reports is within 1/histSub (6%) of the
// true one. The mean and the maximum are exact.
type histogram struct {
	counts [64 * histSub]int64
	n      int64
	sum    float64 // nanoseconds
	min    int64
	max    int64
}

const histSubBits = 4
const histSub = 1 << histSubBits

func (h *histogram) add(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(ns)]++
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	h.n++
	h.sum += float64(ns)
	h.max = max(h.max, ns)
}

// bucketOf is the bucket of ns: values below histSub have one each;
// above, the power of two and the histSubBits bits below the top one.
func bucketOf(ns int64) int {
	u := uint64(ns)
	if u < histSub {
		return int(u)
	}
	top := bits.Len64(u) - 1 // >= histSubBits
	sub := (u >> (top - histSubBits)) & (histSub - 1)
	return (top-histSubBits+1)*histSub + int(sub)
}

// bucketMid is a value in the middle of bucket i.
func bucketMid(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	top := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	lo := (uint64(1) << top) | sub<<(top-histSubBits)
	width := uint64(1) << (top - histSubBits)
	return int64(lo + width/2)
}

// quantile returns the q-quantile (0 < q <= 1), within the minimum and
// the maximum.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank >= h.n {
		return h.max
	}
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(max(bucketMid(i), h.min), h.max)
		}
	}
	return h.max
}

// WaitStats summarise how long the items sampled in a queue waited there,
// from put to take.
type WaitStats struct {
	Samples int64         `json:"samples"`
	Mean    time.Duration `json:"mean_ns"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

func (h *histogram) stats() *WaitStats {
	if h.n == 0 {
		return nil
	}
	return &WaitStats{Samples: h.n, Mean: time.Duration(math.Round(h.sum / float64(h.n))),
		P50: time.Duration(h.quantile(0.5)), P99: time.Duration(h.quantile(0.99)), Max: time.Duration(h.max)}
}

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
