package observe

import (
	"io"
	"sync"

	"github.com/pcrun/pcrun/internal/lines"
)

// EventWriter writes events as JSON lines (see Event.AppendJSON) to a
// writer: whole lines, buffered like the run's stdout when it is a file
// (written as soon as the writer can take them, in large blocks when the
// run is busy). Close writes what is left; call it after Run returns.
type EventWriter struct {
	Base
	mu  sync.Mutex
	buf []byte
	out *lines.Writer
	err error // the first failed write
}

// NewEventWriter returns an Observer writing to w.
func NewEventWriter(w io.Writer) *EventWriter {
	return &EventWriter{out: lines.New(w)}
}

// Wants asks for the run's events.
func (ew *EventWriter) Wants() Want { return WantEvents }

// Observe writes one line. A failed write is kept; Close returns it.
func (ew *EventWriter) Observe(e Event) {
	ew.mu.Lock()
	ew.buf = e.AppendJSON(ew.buf[:0])
	if err := ew.out.PrintBytes(ew.buf); err != nil && ew.err == nil {
		ew.err = err
	}
	ew.mu.Unlock()
}

// Close writes the lines still buffered and returns the first failed
// write, if any.
func (ew *EventWriter) Close() error {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if err := ew.out.Close(); err != nil && ew.err == nil {
		ew.err = err
	}
	return ew.err
}
