// Package testpipe holds what the tests of several packages need to run a
// pipeline file: compile it, run it, and read what it printed. Tests only.
package testpipe

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

// Compile parses and compiles a pipeline, failing the test on any error.
func Compile(t testing.TB, src string) *stages.Graph {
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

// Outcome is how a run ended, and what it printed.
type Outcome struct {
	Res    *observe.Result
	Err    error
	Stdout []string
	Stderr string
	Took   time.Duration
}

// Run runs src to its end (inside a synctest bubble, its time is fake),
// failing the test if its ledger does not balance.
func Run(t *testing.T, src string, signals <-chan os.Signal) Outcome {
	t.Helper()
	g := Compile(t, src)
	var out, errb bytes.Buffer
	start := time.Now()
	res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdout: &out, Stderr: &errb, Signals: signals})
	o := Outcome{Res: res, Err: err, Stderr: errb.String(), Took: time.Since(start)}
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		o.Stdout = strings.Split(s, "\n")
	}
	if berr := res.Balanced(); berr != nil {
		t.Fatalf("ledger: %v", berr)
	}
	return o
}

// Eaten returns the items named in lines "<worker> Ate <item>", sorted.
func Eaten(lines []string) []string {
	var out []string
	for _, l := range lines {
		if _, item, ok := strings.Cut(l, " Ate "); ok {
			out = append(out, item)
		}
	}
	sort.Strings(out)
	return out
}

// Items is "prefix 0" ... "prefix n-1".
func Items(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// Totals is a run's ledger in one line, filtered items counted as done.
func Totals(r *observe.Result) string {
	l := r.Total
	return fmt.Sprintf("produced=%d done=%d failed=%d abandoned=%d", l.Produced, l.Done+l.Filtered, l.Failed, l.Abandoned)
}

// TwoProducers is the seed's pipeline: two producers, three consumers;
// format it with the queue's capacity and the strategy.
const TwoProducers = `
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
