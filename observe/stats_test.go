package observe

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The histogram's quantiles are within one bucket (1/histSub of the
// value) of the exact ones, and clamped to the values seen.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dist := range []string{"uniform", "exponential", "constant", "spread"} {
		var h Histogram
		var xs []int64
		for i := range 20000 {
			var x int64
			switch dist {
			case "uniform":
				x = rng.Int64N(10_000_000)
			case "exponential":
				x = int64(rng.ExpFloat64() * 1e6)
			case "constant":
				x = 123456
			case "spread": // nanoseconds to minutes
				x = int64(1) << (i % 40)
			}
			xs = append(xs, x)
			h.Add(x)
		}
		slices.Sort(xs)
		for _, q := range []float64{0.5, 0.9, 0.99, 1} {
			exact := xs[max(int(float64(len(xs))*q+0.999999)-1, 0)]
			got := h.Quantile(q)
			if d := got - exact; d < 0 && -d > exact/histSub+1 || d > 0 && d > exact/histSub+1 {
				t.Errorf("%s: quantile(%v) = %d, exact %d: more than 1/%d off", dist, q, got, exact, histSub)
			}
		}
		var sum float64
		for _, x := range xs {
			sum += float64(x)
		}
		st := h.Stats()
		if st.Samples != int64(len(xs)) || st.Max != time.Duration(xs[len(xs)-1]) || st.Mean != time.Duration(math.Round(sum/float64(len(xs)))) {
			t.Errorf("%s: stats %+v; want %d samples, max %d, mean %v", dist, st, len(xs), xs[len(xs)-1], sum/float64(len(xs)))
		}
	}
}

// Every value falls in a bucket whose middle is within 1/histSub of it,
// and buckets are ordered as their values.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, x := range []int64{0, 1, 15, 16, 17, 31, 32, 33, 1000, 1 << 20, 1<<20 + 1, 1<<40 - 1, 1 << 62, 1<<63 - 1} {
		b := bucketOf(x)
		if b < prev || b >= len(Histogram{}.counts) {
			t.Errorf("bucketOf(%d) = %d after %d (of %d)", x, b, prev, len(Histogram{}.counts))
		}
		prev = b
		if m := bucketMid(b); m-x > x/histSub+1 || x-m > x/histSub+1 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d: more than 1/%d off", x, m, histSub)
		}
	}
	var h Histogram
	if h.Stats() != nil || h.Quantile(0.5) != 0 {
		t.Error("an empty histogram has stats")
	}
	h.Add(-5) // a clock step back counts as 0
	if h.max != 0 || h.min != 0 {
		t.Errorf("negative sample: min %d max %d", h.min, h.max)
	}
}
