package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
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
		Action: func(c *cli.Context) error { return testAction(c, e) }, OnUsageError: usageError,
	}
}

// suite is a pipeline and its test cases.
type suite struct {
	file string
	pl   *config.Pipeline
}

// testAction loads every pipeline with its tests, reports invalid files
// (exit 2, nothing run), then runs the cases one after the other.
func testAction(c *cli.Context, e *env) error {
	if c.NArg() == 0 {
		return cli.Exit("pcrun: error: no pipeline files given\nhint: pcrun test examples/", exitcode.Usage)
	}
	var filter *regexp.Regexp
	if s := c.String("run"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return cli.Exit(fmt.Sprintf("pcrun: error: --run %q: %v", s, err), exitcode.Usage)
		}
		filter = re
	}
	files, orphans, err := testPaths(c.Args().Slice())
	if err != nil {
		return cli.Exit("pcrun: error: "+err.Error(), exitcode.Usage)
	}
	src := config.Sources{}
	var errs config.Diagnostics
	for _, f := range orphans {
		pf, _ := config.PipelineOf(f)
		errs.Errorf(config.Pos{File: f}, config.CodeRead, "name it after its pipeline: NAME.test.yaml beside NAME.yaml",
			"test file without a pipeline: %s does not exist", pf)
	}
	var suites []suite
	for _, f := range files {
		pl, ds := load(f, src)
		if pl != nil {
			ds = append(ds, loadTests(f, pl, src)...)
			ds = append(ds, stages.Check(pl, stages.Options{})...)
		}
		for _, d := range ds {
			if d.Severity == config.Error {
				errs = append(errs, d)
			}
		}
		suites = append(suites, suite{file: f, pl: pl})
	}
	stderr := c.App.ErrWriter
	if len(errs) > 0 {
		errs.Sort()
		writeDiags(stderr, errs, src)
		return cli.Exit(fmt.Sprintf("pcrun: %d error(s) in pipeline or test files; no test was run", len(errs)), exitcode.Usage)
	}

	ctx, stop := interruptible(e.signals)
	defer stop()
	t := &testRun{w: c.App.Writer, filter: filter}
	t.run(ctx, suites)
	switch {
	case t.interrupted:
		fmt.Fprintln(stderr, "pcrun: interrupted")
		e.setCode(exitcode.Interrupted)
	case t.failed > 0:
		e.setCode(exitcode.Failed)
	}
	if filter != nil && t.passed+t.failed == 0 && !t.interrupted {
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

// testRun runs suites and writes one line per case, explanations under
// failures, and the totals.
type testRun struct {
	w                       io.Writer
	filter                  *regexp.Regexp
	environ                 []string // nil: the process environment
	passed, failed, skipped int
	noTests                 int
	interrupted             bool
}

func (t *testRun) run(ctx context.Context, suites []suite) {
	defer t.summary()
	for _, s := range suites {
		if len(s.pl.Tests) == 0 {
			t.noTests++
			fmt.Fprintf(t.w, "?    %s: no tests\n", s.file)
			continue
		}
		for i := range s.pl.Tests {
			tc := &s.pl.Tests[i]
			if t.filter != nil && !t.filter.MatchString(tc.Name) {
				t.skipped++
				continue
			}
			if ctx.Err() != nil {
				t.interrupted = true
				return
			}
			r := runCase(ctx, s.pl, tc, t.environ)
			if r.interrupted {
				t.interrupted = true
				fmt.Fprintf(t.w, "INTR %s: %s\n", tc.Pos.File, tc.Name)
				return
			}
			t.report(r)
		}
	}
}

// report writes one case's line and, if it failed, why.
func (t *testRun) report(r *caseResult) {
	tc := r.test
	if r.passed() {
		t.passed++
		fmt.Fprintf(t.w, "ok   %s: %s (%s)\n", tc.Pos.File, tc.Name, elapsed(r.elapsed))
		return
	}
	t.failed++
	fmt.Fprintf(t.w, "FAIL %s: %s\n", tc.Pos.File, tc.Name)
	for _, p := range r.problems {
		pos := p.pos
		if !pos.IsValid() {
			pos = tc.Pos
		}
		fmt.Fprintf(t.w, "    %s: %s\n", pos, p.summary)
		for _, d := range p.detail {
			fmt.Fprintf(t.w, "        %s\n", strings.TrimRight(d, " \t"))
		}
	}
}

func (t *testRun) summary() {
	if t.noTests > 0 {
		fmt.Fprintf(t.w, "%d file(s) without tests\n", t.noTests)
	}
	fmt.Fprintf(t.w, "%d passed, %d failed", t.passed, t.failed)
	if t.skipped > 0 {
		fmt.Fprintf(t.w, ", %d skipped", t.skipped)
	}
	fmt.Fprintln(t.w)
}

// elapsed formats how long a case took, to the millisecond.
func elapsed(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}

// loadTests adds the cases of the pipeline file's sibling test file
// (NAME.test.yaml), if there is one, to pl and returns its problems.
func loadTests(file string, pl *config.Pipeline, src config.Sources) config.Diagnostics {
	tf := config.TestFile(file)
	data, err := os.ReadFile(tf)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		var ds config.Diagnostics
		ds.Errorf(config.Pos{File: tf}, config.CodeRead, "check the file's permissions", "cannot read test file: %v", err)
		return ds
	}
	src[tf] = data
	return config.ParseTests(tf, data, pl)
}

// pipelinesOf replaces every test file in files by its pipeline file, and
// drops repeats: a test file stands for its pipeline and all its cases.
func pipelinesOf(files []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		if pf, ok := config.PipelineOf(f); ok {
			f = pf
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// testPaths expands `pcrun test` arguments as `pcrun validate` does, with
// test files standing for their pipelines. orphans are the test files
// found in the directories given whose pipeline does not exist.
func testPaths(args []string) (files, orphans []string, err error) {
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			err := filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && path != a && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				if pf, ok := config.PipelineOf(path); ok && !d.IsDir() {
					if _, err := os.Stat(pf); errors.Is(err, fs.ErrNotExist) {
						orphans = append(orphans, path)
					}
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	files, err = expandPaths(args)
	if err != nil && len(orphans) == 0 { // else the orphans say what is wrong
		return nil, nil, err
	}
	return pipelinesOf(files), orphans, nil
}
