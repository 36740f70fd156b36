package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/pipeline"
)

// barsYAML runs for about half a second: two producers of 20 items, 20ms
// apart, into a queue of 5, eaten by two consumer workers that print each
// item. The bars are redrawn a few times while lines are printed.
const barsYAML = `version: 1
name: bars
queues:
  main: {capacity: 5}
shutdown: {strategy: join}
producers:
  - name: alpha
    count: 20
    delay: 20ms
    item: "a${i}"
  - name: beta
    count: 20
    delay: 20ms
    item: "b${i}"
consumers:
  - name: eater
    replicas: 2
    do:
      - sleep: 5ms
      - print: "${worker} ate ${item}"
`

var (
	ansiRE   = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	ateLine  = regexp.MustCompile(`^eater-[12] ate ([ab]\d+)$`)
	redrawRE = regexp.MustCompile(`\x1b\[\d+A\x1b\[J`) // mpb: cursor up N lines, clear below
)

// writeBarsYAML writes barsYAML into a fresh directory.
func writeBarsYAML(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "bars.yaml")
	if err := os.WriteFile(file, []byte(barsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// plainLines drops escape sequences and carriage returns from terminal
// output and splits it into lines.
func plainLines(out string) []string {
	out = strings.ReplaceAll(ansiRE.ReplaceAllString(out, ""), "\r", "")
	return strings.Split(out, "\n")
}

// checkAteWhole fails t unless every item of barsYAML was printed exactly
// once, on a whole line of its own, and no line mentions eating without
// being one.
func checkAteWhole(t *testing.T, lines []string) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		if m := ateLine.FindStringSubmatch(l); m != nil {
			seen[m[1]]++
		} else if strings.Contains(l, " ate ") {
			t.Errorf("garbled print line %q", l)
		}
	}
	for _, p := range []string{"a", "b"} {
		for i := range 20 {
			if item := fmt.Sprintf("%s%d", p, i); seen[item] != 1 {
				t.Errorf("item %s printed on %d whole lines, want 1", item, seen[item])
			}
		}
	}
	if len(seen) != 40 {
		t.Errorf("%d distinct items printed, want 40", len(seen))
	}
}

// runInPty runs the built pcrun with args on a 100x30 terminal (stdin,
// stdout and stderr all on it), outside CI, and returns its exit code and
// everything it wrote.
func runInPty(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(pcrunBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, "NO_COLOR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skipf("no pty here: %v", err)
	}
	if err != nil {
		t.Fatalf("start %s on a pty: %v", cmd, err)
	}
	defer f.Close()
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer kill.Stop()
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, f)
		copied <- err
	}()
	werr := cmd.Wait()
	// The terminal ends once the child's last descriptor of it closes:
	// Linux reports that as EIO.
	if err := <-copied; err != nil && !errors.Is(err, syscall.EIO) {
		t.Errorf("reading the pty: %v", err)
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		t.Fatalf("wait %s: %v", cmd, werr)
	}
	t.Logf("pcrun %s on a pty: exit %d, output %q", strings.Join(args, " "), cmd.ProcessState.ExitCode(), out.String())
	return cmd.ProcessState.ExitCode(), out.String()
}

// TestProgressInTerminal: on a terminal, `--progress auto` draws the bars
// and redraws them in place, print lines come out whole above them, and
// the last frame shows every item made.
func TestProgressInTerminal(t *testing.T) {
	t.Parallel()
	code, out := runInPty(t, "run", "--progress", "auto", writeBarsYAML(t))
	if code != exitcode.OK {
		t.Fatalf("exit %d, want 0", code)
	}
	if !redrawRE.MatchString(out) {
		t.Errorf("no redraw in place (cursor up, clear below) in the output")
	}
	lines := plainLines(out)
	checkAteWhole(t, lines)
	l := parseLedger(t, strings.Join(lines, "\n"))
	if l.Produced != 40 || l.Done != 40 {
		t.Errorf("ledger %+v, want 40 produced and done", l)
	}
	// The last frame: after the last print line, before the summary.
	lastAte, lastFrame := -1, -1
	for i, line := range lines {
		switch {
		case ateLine.MatchString(line):
			lastAte = i
		case strings.HasPrefix(line, "alpha") && strings.Contains(line, "20/20 made"):
			lastFrame = i
		}
	}
	if lastFrame < lastAte {
		t.Errorf("the last frame (line %d) is not below the last print line (line %d)", lastFrame, lastAte)
	}
	frame := strings.Join(lines[max(lastFrame, 0):min(lastFrame+4, len(lines))], "\n")
	for _, want := range []string{"alpha", "beta", "20/20 made", "done", "main", "/5 queued", "max ", "eater", "40 taken", "/s", "["} {
		if !strings.Contains(frame, want) {
			t.Errorf("the last frame lacks %q:\n%s", want, frame)
		}
	}
}

