package memory

import (
	"testing"
)

func TestSampled(t *testing.T) {
	n := 0
	for id := uint64(0); id <= 100_000; id++ {
		if sampled(id) {
			n++
		}
	}
	want := waitSampleAll + (100_000-waitSampleAll)/waitSampleEvery
	if sampled(0) || n != want {
		t.Errorf("%d of ids 0..100000 sampled, want %d; sampled(0) = %v", n, want, sampled(0))
	}
}
