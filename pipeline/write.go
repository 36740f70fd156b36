package pipeline

import (
	"errors"
	"fmt"
	"os"

	"github.com/pcrun/pcrun/internal/lines"
)

// OutputError: a file a `write` step appends to cannot be opened; the run
// did not start (`pcrun run`, in internal/cli, exits 2).
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// outFile is a file the run's write steps append to. Every worker writing
// to the path shares it: its lines.Writer takes whole lines, never two
// interleaved, and buffers them (see output.go); the file is flushed,
// synced and closed when every worker has exited, however the run ends,
// so a signal never tears a line.
type outFile struct {
	path string
	f    *os.File
	w    *lines.Writer
}

// openWrites opens, before any worker starts, every file the graph's
// write steps append to (created with mode 0644 when missing, appended to
// when not). On an error, those opened are closed again.
func openWrites(paths []string) (map[string]*outFile, error) {
	files := map[string]*outFile{}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			for _, o := range files {
				o.f.Close()
			}
			return nil, &OutputError{fmt.Errorf("cannot open %s for a write step: %w", p, errors.Unwrap(err))}
		}
		files[p] = &outFile{path: p, f: f, w: lines.New(f)}
	}
	return files, nil
}

// closeWrites writes what is buffered, syncs and closes every file. Call
// it once every worker has exited. It returns the first error.
func closeWrites(files map[string]*outFile) error {
	var first error
	for _, o := range files {
		err := o.w.Close()
		if info, serr := o.f.Stat(); err == nil && serr == nil && info.Mode().IsRegular() {
			err = o.f.Sync() // a device or a pipe (/dev/null, a FIFO) has nothing to sync
		}
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		if err != nil && first == nil {
			first = fmt.Errorf("writing %s: %w", o.path, err)
		}
	}
	return first
}

// Write appends one line to a file of the run's write steps.
func (fx *effects) Write(path string, line []byte) error {
	o := fx.r.files[path]
	if o == nil {
		return fmt.Errorf("%s was not opened before the run (a bug in pcrun)", path)
	}
	return o.w.PrintBytes(line)
}
