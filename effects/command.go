package effects

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// `command: [PROGRAM, ARGS...]`: a record per line of the program's
// stdout, the program run without a shell.
func init() { RegisterOpener(config.CommandSource, openCommand) }

// killWait is how long a stopped command's process group has between
// SIGTERM and SIGKILL.
const killWait = 2 * time.Second

// stderrTail is how much of a command's stderr a failure quotes.
const stderrTail = 4 << 10

// commandReader reads the lines of a command's stdout; the command runs
// in a process group of its own (exec.go), its stdin /dev/null, the end
// of its stderr kept for messages.
type commandReader struct {
	lines  *lineReader
	cmd    *exec.Cmd
	stderr *tailWriter

	mu       sync.Mutex
	stopCh   chan struct{} // closed by the first Stop
	killed   bool          // Stop was called: the command's exit status is ours
	finished bool          // Finish is done: Stop does nothing
}

// openCommand starts the command.
func openCommand(s *stages.Source, _ SourceEnv) (Reader, error) {
	argv := s.Argv
	cmd := groupCommand(argv)
	stderr := &tailWriter{max: stderrTail}
	cmd.Stderr = stderr
	// A grandchild that outlives the command may hold its stderr open:
	// do not wait for it forever once the command has exited.
	cmd.WaitDelay = killWait
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("cannot run %s: %v", ee.Name, ee.Err)
		}
		return nil, fmt.Errorf("cannot run %s: %v", argv[0], err)
	}
	return &commandReader{
		lines: newLineReader(out, commandWhere(argv)),
		cmd:   cmd, stderr: stderr, stopCh: make(chan struct{}),
	}, nil
}

// commandWhere names a command in messages, its arguments quoted where a
// shell would need it.
func commandWhere(argv []string) string {
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$;&|<>*?()") {
			args[i] = strconv.Quote(a)
		}
	}
	return "command " + strings.Join(args, " ")
}

// Next returns the next line of the command's stdout as a string. It
// blocks until the command writes a line, exits, or is stopped.
func (c *commandReader) Next() (any, error) { return c.lines.Next() }

// Where names the command: "command grep -v DEBUG".
func (c *commandReader) Where() string { return c.lines.where }

// Stop sends SIGTERM to the command's process group (Finish sends
// SIGKILL if it lingers); its stdout then ends, and so does a blocked
// Next.
func (c *commandReader) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed || c.finished {
		return
	}
	c.killed = true
	close(c.stopCh)
	killGroup(c.cmd.Process.Pid, syscall.SIGTERM)
}

// Finish waits for the command to exit (killing its group with SIGKILL
// when it outlives a stop by killWait), kills what is left of its process
// group, and returns an error when the command failed on its own: a
// non-zero exit pcrun did not cause.
func (c *commandReader) Finish(ended bool) error {
	if !ended {
		c.Stop()
	}
	err := c.wait()
	c.mu.Lock()
	c.finished = true
	killed := c.killed
	// Whatever the command left running in its group goes with it.
	killGroup(c.cmd.Process.Pid, syscall.SIGKILL)
	c.mu.Unlock()
	if err == nil || killed {
		return nil
	}
	msg := err.Error()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg = ee.ProcessState.String() // "exit status 3", "signal: killed"
	}
	if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
		msg += "; stderr: " + tail
	}
	return fmt.Errorf("%s: %s", c.Where(), msg)
}

// wait waits for the command to exit; once it is stopped, for killWait
// at most, then its group is killed.
func (c *commandReader) wait() error {
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }() // owned: always received below
	select {
	case err := <-done:
		return err
	case <-c.stopCh:
	}
	select {
	case err := <-done:
		return err
	case <-time.After(killWait):
		killGroup(c.cmd.Process.Pid, syscall.SIGKILL)
		return <-done
	}
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
