package pipeline

import (
	"io"
	"sync"
)

// lineWriter writes whole lines to one writer: each Print is a single
// Write under a lock, so lines from concurrent workers never interleave.
type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Print(line string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(append(l.buf[:0], line...), '\n')
	_, err := l.w.Write(l.buf)
	return err
}

// lockedWriter serializes writes to a writer shared by goroutines (the
// notices a run writes to stderr).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
