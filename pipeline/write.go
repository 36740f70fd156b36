package pipeline

import (
	// Named so: effects is the runtime's per-worker type (worker.go).
	ioeffects "github.com/pcrun/pcrun/effects"
)

// OutputError: a file a `write` step appends to cannot be opened; the run
// did not start (`pcrun run`, in internal/cli, exits 2).
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// openWrites opens, before any worker starts, every file the graph's
// write steps append to (effects/write.go); the run closes them once
// every worker has exited.
func openWrites(paths []string) (*ioeffects.Files, error) {
	files, err := ioeffects.OpenFiles(paths)
	if err != nil {
		return nil, &OutputError{err}
	}
	return files, nil
}