// TestProgressNeverInTerminal: `--progress never` draws nothing, even on a
// terminal.
func TestProgressNeverInTerminal(t *testing.T) {
	t.Parallel()
	code, out := runInPty(t, "run", "--progress", "never", writeBarsYAML(t))
	if code != exitcode.OK {
		t.Fatalf("exit %d, want 0", code)
	}
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "made") || strings.Contains(out, "queued") {
		t.Errorf("bars drawn with --progress never")
	}
	checkAteWhole(t, plainLines(out))
}

// TestProgressAlwaysInProcess: `--progress always` draws on any stderr;
// print lines sharing it go above the bars, whole, and nothing is left
// running (goleak, in TestMain).
func TestProgressAlwaysInProcess(t *testing.T) {
	var out syncBuffer
	code := Main([]string{"pcrun", "run", "--progress", "always", writeBarsYAML(t)}, nil, &out, &out)
	if code != exitcode.OK {
		t.Fatalf("exit %d, want 0:\n%s", code, out.String())
	}
	checkAteWhole(t, plainLines(out.String()))
	if !redrawRE.MatchString(out.String()) || !strings.Contains(out.String(), "20/20 made") {
		t.Errorf("no bars redrawn, or no final frame:\n%s", out.String())
	}
}

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
	st := pipeline.StageProgress{Name: "alpha", Kind: "producer", Total: 20}
	st.Produced = 5
	with := func(f func(*pipeline.StageProgress)) pipeline.StageProgress {
		s := st
		f(&s)
		return s
	}
	cook := pipeline.StageProgress{Name: "cook", Kind: "consumer", Total: -1, Taken: 7}
	cook.Produced = 3 // emitted downstream
	for _, c := range []struct {
		st   pipeline.StageProgress
		rate float64
		want rowText
	}{
		{st, 2.5, rowText{"5/20 made", "2.5/s", "ETA 6s"}},
		{st, 0, rowText{"5/20 made", "0.0/s", "ETA ?"}},
		{st, 1000, rowText{"5/20 made", "1000/s", "ETA <1s"}},
		{with(func(s *pipeline.StageProgress) { s.Failed = 2 }), 2.5, rowText{"5/20 made", "2.5/s", "ETA 6s, 2 failed"}},
		{with(func(s *pipeline.StageProgress) { s.Produced = 20 }), 3, rowText{"20/20 made", "3.0/s", "done"}},
		{with(func(s *pipeline.StageProgress) { s.Total = -1 }), 3, rowText{"5 made", "3.0/s", ""}},
		{with(func(s *pipeline.StageProgress) { s.Kind = "replay" }), 3, rowText{"5/20 replayed", "3.0/s", "ETA 5s"}},
		{pipeline.StageProgress{Name: "eater", Kind: "consumer", Total: -1, Taken: 7}, 12.4, rowText{"7 taken", "12/s", ""}},
		{cook, 0.25, rowText{"7 taken", "0.2/s", "3 emitted"}},
	} {
		if got := stageText(c.st, c.rate); got != c.want {
			t.Errorf("stageText(%+v, %v) = %q, want %q", c.st, c.rate, got, c.want)
		}
	}
	if got, want := queueText(pipeline.QueueStats{Capacity: 5, Depth: 3, MaxDepth: 5}), (rowText{"3/5 queued", "max 5", ""}); got != want {
		t.Errorf("queueText = %q, want %q", got, want)
	}
	if got, want := queueText(pipeline.QueueStats{Depth: 30, MaxDepth: 41}), (rowText{"30 queued", "max 41", ""}); got != want {
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
