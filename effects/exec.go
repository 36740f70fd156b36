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
	if err := ctx.Err(); err != nil {
		return stages.ExecResult{}, err
	}
	cmd := groupCommand(c.Argv)
	if cmd.Err != nil {
		return stages.ExecResult{}, fmt.Errorf("cannot start: %w", unwrapExecError(cmd.Err))
	}
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...) // later entries win
	}
	cmd.Dir = c.Dir
	p, err := openPipes(c.Stdin != nil)
	if err != nil {
		return stages.ExecResult{}, err
	}
	defer closeAll(p.inR) // the child has its copy once started
	p.attach(cmd)
	start := time.Now()
	err = cmd.Start()
	closeAll(p.outW, p.errW) // the child has its copies
	if err != nil {
		closeAll(p.outR, p.errR, p.inW)
		return stages.ExecResult{}, fmt.Errorf("cannot start: %w", unwrapExecError(err))
	}
	pr := &process{cmd: cmd, pgid: cmd.Process.Pid, pipes: p}
	return pr.wait(ctx, c, start)
}

// process is a process Exec started: its group, our ends of its pipes,
// and why pcrun killed it, if it did.
type process struct {
	cmd  *exec.Cmd
	pgid int
	*pipes
	why killReason
}

// wait feeds the process its stdin, reads its output, kills its group on
// the timeout, when stdout outgrows its limit or when ctx ends (watch),
// and waits for it to exit and its output to be read.
func (pr *process) wait(ctx context.Context, c *stages.Cmd, start time.Time) (stages.ExecResult, error) {
	var res stages.ExecResult
	var wg sync.WaitGroup
	stdout := &capture{limit: stages.ExecStdoutLimit, over: func() {
		if pr.why.set(errStdout) {
			killGroup(pr.pgid, syscall.SIGKILL)
		}
	}}
	stderr := &capture{keep: stages.ExecStderrKeep}
	wg.Go(func() { stdout.readFrom(pr.outR) })
	wg.Go(func() { stderr.readFrom(pr.errR) })
	if pr.inW != nil {
		wg.Go(func() {
			_, _ = pr.inW.Write(c.Stdin) // EPIPE when the process does not read it all: fine
			pr.inW.Close()
		})
	}
	exited := make(chan struct{})
	wg.Go(func() { watch(ctx, pr.pgid, c.Timeout, exited, &pr.why) })

	werr := pr.cmd.Wait() // the leader is reaped; its group may live on
	res.Duration = time.Since(start)
	close(exited)
	killGroup(pr.pgid, syscall.SIGKILL) // what it started dies with it
	pr.drain()
	wg.Wait()
	closeAll(pr.outR, pr.errR)

	res.Stdout, res.Stderr = stages.ExecOutput(stdout.bytes()), stages.ExecOutput(stderr.bytes())
	res.Exit, res.Signal = exitStatus(pr.cmd.ProcessState)
	return res, pr.why.err(ctx, werr)
}

// exitStatus is a process's exit code and, when a signal ended it, the
// signal's name and 128 plus its number as the code, as shells say it.
func exitStatus(st *os.ProcessState) (code int, signal string) {
	if st == nil {
		return 0, ""
	}
	if ws, _ := st.Sys().(syscall.WaitStatus); ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal().String()
	}
	return st.ExitCode(), ""
}

// pipes are the pipes of a process Exec runs: ours, given to the child as
// files, so os/exec starts no copying goroutines and Wait returns when
// the process exits, even if something it started still holds the pipes.
type pipes struct {
	outR, outW *os.File // stdout
	errR, errW *os.File // stderr
	inR, inW   *os.File // stdin; nil when the step gives none
}

// openPipes makes the pipes; on an error, those made are closed again.
func openPipes(stdin bool) (*pipes, error) {
	var p pipes
	var err error
	if p.outR, p.outW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.errR, p.errW, err = os.Pipe(); err != nil {
		closeAll(p.outR, p.outW)
		return nil, err
	}
	if stdin {
		if p.inR, p.inW, err = os.Pipe(); err != nil {
			closeAll(p.outR, p.outW, p.errR, p.errW)
			return nil, err
		}
	}
	return &p, nil
}

// attach gives cmd the child's ends; without stdin it reads /dev/null.
func (p *pipes) attach(cmd *exec.Cmd) {
	cmd.Stdout, cmd.Stderr = p.outW, p.errW
	if p.inR != nil {
		cmd.Stdin = p.inR
	}
}

// drain bounds, once the process has exited and its group is dead, how
// long its output may still take (drainWait: a process that left the
// group with setsid may hold the pipes open), and ends the writing of its
// stdin at once.
func (p *pipes) drain() {
	deadline := time.Now().Add(drainWait)
	_ = p.outR.SetReadDeadline(deadline)
	_ = p.errR.SetReadDeadline(deadline)
	if p.inW != nil {
		_ = p.inW.SetWriteDeadline(time.Now())
	}
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

// err is Exec's error for a process whose Wait returned werr: why pcrun
// killed it, if it did; else werr, unless it only reports an exit status
// (the result says it).
func (k *killReason) err(ctx context.Context, werr error) error {
	switch k.v.Load() {
	case errCancelled:
		return ctx.Err()
	case errTimeout:
		return stages.ErrTimedOut
	case errStdout:
		return stages.ErrStdoutLimit
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return werr
	}
	return nil
}

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
