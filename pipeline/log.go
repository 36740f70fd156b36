package pipeline

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// LogHandler is the slog handler of pcrun's text log: one line per record,
// "pcrun: MESSAGE", with "error: " before errors and "debug: " before
// debug records. The message is a whole sentence that says what the
// record's attributes say, so the text shows no attributes; the JSON
// handler (slog.NewJSONHandler) shows them for machines. Lines are written
// whole, one Write each, safe for concurrent use.
type LogHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
}

// NewLogHandler returns a LogHandler writing records at level and above
// to w (nil level: info).
func NewLogHandler(w io.Writer, level slog.Leveler) *LogHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &LogHandler{mu: new(sync.Mutex), w: w, level: level}
}

func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("pcrun: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(r.Message)
	if !strings.HasSuffix(r.Message, "\n") {
		b.WriteByte('\n')
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *LogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *LogHandler) WithGroup(string) slog.Handler      { return h }
