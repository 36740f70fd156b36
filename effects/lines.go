package effects

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// `lines: FILE` (or `lines: -`, stdin): a record per line, a string
// without its line ending.
func init() { RegisterOpener(config.LinesSource, openLines) }

func openLines(s *stages.Source, env SourceEnv) (Reader, error) {
	return openInput(s, env)
}

// MaxRecord bounds one record of a source, a line with its line ending: a
// longer one fails the producer (docs/sources.md).
const MaxRecord = 16 << 20

// lineReader reads the lines of a file, of stdin or of a command's
// stdout. It is the Reader of `lines`, and what jsonl and command read
// through.
type lineReader struct {
	br    *bufio.Reader
	buf   []byte // a long line being assembled
	line  int    // lines read so far, for messages
	where string // what Where returns

	closer   func() error // releases the file or stdin; nil: nothing to release
	deadline func()       // makes a blocked read return; nil when reads do not block

	mu       sync.Mutex
	stopped  bool // Stop was called
	finished bool // Finish is done: Stop does nothing
}

func newLineReader(r io.Reader, where string) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), where: where}
}

// openInput opens the file a lines or jsonl source reads, or takes
// stdin (stdin.go).
func openInput(s *stages.Source, env SourceEnv) (*lineReader, error) {
	if s.Stdin() {
		return stdinLines(env.Stdin), nil
	}
	f, err := os.Open(s.Path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("cannot open %s: %w", s.Path, pe.Err)
		}
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory", s.Path)
	}
	r := newLineReader(f, s.Shown)
	r.closer = f.Close
	return r, nil
}

// Next returns the next line as a string.
func (r *lineReader) Next() (any, error) {
	b, err := r.readLine()
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// readLine reads one line without its line ending (\n or \r\n). A last
// line without a newline is a line; an empty input has none. The slice is
// valid until the next call.
func (r *lineReader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxRecord {
			r.line++
			return nil, &RecordError{fmt.Sprintf("%s: line %d is longer than %d MiB", r.where, r.line, MaxRecord>>20)}
		}
		switch {
		case err == nil:
			r.line++
			if len(r.buf) == 0 {
				return trimEOL(chunk[:len(chunk)-1]), nil // the common case: the line is in the reader's buffer
			}
			r.buf = append(r.buf, chunk...)
			return trimEOL(r.buf[:len(r.buf)-1]), nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.buf = append(r.buf, chunk...)
		case errors.Is(err, io.EOF):
			r.buf = append(r.buf, chunk...)
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			r.line++
			return trimEOL(r.buf), nil
		default:
			return nil, fmt.Errorf("%s: reading line %d: %w", r.where, r.line+1, err)
		}
	}
}

// trimEOL drops the \r of a \r\n line ending (the \n is gone already).
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// Where names the file as the pipeline file writes it, or "stdin".
func (r *lineReader) Where() string { return r.where }

// Stop makes a read that waits for stdin return. A file never blocks.
func (r *lineReader) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.finished {
		return
	}
	r.stopped = true
	if r.deadline != nil {
		r.deadline()
	}
}

// Finish closes the file, or gives stdin back as it was.
func (r *lineReader) Finish(ended bool) error {
	if !ended {
		r.Stop()
	}
	r.mu.Lock()
	r.finished = true
	r.mu.Unlock()
	if r.closer != nil {
		return r.closer()
	}
	return nil
}
