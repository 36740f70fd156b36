package effects

import (
	"errors"
	"fmt"
	"os"

	"github.com/pcrun/pcrun/internal/lines"
)

// Files are the files a run's write steps append to, by path. Every
// worker writing to a path shares its file: its lines.Writer takes whole
// lines, never two interleaved, and buffers them (internal/lines); Close
// flushes, syncs and closes them once every worker has exited, however
// the run ends, so a signal never tears a line.
//
// The run opens them before any worker starts (OpenFiles) and closes
// them after the last one has exited (Close); Write may be called from
// any number of workers in between.
type Files struct {
	byPath map[string]*outFile
}

// outFile is one file of Files.
type outFile struct {
	path string
	f    *os.File
	w    *lines.Writer
}

// OpenFiles opens every file of paths for appending (created with mode
// 0644 when missing, appended to when not). On an error, those opened are
// closed again, and the error says which path and why.
func OpenFiles(paths []string) (*Files, error) {
	files := map[string]*outFile{}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			for _, o := range files {
				o.f.Close()
			}
			return nil, fmt.Errorf("cannot open %s for a write step: %w", p, errors.Unwrap(err))
		}
		files[p] = &outFile{path: p, f: f, w: lines.New(f)}
	}
	return &Files{byPath: files}, nil
}

// Write appends line and a newline to the file at path, one whole line
// among those of other workers. It blocks only when too much is buffered
// for the file: then it writes it (internal/lines). line is only valid
// during the call.
func (fs *Files) Write(path string, line []byte) error {
	o := fs.byPath[path]
	if o == nil {
		return fmt.Errorf("%s was not opened before the run (a bug in pcrun)", path)
	}
	return o.w.PrintBytes(line)
}

// Close writes what is buffered, syncs and closes every file. Call it
// once, when every worker has exited. It returns the first error.
func (fs *Files) Close() error {
	var first error
	for _, o := range fs.byPath {
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
