package pipetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/pcrun/pcrun/config"
)

// Options control a test run.
type Options struct {
	// Run, when not nil, selects the cases to run by name; the others are
	// counted as skipped (`pcrun test --run REGEXP`).
	Run *regexp.Regexp
	// Out receives the report while the cases run: a line per case, what
	// went wrong under each failure, and the totals. Nil discards it.
	Out io.Writer
	// Environ is what the pipelines' expressions see as `env`; nil: the
	// process environment.
	Environ []string
}

// Report counts the cases of a test run.
type Report struct {
	Passed, Failed int
	Skipped        int  // not selected by Options.Run
	NoTests        int  // pipeline files without any case
	Interrupted    bool // the context ended before every selected case ran
}

// ErrFailed is what Run returns when a case failed; the report says which
// and why.
var ErrFailed = errors.New("a test case failed")

// InvalidError is what Run returns when a pipeline or test file has errors,
// or a test file found in a directory has no pipeline: no case was run.
// Its Diagnostics are the errors of every file (warnings are for `pcrun
// validate`), sorted; Sources holds the files read, to quote the lines.
type InvalidError struct {
	Diagnostics config.Diagnostics
	Sources     config.Sources
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%d error(s) in pipeline or test files; no test was run", len(e.Diagnostics))
}

// Unwrap returns the diagnostics, an invalid file's error.
func (e *InvalidError) Unwrap() error { return e.Diagnostics }

// PathError is what Run returns when a path names no file: a glob that
// matches none, a directory without pipeline files, or one that cannot be
// walked. No case was run. It is bad usage: its Usage method says so to
// internal/exitcode, which maps it to the usage code as for an
// *InvalidError.
type PathError struct{ Err error }

func (e *PathError) Error() string { return e.Err.Error() }
func (e *PathError) Unwrap() error { return e.Err }

// Usage reports that the error is bad usage (exit 2 from `pcrun test`).
func (e *PathError) Usage() bool { return true }

// Run runs the test cases of the pipelines that paths name: pipeline
// files, their test files (which stand for their pipelines), directories
// (every pipeline below them) or globs, as Files expands them.
//
// It first loads and checks every file; if any has an error, it returns
// an *InvalidError and runs nothing. A path that names no file (a glob
// that matches none, a directory without pipelines) is a *PathError,
// and nothing is run either. Then it runs the selected cases one after
// the other, each blocking until its run has ended, and writes the
// report to opts.Out as it goes.
//
// When ctx ends, the case running is cut short and no other starts; Run
// then returns an error wrapping context.Cause(ctx) (pcrun cancels with
// pipeline.ErrInterrupted on a signal). Otherwise the error is ErrFailed
// if a case failed, and nil if every selected case passed. The Report
// counts the cases either way.
func Run(ctx context.Context, paths []string, opts Options) (Report, error) {
	suites, err := load(paths)
	if err != nil {
		return Report{}, err
	}
	r := &runner{w: opts.Out, filter: opts.Run, environ: opts.Environ}
	if r.w == nil {
		r.w = io.Discard
	}
	r.run(ctx, suites)
	switch {
	case r.Interrupted:
		return r.Report, fmt.Errorf("test run interrupted: %w", context.Cause(ctx))
	case r.Failed > 0:
		return r.Report, ErrFailed
	}
	return r.Report, nil
}

// load finds the pipelines that paths name and loads each with its cases.
// It reports every problem of every file at once, in an *InvalidError.
func load(paths []string) ([]suite, error) {
	files, orphans, err := testPaths(paths)
	if err != nil {
		return nil, &PathError{Err: err}
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
		pl, ds := Load(f, src)
		for _, d := range ds {
			if d.Severity == config.Error {
				errs = append(errs, d)
			}
		}
		suites = append(suites, suite{file: f, pl: pl})
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, &InvalidError{Diagnostics: errs, Sources: src}
	}
	return suites, nil
}
