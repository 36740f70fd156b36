package timeline_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/sim"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe/timeline"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// The timeline of real and simulated runs. These tests import pipeline, so
// they are outside the package, which does not.

func compile(t *testing.T, name string, src []byte) *stages.Graph {
	t.Helper()
	pl, ds := config.Parse(name, src)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return g
}

// A real run: one producer fills a queue of capacity 1 that two slow
// consumers empty, so the producer is blocked and the consumers idle.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := compile(t, "timeline.yaml", []byte(`
version: 1
name: timeline
shutdown: {strategy: close}
queues:
  main: {capacity: 1}
producers:
  - name: p
    count: 8
    item: "${i}"
consumers:
  - name: c
    replicas: 2
    do:
      - sleep: 100ms
`))
		tl := timeline.New()
		res, err := pipeline.Run(t.Context(), g, pipeline.Options{Observers: []observe.Observer{tl}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tl.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		doc := timeline.CheckSVG(t, b.Bytes())
		for _, w := range []string{"p / p", "c / c-1", "c / c-2"} {
			if !doc.Workers[w] {
				t.Errorf("no row for %s; rows %v", w, doc.Workers)
			}
		}
		if len(doc.Workers) != 3 || doc.Rects["blocked"] == 0 || doc.Classes["depth-max"] != 1 || doc.Classes["capacity"] != 1 {
			t.Errorf("rows %v, %d blocked spans, %d depth paths, %d capacity lines; want 3 rows, blocked spans, a path and a line",
				doc.Workers, doc.Rects["blocked"], doc.Classes["depth-max"], doc.Classes["capacity"])
		}
		if !strings.Contains(b.String(), res.Total.Format(res.Shared)) {
			t.Error("the picture lacks the ledger line")
		}
	})
}

// The events of a simulation draw the same timeline as a real run's.
func TestSimulated(t *testing.T) {
	src, _ := os.ReadFile("../../examples/kitchen.yaml")
	g := compile(t, "test.yaml", src)
	tl := timeline.New()
	var out bytes.Buffer
	if _, err := sim.Simulate(t.Context(), g, pipeline.Options{Observers: []observe.Observer{tl}, Stdout: &out}, sim.Options{}); err != nil {
		t.Fatal(err)
	}
	var svg bytes.Buffer
	if err := tl.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "cook-1", "server", "orders", "dishes"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("the timeline does not show %q", want)
		}
	}
}
