//go:build unix

package effects_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/internal/testpipe"
	"github.com/pcrun/pcrun/stages"
)

// These tests run real processes, in real time (no synctest bubble: a
// child's exit is no event a bubble sees). Bounds on time are generous,
// and only say that nothing hangs. pipeline's exec_test.go runs the same
// processes through whole runs (signals, on_error, the ledger).

// TestExecArgvIntact: each argv element reaches the child as exactly one
// argument: no splitting, no shell.
func TestExecArgvIntact(t *testing.T) {
	args := []string{`a b "c" $(rm -rf /) ;ls`, "it's `x` && y | z > /tmp/f", "new\nline", "*", "", "-n"}
	res, err := effects.Exec(t.Context(), &stages.Cmd{
		Argv: append([]string{os.Args[0]}, args...),
		Env:  []string{argvHelper + "=1"},
	})
	if err != nil || res.Exit != 0 {
		t.Fatalf("err %v, result %+v", err, res)
	}
	var got []string
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		t.Fatalf("%q: %v", res.Stdout, err)
	}
	if !reflect.DeepEqual(got, args) {
		t.Errorf("argv\n got %q\nwant %q", got, args)
	}
}

// TestExecStdinEnvDir: stdin, env and dir reach the process; stdout and
// stderr come back without their trailing newlines.
func TestExecStdinEnvDir(t *testing.T) {
	dir := t.TempDir()
	res, err := effects.Exec(t.Context(), &stages.Cmd{
		Argv:  []string{"sh", "-c", `tr a-z A-Z; echo "$FOO"; pwd; echo oops >&2`},
		Stdin: []byte("fruit\n"),
		Env:   []string{"FOO=foo bar"},
		Dir:   dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if want := "FRUIT\nfoo bar\n" + real; res.Stdout != want || res.Stderr != "oops" || res.Exit != 0 || res.Duration <= 0 {
		t.Errorf("result %+v, want stdout %q", res, want)
	}
}

// TestExecExitStatus: a non-zero exit is no error; a signal is 128+N.
func TestExecExitStatus(t *testing.T) {
	res, err := effects.Exec(t.Context(), &stages.Cmd{Argv: []string{"sh", "-c", "echo bad >&2; exit 3"}})
	if err != nil || res.Exit != 3 || res.Stderr != "bad" || res.Signal != "" {
		t.Errorf("err %v, result %+v", err, res)
	}
	res, err = effects.Exec(t.Context(), &stages.Cmd{Argv: []string{"sh", "-c", "kill -TERM $$"}})
	if err != nil || res.Exit != 128+int(syscall.SIGTERM) || res.Signal != syscall.SIGTERM.String() {
		t.Errorf("err %v, result %+v", err, res)
	}
}

// TestExecCannotStart: a missing program is an error, without os/exec's
// prefix.
func TestExecCannotStart(t *testing.T) {
	_, err := effects.Exec(t.Context(), &stages.Cmd{Argv: []string{"no-such-program-pcrun"}})
	if err == nil || err.Error() != "cannot start: executable file not found in $PATH" {
		t.Errorf("err %v", err)
	}
	_, err = effects.Exec(t.Context(), &stages.Cmd{Argv: []string{"true"}, Dir: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot start: ") {
		t.Errorf("err %v", err)
	}
}

// TestExecStdoutLimit: a process that writes too much is killed.
func TestExecStdoutLimit(t *testing.T) {
	res, err := effects.Exec(t.Context(), &stages.Cmd{Argv: []string{"yes"}})
	if !errors.Is(err, stages.ErrStdoutLimit) || len(res.Stdout) > stages.ExecStdoutLimit {
		t.Errorf("err %v, %d bytes of stdout", err, len(res.Stdout))
	}
}

// hangScript writes its process group (the shell's pid: it leads the
// group) to $1/pid, starts a grandchild that hangs, and hangs.
const hangScript = `echo $$ > "$1/pid"; sleep 1000 & sleep 1000`

// TestExecTimeoutKillsGroup: a hanging process is killed at its timeout,
// and the grandchild it started too.
func TestExecTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	_, err := effects.Exec(t.Context(), &stages.Cmd{Argv: []string{"sh", "-c", hangScript, "sh", dir}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, stages.ErrTimedOut) {
		t.Errorf("err %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v: the timeout did not end the process", took)
	}
	groupGone(t, pgidIn(t, dir))
}

// TestExecCancelKillsGroup: when ctx ends, the group is killed and the
// error is ctx's.
func TestExecCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, "pid")); err == nil {
				break
			}
		}
		cancel()
	}()
	_, err := effects.Exec(ctx, &stages.Cmd{Argv: []string{"sh", "-c", hangScript, "sh", dir}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
	groupGone(t, pgidIn(t, dir))
	if _, err := effects.Exec(ctx, &stages.Cmd{Argv: []string{"true"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("a call with ctx ended: err %v", err)
	}
}

// pgidIn reads the process group id the child wrote to dir/pid.
func pgidIn(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// groupGone is internal/testpipe's.
var groupGone = testpipe.GroupGone
