package observe

import (
	"math"
	"math/bits"
	"time"
)

// QueueStats are a queue's counters.
type QueueStats struct {
	Name      string `json:"name"`
	Capacity  int    `json:"capacity"` // 0: unbounded
	Put       int64  `json:"put"`
	Taken     int64  `json:"taken"`
	MaxDepth  int    `json:"max_depth"`
	Depth     int    `json:"depth"`
	Markers   int64  `json:"markers,omitempty"`
	Abandoned int64  `json:"abandoned"` // left in the queue at the end
	// Redelivered counts deliveries of items taken from a NATS queue that
	// had been delivered before (at least once: a reader died or timed out).
	Redelivered int64 `json:"redelivered,omitempty"`
	// Wait is how long items waited in the queue from put to take,
	// sampled (timing.go); nil when none was measured (a NATS queue).
	Wait *WaitStats `json:"wait,omitempty"`
}

// Histogram counts durations in log-linear buckets: histSub buckets per
// power of two, so a quantile it reports is within 1/histSub (6%) of the
// true one. The mean and the maximum are exact.
type Histogram struct {
	counts [64 * histSub]int64
	n      int64
	sum    float64 // nanoseconds
	min    int64
	max    int64
}

const histSubBits = 4
const histSub = 1 << histSubBits

func (h *Histogram) Add(ns int64) {
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

// Quantile returns the q-quantile (0 < q <= 1), within the minimum and
// the maximum.
func (h *Histogram) Quantile(q float64) int64 {
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

func (h *Histogram) Stats() *WaitStats {
	if h.n == 0 {
		return nil
	}
	return &WaitStats{Samples: h.n, Mean: time.Duration(math.Round(h.sum / float64(h.n))),
		P50: time.Duration(h.Quantile(0.5)), P99: time.Duration(h.Quantile(0.99)), Max: time.Duration(h.max)}
}

// N is how many durations were added.
func (h *Histogram) N() int64 { return h.n }
