// Package lines writes whole lines to a writer shared by goroutines: a
// run's `print` lines, its events, its notices.
package lines

import (
	"io"
	"os"
	"sync"
)

// Writer writes the `print` lines of a run to its stdout: whole lines,
// never two interleaved, in the order the workers print them (so each
// worker's lines keep their order).
//
// To a file (an *os.File: a terminal, a pipe, a redirected file) lines are
// buffered. Print appends the line to a buffer, and a flusher goroutine
// writes whatever has gathered as soon as it can: while one write is under
// way the next lines gather, so a busy run writes large blocks and a quiet
// one writes each line at once, with no timer. A printer that finds
// maxBuffered bytes waiting writes them itself, so a slow reader slows the
// printers down instead of the buffer growing. Every write holds whole
// lines. Close, called when the run's workers have all exited (however the
// run ends: done, deadline, signal, deadlock), writes what is left. A
// failed write is kept and returned by every later Print, failing those
// items; the lines of the failed write fail no item.
//
// To any other writer (a test's buffer) each Print is one Write, made by
// the printing worker, so an error or a panic in Write belongs to its item.
type Writer struct {
	w        io.Writer
	buffered bool

	mu      sync.Mutex // guards the fields below
	buf     []byte     // lines waiting (buffered), or the line being written
	spare   []byte     // the buffer of the last write, for reuse
	err     error      // the first failed write (buffered)
	started bool       // the flusher runs
	closed  bool
	kick    chan struct{} // capacity 1: lines are waiting in an empty buffer
	wg      sync.WaitGroup

	wmu sync.Mutex // held while writing: blocks leave in the order they were taken
}

const (
	// maxBuffered is how many bytes of lines may wait before the printer
	// writes them itself.
	maxBuffered = 64 << 10
	// maxKeep is the largest buffer kept for reuse after a write.
	maxKeep = 256 << 10
)

// New returns a Writer to w, buffered when w is an *os.File.
func New(w io.Writer) *Writer {
	_, file := w.(*os.File)
	return &Writer{w: w, buffered: file, kick: make(chan struct{}, 1)}
}

// Print writes one line (a newline is added). Buffered, it blocks only
// when maxBuffered bytes wait: then it writes them.
func (l *Writer) Print(line string) error { return printLine(l, line) }

// PrintBytes is Print for a line in a scratch buffer: the line is copied
// before it returns.
func (l *Writer) PrintBytes(line []byte) error { return printLine(l, line) }

// Buffered reports whether lines are gathered and written by a flusher.
func (l *Writer) Buffered() bool { return l.buffered }

// printLine is Print for a line as a string or as bytes (a worker's
// scratch buffer, copied before it returns).
func printLine[T string | []byte](l *Writer, line T) error {
	l.mu.Lock()
	if !l.buffered || l.closed {
		defer l.mu.Unlock()
		l.buf = append(append(l.buf[:0], line...), '\n')
		_, err := l.w.Write(l.buf)
		return err
	}
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return err
	}
	first := len(l.buf) == 0
	l.buf = append(append(l.buf, line...), '\n')
	full := len(l.buf) >= maxBuffered
	if !l.started {
		l.started = true
		l.wg.Go(l.flusher)
	}
	l.mu.Unlock()
	if full {
		return l.flush()
	}
	if first {
		select {
		case l.kick <- struct{}{}:
		default: // a flush is due already; it will take this line too
		}
	}
	return nil
}

// flusher writes the waiting lines each time Print says the buffer is no
// longer empty, until close.
func (l *Writer) flusher() {
	for range l.kick {
		_ = l.flush() // kept in l.err
	}
}

// flush writes the lines waiting, if any.
func (l *Writer) flush() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	b, err := l.buf, l.err
	if len(b) > 0 && err == nil {
		l.buf, l.spare = l.spare[:0], nil
	}
	l.mu.Unlock()
	if len(b) == 0 || err != nil {
		return err
	}
	_, err = l.w.Write(b)
	l.mu.Lock()
	if err != nil && l.err == nil {
		l.err = err
	}
	if cap(b) <= maxKeep {
		l.spare = b[:0]
	}
	l.mu.Unlock()
	return err
}

// Close stops the flusher and writes the lines still waiting. Call it once
// every worker has exited; it returns the first failed write, if any.
func (l *Writer) Close() error {
	if !l.buffered {
		return nil
	}
	l.mu.Lock()
	started := l.started
	l.closed = true
	l.mu.Unlock()
	if started {
		close(l.kick)
		l.wg.Wait()
	}
	return l.flush()
}

// Locked serializes writes to a writer shared by goroutines (the
// notices a run writes to stderr).
type Locked struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLocked returns w with its writes serialized.
func NewLocked(w io.Writer) *Locked { return &Locked{w: w} }

func (l *Locked) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
