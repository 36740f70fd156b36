package exitcode

import (
	"errors"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
)

// The exit codes of DESIGN.md.
const (
	// OK: the command did what it was asked; a run ended with every item
	// accounted for as done, filtered or handed off.
	OK = 0
	// Failed: the pipeline ran and failed (a stage error it was told to
	// stop on, items failed or abandoned), or a check found problems.
	Failed = 1
	// Usage: bad usage or an invalid pipeline file; nothing was run.
	Usage = 2
	// Deadlock: the run stopped because no stage could make progress.
	Deadlock = 3
	// Interrupted: a signal stopped the run.
	Interrupted = 130
)

// UsageError marks Err as bad usage: a flag, an argument or a file the
// command cannot work with, found before anything ran. Of maps it to
// Usage whatever Err is, so a command can say "nothing was run" about an
// error that, from a run, would be a failure.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage reports that e is bad usage (see usageError).
func (e *UsageError) Usage() bool { return true }

// usageError is an error that says whether it is bad usage: a UsageError,
// or an error type of a package the commands use, such as
// pipetest.PathError, that cannot name UsageError (it is internal) yet is
// bad usage too. The first such error in a chain decides.
type usageError interface {
	error
	Usage() bool
}

// Of returns the exit code for err, the outcome of a command or of a
// pipeline run: OK for nil; Usage for a UsageError (or any error whose
// Usage method says so) or a pipeline file's config.Diagnostics;
// Deadlock for a pipeline.DeadlockError; Interrupted for
// pipeline.ErrInterrupted; Failed for any other error. The kinds are
// tried in that order, so an explicit UsageError wins over what it wraps.
func Of(err error) int {
	var usage usageError
	var diags config.Diagnostics
	var deadlock *pipeline.DeadlockError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &usage) && usage.Usage(), errors.As(err, &diags):
		return Usage
	case errors.As(err, &deadlock):
		return Deadlock
	case errors.Is(err, pipeline.ErrInterrupted):
		return Interrupted
	}
	return Failed
}
