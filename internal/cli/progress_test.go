package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/pcrun/pcrun/observe"
)

// TestProgressLinesWithoutBars: Stop without Start shuts the container
// down, a second Stop does nothing, and lines written before and after go
// straight out.
func TestProgressLinesWithoutBars(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out, &out)
	w := p.Stdout()
	fmt.Fprintln(w, "before")
	fmt.Fprintln(p.Stderr(), "notice")
	p.Stop()
	p.Stop()
	p.Start(nil) // after Stop: nothing starts, so the nil Live is never read
	fmt.Fprintln(w, "after")
	if got := out.String(); got != "before\nnotice\nafter\n" {
		t.Errorf("output %q, want the three lines", got)
	}
}

// TestProgressStdoutElsewhere: when stdout is not where the bars are, the
// run prints straight to it (a file stays an *os.File, which the run
// buffers).
func TestProgressStdoutElsewhere(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bars syncBuffer
	p := newProgress(&bars, f)
	defer p.Stop()
	if got := p.Stdout(); got != io.Writer(f) {
		t.Errorf("Stdout() = %T, want the file itself", got)
	}
	shared := newProgress(&bars, &bars)
	defer shared.Stop()
	if shared.Stdout() == io.Writer(&bars) {
		t.Errorf("Stdout() sharing stderr is stderr itself, want the way above the bars")
	}
}

func TestProgressEnabled(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("TERM", "xterm-256color")
	ptmx, tty, err := pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skipf("no pty here: %v", err)
	}
	if err != nil {
		t.Fatalf("open a pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	// A terminal that reports no size draws no bars (auto); one with a
	// size does.
	if progressEnabled("auto", tty, false) {
		t.Errorf("auto draws bars on a terminal 0 columns wide")
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var buf bytes.Buffer
	for _, c := range []struct {
		mode   string
		stderr io.Writer
		quiet  bool
		want   bool
	}{
		{"never", tty, false, false},
		{"never", &buf, false, false},
		{"always", &buf, false, true},
		{"always", file, false, true},
		{"always", tty, true, false}, // --quiet wins
		{"auto", tty, false, true},
		{"auto", tty, true, false},
		{"auto", &buf, false, false},
		{"auto", file, false, false},
		{"bogus", tty, false, false},
	} {
		if got := progressEnabled(c.mode, c.stderr, c.quiet); got != c.want {
			t.Errorf("progressEnabled(%q, %T, quiet %v) = %v, want %v", c.mode, c.stderr, c.quiet, got, c.want)
		}
	}
	t.Setenv("CI", "1")
	if progressEnabled("auto", tty, false) {
		t.Errorf("auto draws bars under CI=1")
	}
	if !progressEnabled("always", tty, false) {
		t.Errorf("always draws no bars under CI=1")
	}
	t.Setenv("CI", "")
	t.Setenv("TERM", "dumb")
	if progressEnabled("auto", tty, false) {
		t.Errorf("auto draws bars with TERM=dumb")
	}
}

func TestProgressText(t *testing.T) {
	st := observe.StageProgress{Name: "alpha", Kind: "producer", Total: 20}
	st.Produced = 5
	with := func(f func(*observe.StageProgress)) observe.StageProgress {
		s := st
		f(&s)
		return s
	}
	cook := observe.StageProgress{Name: "cook", Kind: "consumer", Total: -1, Taken: 7}
	cook.Produced = 3 // emitted downstream
	for _, c := range []struct {
		st   observe.StageProgress
		rate float64
		want rowText
	}{
		{st, 2.5, rowText{"5/20 made", "2.5/s", "ETA 6s"}},
		{st, 0, rowText{"5/20 made", "0.0/s", "ETA ?"}},
		{st, 1000, rowText{"5/20 made", "1000/s", "ETA <1s"}},
		{with(func(s *observe.StageProgress) { s.Failed = 2 }), 2.5, rowText{"5/20 made", "2.5/s", "ETA 6s, 2 failed"}},
		{with(func(s *observe.StageProgress) { s.Produced = 20 }), 3, rowText{"20/20 made", "3.0/s", "done"}},
		{with(func(s *observe.StageProgress) { s.Total = -1 }), 3, rowText{"5 made", "3.0/s", ""}},
		{with(func(s *observe.StageProgress) { s.Kind = "replay" }), 3, rowText{"5/20 replayed", "3.0/s", "ETA 5s"}},
		{observe.StageProgress{Name: "eater", Kind: "consumer", Total: -1, Taken: 7}, 12.4, rowText{"7 taken", "12/s", ""}},
		{cook, 0.25, rowText{"7 taken", "0.2/s", "3 emitted"}},
	} {
		if got := stageText(c.st, c.rate); got != c.want {
			t.Errorf("stageText(%+v, %v) = %q, want %q", c.st, c.rate, got, c.want)
		}
	}
	if got, want := queueText(observe.QueueStats{Capacity: 5, Depth: 3, MaxDepth: 5}), (rowText{"3/5 queued", "max 5", ""}); got != want {
		t.Errorf("queueText = %q, want %q", got, want)
	}
	if got, want := queueText(observe.QueueStats{Depth: 30, MaxDepth: 41}), (rowText{"30 queued", "max 41", ""}); got != want {
		t.Errorf("queueText unbounded = %q, want %q", got, want)
	}
}

// TestProgressRate: the rate is the mean over the first seconds, then
// follows the counts, falling when they stop.
func TestProgressRate(t *testing.T) {
	var r progressRow
	r.rated(10, time.Second)
	if r.rate != 10 {
		t.Errorf("rate after 10 in 1s = %v, want 10", r.rate)
	}
	at, n := time.Second, int64(10)
	for range 100 { // 10 more items a second for 10s
		at += 100 * time.Millisecond
		n++
		r.rated(n, at)
	}
	if r.rate < 9.9 || r.rate > 10.1 {
		t.Errorf("rate at a steady 10/s = %v", r.rate)
	}
	for range 50 { // stalled for 5s
		at += 100 * time.Millisecond
		r.rated(n, at)
	}
	if r.rate > 1 {
		t.Errorf("rate after a 5s stall = %v, want it near 0", r.rate)
	}
}
