package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/pipetest"
)

func testCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "test",
		Usage: "run the test cases of pipeline files and compare what they produce",
		Description: "PATH is a pipeline file, its test file NAME.test.yaml, a directory (every pipeline below it)\n" +
			"or a glob. A pipeline's cases are its `tests:` list and those of its sibling NAME.test.yaml;\n" +
			"each runs the pipeline without delays and checks its exit code, stdout, queues and ledger.\n" +
			"See docs/testing.md. Exit 0 every case passed, 1 a case failed, 2 usage error or invalid file,\n" +
			"130 interrupted.",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Usage: "run only the cases whose name matches `REGEXP`"},
		},
		Action: func(c *cli.Context) error { return testAction(c, e) }, OnUsageError: onUsageError,
	}
}

// testAction runs the test cases of the files given (pipetest.Run): exit
// 2 and nothing run when a file is invalid, 1 when a case failed, 130 on
// a signal.
func testAction(c *cli.Context, e *env) error {
	if c.NArg() == 0 {
		return usagef("pcrun: error: no pipeline files given\nhint: pcrun test examples/")
	}
	var filter *regexp.Regexp
	if s := c.String("run"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return usagef("pcrun: error: --run %q: %v", s, err)
		}
		filter = re
	}
	ctx, stop := interruptible(e.signals)
	defer stop()
	rep, err := pipetest.Run(ctx, c.Args().Slice(), pipetest.Options{Run: filter, Out: c.App.Writer})
	stderr := c.App.ErrWriter
	var invalid *pipetest.InvalidError
	var badPath *pipetest.PathError
	switch {
	case errors.As(err, &invalid): // exit 2: the diagnostics of the files
		writeDiags(stderr, invalid.Diagnostics, invalid.Sources)
		return failure("pcrun: "+invalid.Error(), err)
	case errors.As(err, &badPath): // a path that names no file
		return usagef("pcrun: error: %v", badPath.Err)
	case rep.Interrupted: // exit 130: the context's cause is pipeline.ErrInterrupted
		return failure("pcrun: interrupted", err)
	case err != nil: // a case failed; the report on stdout says which
		return reported(err)
	}
	if filter != nil && rep.Passed == 0 {
		fmt.Fprintf(stderr, "pcrun: warning: no test case matches --run %q\n", filter)
	}
	return nil
}

// interruptible returns a context cancelled by the first signal; stop
// releases its goroutine. A test case runs without signals of its own, so
// this is how Ctrl-C ends `pcrun test`: the running case is cancelled and
// no further case starts.
func interruptible(signals <-chan os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	if signals == nil {
		return ctx, func() { cancel(nil) }
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-signals:
			cancel(pipeline.ErrInterrupted)
		case <-done:
		}
	}()
	return ctx, func() { close(done); <-exited; cancel(nil) }
}
