package sim_test

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// Helpers shared with pipeline's tests: a real run to compare a
// simulated one with.

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

type outcome struct {
	res    *observe.Result
	err    error
	stdout []string
	stderr string
	took   time.Duration
}

// run runs src to its end; call it inside a synctest bubble.
func run(t *testing.T, src string, signals <-chan os.Signal) outcome {
	t.Helper()
	g := compile(t, src)
	var out, errb bytes.Buffer
	start := time.Now()
	res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb, Signals: signals})
	o := outcome{res: res, err: err, stderr: errb.String(), took: time.Since(start)}
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		o.stdout = strings.Split(s, "\n")
	}
	if berr := res.Balanced(); berr != nil {
		t.Fatalf("ledger: %v", berr)
	}
	return o
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

const twoProducers = `
queues: {main: {capacity: %d}}
shutdown: {strategy: %s}
producers:
  - {name: kelly, count: 5, delay: 1s, item: "watermelon ${i}", print: "${name} Produced ${item}"}
  - {name: kelly2, count: 5, delay: 700ms, item: "Blueberry ${i}"}
consumers:
  - name: peter
    replicas: 3
    do:
      - sleep: 1500ms
      - print: "${worker} Ate ${item}"
`
