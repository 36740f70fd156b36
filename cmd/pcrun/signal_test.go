package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/internal/exitcode"
)

// proc is a running pcrun binary whose stdout and stderr are read line by
// line as they come.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *pipeLines
	done           chan struct{} // closed when the process has exited and both pipes are read
	code           int           // exit code, valid after done
	exited         time.Time     // when Wait returned, valid after done
}

// pipeLines collects the lines read from one pipe.
type pipeLines struct {
	mu    sync.Mutex
	all   []string
	eof   chan struct{}
	extra string // a last line without a newline, if any
}

func (l *pipeLines) read(r io.Reader) {
	defer close(l.eof)
	br := bufio.NewReader(r)
	for {
		s, err := br.ReadString('\n')
		l.mu.Lock()
		if strings.HasSuffix(s, "\n") {
			l.all = append(l.all, strings.TrimSuffix(s, "\n"))
		} else if s != "" {
			l.extra = s
		}
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// count returns how many whole lines so far satisfy match.
func (l *pipeLines) count(match func(string) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.all {
		if match(s) {
			n++
		}
	}
	return n
}

func (l *pipeLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return l.extra
	}
	return strings.Join(l.all, "\n") + "\n" + l.extra
}

// startPcrun starts the built binary with args; the process is killed at
// the end of the test if it is still running, and its pipes are always read
// to EOF and the command waited for.
func startPcrun(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCommand(t, exec.Command(pcrunBinary(t), args...))
}

// startCommand starts cmd (pcrun, or the test binary as a helper) as
// startPcrun does.
func startCommand(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	args := cmd.Args[1:]
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}),
		stdout: &pipeLines{eof: make(chan struct{})}, stderr: &pipeLines{eof: make(chan struct{})}}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	go p.stdout.read(stdout)
	go p.stderr.read(stderr)
	go func() {
		defer close(p.done)
		<-p.stdout.eof
		<-p.stderr.eof
		err := cmd.Wait()
		p.exited = time.Now()
		p.code = cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.code = -2
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("pcrun %s: exit %d\n--- stdout:\n%s--- stderr:\n%s",
				strings.Join(args, " "), p.code, p.stdout.text(), p.stderr.text())
		}
	})
	return p
}

// waitFor polls until l has at least n lines satisfying match, failing t
// after timeout or if the process ends first.
func (p *proc) waitFor(t *testing.T, l *pipeLines, what string, n int, match func(string) bool, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for l.count(match) < n {
		select {
		case <-deadline:
			t.Fatalf("no %d lines of %s after %v", n, what, timeout)
		case <-p.done:
			if l.count(match) < n {
				t.Fatalf("pcrun exited (code %d) before %d lines of %s", p.code, n, what)
			}
		case <-tick.C:
		}
	}
}

// wait waits for the process to exit, failing t after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("pcrun still running %v after the signal", timeout)
	}
}

func (p *proc) signal(t *testing.T, s os.Signal) time.Time {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatalf("signal %v: %v", s, err)
	}
	return time.Now()
}

func isAte(s string) bool      { return ateRE.MatchString(s) }
func isProduced(s string) bool { return producedRE.MatchString(s) }
func hasSubstr(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

// checkOutputWhole fails t if stdout had a partial last line.
func checkOutputWhole(t *testing.T, p *proc) {
	t.Helper()
	if p.stdout.extra != "" {
		t.Errorf("stdout ends with a partial line %q", p.stdout.extra)
	}
}

// TestSignalDrains: on the first SIGINT or SIGTERM, producers stop, what is
// in the queue drains within the grace period, and pcrun exits 130 with
// nothing abandoned.
func TestSignalDrains(t *testing.T) {
	for _, s := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			p := startPcrun(t, "testdata/slow.yaml")
			p.waitFor(t, p.stdout, "Ate", 3, isAte, 5*time.Second)
			p.signal(t, s)
			p.wait(t, 5*time.Second)
			if p.code != exitcode.Interrupted {
				t.Fatalf("exit %d, want %d", p.code, exitcode.Interrupted)
			}
			checkOutputWhole(t, p)
			stderr := p.stderr.text()
			if !strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "draining queues for up to 10s") {
				t.Errorf("stderr does not announce the interrupt and the drain")
			}
			l := parseLedger(t, stderr)
			if l.How != "interrupted" || l.Abandoned != 0 || l.Failed != 0 {
				t.Errorf("ledger %+v, want interrupted with nothing failed or abandoned", l)
			}
			var all []string
			p.stdout.mu.Lock()
			all = append(all, p.stdout.all...)
			p.stdout.mu.Unlock()
			produced, eaten := producedAndEaten(t, all)
			if int64(len(produced)) != l.Produced {
				t.Errorf("%d Produced lines, ledger says %d", len(produced), l.Produced)
			}
			if len(produced) >= 1000 {
				t.Errorf("the producer was not stopped: %d items", len(produced))
			}
			checkEatenOnce(t, produced, eaten)
		})
	}
}

// TestSecondSignalCancels: consumers take 30s per item, so draining would
// take minutes; a second SIGINT cancels them at once, and every item not
// consumed is counted as abandoned.
func TestSecondSignalCancels(t *testing.T) {
	t.Parallel()
	p := startPcrun(t, "testdata/stuck.yaml")
	p.waitFor(t, p.stdout, "Produced", 5, isProduced, 5*time.Second)
	p.signal(t, os.Interrupt)
	p.waitFor(t, p.stderr, "drain notice", 1, hasSubstr("draining queues"), 2*time.Second)
	select {
	case <-p.done:
		t.Fatalf("pcrun exited (code %d) after one signal while consumers were busy for 30s", p.code)
	case <-time.After(100 * time.Millisecond):
	}
	sent := p.signal(t, os.Interrupt)
	p.wait(t, 2*time.Second)
	if d := p.exited.Sub(sent); d > 2*time.Second {
		t.Errorf("pcrun took %v to exit after the second signal", d)
	}
	if p.code != exitcode.Interrupted {
		t.Fatalf("exit %d, want %d", p.code, exitcode.Interrupted)
	}
	checkOutputWhole(t, p)
	stderr := p.stderr.text()
	if !strings.Contains(stderr, "interrupted again") {
		t.Errorf("stderr does not announce the second interrupt")
	}
	l := parseLedger(t, stderr)
	if l.How != "interrupted" || l.Abandoned == 0 || l.Done != 0 {
		t.Errorf("ledger %+v, want interrupted with items abandoned and none done", l)
	}
	if n := p.stdout.count(isProduced); int64(n) != l.Produced {
		t.Errorf("%d Produced lines, ledger says %d", n, l.Produced)
	}
	if n := p.stdout.count(isAte); n != 0 {
		t.Errorf("%d Ate lines, want 0", n)
	}
}
