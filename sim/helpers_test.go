package sim_test

import (
	"os"
	"testing"
	"time"

	"github.com/pcrun/pcrun/internal/testpipe"
	"github.com/pcrun/pcrun/observe"
)

// The helpers of internal/testpipe, under the names these tests use.
var (
	compile = testpipe.Compile
	eaten   = testpipe.Eaten
	items   = testpipe.Items
	totals  = testpipe.Totals
)

const twoProducers = testpipe.TwoProducers

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
	o := testpipe.Run(t, src, signals)
	return outcome{res: o.Res, err: o.Err, stdout: o.Stdout, stderr: o.Stderr, took: o.Took}
}
