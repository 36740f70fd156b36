package pipeline_test

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// TestRandomDelay: a producer waits exponential(10ms) before each item,
// drawn from its own seeded generator, so the run takes exactly the sum
// of the draws that generator gives (the consumer takes no time).
func TestRandomDelay(t *testing.T) {
	const src = `
producers: [{name: p, count: 200, delay: "${exponential(10ms)}", item: "${i}"}]
consumers: [{name: c, do: [print: "${item}"]}]
`
	const seed = 99
	r := stages.NewRand(seed, "p", 1)
	var want time.Duration
	for range 200 {
		want += stages.Exponential(r, 10*time.Millisecond)
	}
	if want < time.Second || want > 3*time.Second {
		t.Fatalf("the draws sum to %v; want about 2s", want)
	}
	for range 2 {
		synctest.Test(t, func(t *testing.T) {
			pl, ds := config.Parse("test.yaml", []byte(src))
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			g, ds := stages.Compile(pl, stages.Options{Environ: []string{}, Seed: seed})
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			var out, errb bytes.Buffer
			start := time.Now()
			res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb})
			if err != nil || res.Total.Done != 200 {
				t.Fatalf("err %v, ledger %s\n%s", err, res.Total, errb.String())
			}
			if took := time.Since(start); took != want {
				t.Errorf("the run took %v, want %v", took, want)
			}
		})
	}
}
