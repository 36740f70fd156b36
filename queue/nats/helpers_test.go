package nats_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/stages"
)

// Helpers shared by the tests of this package, as pipeline's tests have
// them.

// compile parses and compiles a pipeline, failing the test on any error.
func compile(t *testing.T, src string) *stages.Graph {
	t.Helper()
	pl, ds := config.Parse("test.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatalf("parse: %v", ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds)
	}
	return g
}

// eaten returns the items named in lines "<worker> Ate <item>", sorted.
func eaten(lines []string) []string {
	var out []string
	for _, l := range lines {
		if _, item, ok := strings.Cut(l, " Ate "); ok {
			out = append(out, item)
		}
	}
	sort.Strings(out)
	return out
}

func items(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

func totals(r *observe.Result) string {
	l := r.Total
	return fmt.Sprintf("produced=%d done=%d failed=%d abandoned=%d", l.Produced, l.Done+l.Filtered, l.Failed, l.Abandoned)
}
