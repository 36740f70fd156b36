//go:build unix

package effects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pcrun/pcrun/stages"
)

// How long a process group told to stop by SIGTERM (the run's hard
// context ended) has before SIGKILL, and how long the output of a
// finished process may take to drain once its group is dead (a process
// that left the group with setsid may hold the pipes open).
const (
	termWait  = time.Second
	drainWait = 2 * time.Second
)

// Exec runs the process of an exec or shell step and blocks until it has
// exited and its output is read; it carries out stages.Effects.Exec, whose
// doc says what the result and the error hold.
//
// The process runs in a process group of its own, so that what it starts
// can be killed with it. The group is killed with SIGKILL on the timeout
// and when stdout outgrows its limit; with SIGTERM, then SIGKILL after
// termWait, when ctx ends (the run's hard context: a second signal, the
// grace period over, a deadlock). A soft stop (first signal, deadline)
// does not touch it. When the process exits, whatever is left of its
// group is killed too, and the process is reaped: nothing outlives the
// call. Being in its own group, the process does not receive the
// terminal's Ctrl-C: pcrun decides.
func Exec(ctx context.Context, c *stages.Cmd) (stages.ExecResult, error) {
	var res stages.ExecResult
	if err := ctx.Err(); err != nil {
		return res, err
	}
	cmd := groupCommand(c.Argv)
	if cmd.Err != nil {
		return res, fmt.Errorf("cannot start: %w", unwrapExecError(cmd.Err))
	}
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...) // later entries win
	}
	cmd.Dir = c.Dir

	// Our own pipes, given to the child as files: os/exec then starts no
	// copying goroutines and Wait returns when the process exits, even if
	// something it started still holds the pipes.
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return res, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	var inW *os.File
	if c.Stdin != nil {
		inR, w, err := os.Pipe()
		if err != nil {
			closeAll(outR, outW, errR, errW)
			return res, err
		}
		cmd.Stdin, inW = inR, w
		defer inR.Close() // the child has its copy once started
	}
	start := time.Now()
	err = cmd.Start()
	closeAll(outW, errW) // the child has its copies
	if err != nil {
		closeAll(outR, errR, inW)
		return res, fmt.Errorf("cannot start: %w", unwrapExecError(err))
	}
	pgid := cmd.Process.Pid
	var why killReason
	var wg sync.WaitGroup
	stdout := &capture{limit: stages.ExecStdoutLimit, over: func() {
		if why.set(errStdout) {
			killGroup(pgid, syscall.SIGKILL)
		}
	}}
	stderr := &capture{keep: stages.ExecStderrKeep}
	wg.Go(func() { stdout.readFrom(outR) })
	wg.Go(func() { stderr.readFrom(errR) })
	if inW != nil {
		wg.Go(func() {
			_, _ = inW.Write(c.Stdin) // EPIPE when the process does not read it all: fine
			inW.Close()
		})
	}
	exited := make(chan struct{})
	wg.Go(func() { watch(ctx, pgid, c.Timeout, exited, &why) })

	werr := cmd.Wait() // the leader is reaped; its group may live on
	res.Duration = time.Since(start)
	close(exited)
	killGroup(pgid, syscall.SIGKILL) // what it started dies with it
	deadline := time.Now().Add(drainWait)
	_ = outR.SetReadDeadline(deadline)
	_ = errR.SetReadDeadline(deadline)
	if inW != nil {
		_ = inW.SetWriteDeadline(time.Now())
	}
	wg.Wait()
	closeAll(outR, errR)

	res.Stdout, res.Stderr = stages.ExecOutput(stdout.bytes()), stages.ExecOutput(stderr.bytes())
	if st := cmd.ProcessState; st != nil {
		ws, _ := st.Sys().(syscall.WaitStatus)
		res.Exit = st.ExitCode()
		if ws.Signaled() {
			res.Exit, res.Signal = 128+int(ws.Signal()), ws.Signal().String()
		}
	}
	var ee *exec.ExitError
	switch r := why.get(); {
	case r == errCancelled:
		return res, ctx.Err()
	case r == errTimeout:
		return res, stages.ErrTimedOut
	case r == errStdout:
		return res, stages.ErrStdoutLimit
	case werr != nil && !errors.As(werr, &ee):
		return res, werr
	}
	return res, nil
}

// groupCommand is the command of argv, run without a shell, in a process
// group of its own that killGroup kills with all it started: the process
// of an exec or shell step (Exec), and a command source's (command.go).
func groupCommand(argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// watch kills the process group when the timeout passes or ctx ends,
// until the process has exited.
func watch(ctx context.Context, pgid int, timeout time.Duration, exited <-chan struct{}, why *killReason) {
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-exited:
	case <-timer:
		if why.set(errTimeout) {
			killGroup(pgid, syscall.SIGKILL)
		}
	case <-ctx.Done():
		if !why.set(errCancelled) {
			return
		}
		killGroup(pgid, syscall.SIGTERM)
		t := time.NewTimer(termWait)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			killGroup(pgid, syscall.SIGKILL)
		}
	}
}

// killGroup signals every process of the group; a group that is gone
// already is no error.
func killGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// killReason is why pcrun killed a process: the first reason set wins.
type killReason struct{ v atomic.Int32 }

const (
	errNone int32 = iota
	errTimeout
	errCancelled
	errStdout
)

func (k *killReason) set(r int32) bool { return k.v.CompareAndSwap(errNone, r) }
func (k *killReason) get() int32       { return k.v.Load() }

// capture keeps what a process writes to one stream: at most limit bytes
// (then over is called once, and the rest is read and dropped), or, with
// keep, the last keep bytes.
type capture struct {
	limit int
	keep  int
	over  func()
	buf   []byte
	full  bool
}

func (c *capture) readFrom(r io.Reader) {
	b := make([]byte, 32<<10)
	for {
		n, err := r.Read(b)
		c.add(b[:n])
		if err != nil {
			return
		}
	}
}

func (c *capture) add(p []byte) {
	switch {
	case c.full:
	case c.limit > 0 && len(c.buf)+len(p) > c.limit:
		c.full = true
		c.over()
	case c.keep > 0:
		c.buf = append(c.buf, p...)
		if len(c.buf) > 2*c.keep {
			c.buf = append(c.buf[:0], c.buf[len(c.buf)-c.keep:]...)
		}
	default:
		c.buf = append(c.buf, p...)
	}
}

// bytes is what was kept; call it once reading has ended.
func (c *capture) bytes() []byte {
	if c.keep > 0 && len(c.buf) > c.keep {
		return c.buf[len(c.buf)-c.keep:]
	}
	return c.buf
}

// unwrapExecError drops os/exec's `exec: "name":` prefix: the step's
// message names the program already.
func unwrapExecError(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}
