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

	"github.com/pcrun/pcrun/internal/cli"
	"github.com/pcrun/pcrun/internal/exitcode"
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
	code := cli.Main([]string{"pcrun", "run", "--progress", "always", writeBarsYAML(t)}, nil, nil, &out, &out)
	if code != exitcode.OK {
		t.Fatalf("exit %d, want 0:\n%s", code, out.String())
	}
	checkAteWhole(t, plainLines(out.String()))
	if !redrawRE.MatchString(out.String()) || !strings.Contains(out.String(), "20/20 made") {
		t.Errorf("no bars redrawn, or no final frame:\n%s", out.String())
	}
}
