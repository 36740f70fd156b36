package effects

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// MaxRecord bounds one record of a source, a line with its line ending: a
// longer one fails the producer (docs/sources.md).
const MaxRecord = 16 << 20

// killWait is how long a stopped command's process group has between
// SIGTERM and SIGKILL.
const killWait = 2 * time.Second

// stderrTail is how much of a command's stderr a failure quotes.
const stderrTail = 4 << 10

// Reader reads the records of one producer's source. The runtime opens it
// (an Opener, found by LookupSource) before any worker starts, and owns
// it from then on: one goroutine, the producer's, calls Next, Where and
// Finish; Stop may be called from any goroutine, at any time, more than
// once. Whoever opened a Reader must Finish it exactly once, read or not.
type Reader interface {
	// Next returns the next record: a string for a line, a value decoded
	// by stages.FromJSON for jsonl. It blocks while the source has
	// nothing to read yet (stdin, a quiet command) until Stop is called.
	// It returns io.EOF at the end, a *RecordError for a record that
	// cannot be an item (Next can be called again), or another error,
	// after which the source cannot be read any more.
	Next() (any, error)
	// Stop makes the source end early: a blocked Next returns, and a
	// command's process group gets SIGTERM. It does not block, and after
	// Finish it does nothing.
	Stop()
	// Finish releases the source: closes its file, gives stdin back as
	// it was, waits for a command to exit (bounded: the group is killed
	// when it lingers). ended says the source was read to io.EOF;
	// otherwise it is stopped first. The error is the source failing on
	// its own (a command's non-zero exit pcrun did not cause). It never
	// closes SourceEnv.Stdin.
	Finish(ended bool) error
	// Where names the source in messages: its file as the pipeline file
	// writes it, "stdin", or the command.
	Where() string
}

// SourceEnv is what opening a source may use besides its description.
type SourceEnv struct {
	// Stdin is what `lines: -` and `jsonl: -` read; nil reads nothing.
	Stdin io.Reader
}

// Opener opens a source: opens its file, takes stdin, or starts its
// command; nothing is read yet. The error says why it cannot be read (a
// missing file, a program that cannot start); then there is nothing to
// Finish.
type Opener func(s *stages.Source, env SourceEnv) (Reader, error)

// sources holds the Opener of every source kind; filled by the files of
// the kinds in their init, read-only afterwards.
var sources = map[config.SourceKind]Opener{}

// RegisterSource makes open the Opener of kind. Call it from an init
// function, once per kind.
func RegisterSource(kind config.SourceKind, open Opener) {
	if _, dup := sources[kind]; dup {
		panic("effects: source kind " + string(kind) + " registered twice")
	}
	sources[kind] = open
}

// LookupSource returns the Opener of kind; false when no file registers
// it.
func LookupSource(kind config.SourceKind) (Opener, bool) {
	open, ok := sources[kind]
	return open, ok
}

// RecordError is a record that cannot become an item (bad JSON, a line
// too long): it counts as an item that failed in the producer, and the
// reader can go on with the next record.
type RecordError struct{ msg string }

func (e *RecordError) Error() string { return e.msg }

// source reads the records of one producer's source. One goroutine (the
// producer's) calls next and finish; stop may be called from any.
type source struct {
	s    *stages.Source
	br   *bufio.Reader
	buf  []byte // a long line being assembled
	line int    // lines read so far, for messages

	closer   func() error // releases the file, stdin or pipe; nil: nothing to release
	deadline func()       // makes a blocked read return; nil when reads do not block

	cmd    *exec.Cmd
	stderr *tailWriter

	mu       sync.Mutex
	stopCh   chan struct{} // closed by the first stop
	killed   bool          // stop was called: a command's exit status is ours
	finished bool          // finish is done: stop does nothing
}

func init() {
	for _, k := range []config.SourceKind{config.LinesSource, config.JSONLSource, config.CommandSource} {
		RegisterSource(k, openSource)
	}
}

// openSource opens a producer's source: opens its file, takes stdin, or
// starts its command. Nothing is read yet.
func openSource(s *stages.Source, env SourceEnv) (Reader, error) {
	stdin := env.Stdin
	src := &source{s: s, stopCh: make(chan struct{})}
	switch {
	case s.Kind == config.CommandSource:
		return src, src.start()
	case s.Stdin():
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		r, deadline, closer := interruptible(stdin)
		src.br, src.deadline, src.closer = bufio.NewReaderSize(r, 64<<10), deadline, closer
	default:
		f, err := os.Open(s.Path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("cannot open %s: %w", s.Path, pe.Err)
			}
			return nil, err
		}
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s is a directory", s.Path)
		}
		src.br, src.closer = bufio.NewReaderSize(f, 64<<10), f.Close
	}
	return src, nil
}

// start starts the command in a process group of its own, its stdin
// /dev/null, its stderr kept (the end of it) for messages.
func (src *source) start() error {
	argv := src.s.Argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	src.stderr = &tailWriter{max: stderrTail}
	cmd.Stderr = src.stderr
	// A grandchild that outlives the command may hold its stderr open:
	// do not wait for it forever once the command has exited.
	cmd.WaitDelay = killWait
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return fmt.Errorf("cannot run %s: %v", ee.Name, ee.Err)
		}
		return fmt.Errorf("cannot run %s: %v", argv[0], err)
	}
	src.cmd = cmd
	src.br = bufio.NewReaderSize(out, 64<<10)
	return nil
}

// next returns the next record: a string for lines and commands, a
// decoded JSON value for jsonl. It returns io.EOF at the end, a
// *RecordError for a record that cannot be an item, or the read error.
// It blocks while the source has nothing to read (stdin, a command).
func (src *source) Next() (any, error) {
	for {
		b, err := src.readLine()
		if err != nil {
			return nil, err
		}
		if src.s.Kind != config.JSONLSource {
			return string(b), nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // blank lines between JSON values are not records
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // 3 stays the int 3, as in spill files
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, &RecordError{fmt.Sprintf("%s: line %d: not JSON: %v", src.Where(), src.line, jsonMessage(err))}
		}
		if dec.More() {
			return nil, &RecordError{fmt.Sprintf("%s: line %d: more than one JSON value on the line (jsonl takes one per line)", src.Where(), src.line)}
		}
		return stages.FromJSON(v), nil
	}
}

// readLine reads one line without its line ending (\n or \r\n). A last
// line without a newline is a line; an empty input has none. The slice is
// valid until the next call.
func (src *source) readLine() ([]byte, error) {
	src.buf = src.buf[:0]
	for {
		chunk, err := src.br.ReadSlice('\n')
		if len(src.buf)+len(chunk) > MaxRecord {
			src.line++
			return nil, &RecordError{fmt.Sprintf("%s: line %d is longer than %d MiB", src.Where(), src.line, MaxRecord>>20)}
		}
		switch {
		case err == nil:
			src.line++
			var b []byte
			if len(src.buf) == 0 {
				b = chunk // the common case: the line is in the reader's buffer
			} else {
				src.buf = append(src.buf, chunk...)
				b = src.buf
			}
			b = b[:len(b)-1]
			if n := len(b); n > 0 && b[n-1] == '\r' {
				b = b[:n-1]
			}
			return b, nil
		case errors.Is(err, bufio.ErrBufferFull):
			src.buf = append(src.buf, chunk...)
		case errors.Is(err, io.EOF):
			src.buf = append(src.buf, chunk...)
			if len(src.buf) == 0 {
				return nil, io.EOF
			}
			src.line++
			b := src.buf
			if n := len(b); b[n-1] == '\r' {
				b = b[:n-1]
			}
			return b, nil
		default:
			return nil, fmt.Errorf("%s: reading line %d: %w", src.Where(), src.line+1, err)
		}
	}
}

// where names the source in messages: the file, stdin, or the command.
func (src *source) Where() string {
	switch {
	case src.s.Kind == config.CommandSource:
		args := make([]string, len(src.s.Argv))
		for i, a := range src.s.Argv {
			args[i] = a
			if a == "" || strings.ContainsAny(a, " \t\n'\"\\$;&|<>*?()") {
				args[i] = strconv.Quote(a)
			}
		}
		return "command " + strings.Join(args, " ")
	case src.s.Stdin():
		return "stdin"
	}
	return src.s.Shown
}

// stop makes the source end early: a blocked read returns, and a command's
// process group gets SIGTERM (finish sends SIGKILL if it lingers). Safe to
// call from any goroutine, more than once; after finish it does nothing.
func (src *source) Stop() {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.killed || src.finished {
		return
	}
	src.killed = true
	close(src.stopCh)
	if src.deadline != nil {
		src.deadline()
	}
	if src.cmd != nil {
		killGroup(src.cmd.Process.Pid, syscall.SIGTERM)
	}
}

// finish releases the source. For a command it waits for it to exit
// (killing its group with SIGKILL when it outlives a stop by killWait),
// kills what is left of its process group, and returns an error when the
// command failed on its own: a non-zero exit pcrun did not cause. ended
// says that the source was read to its end; otherwise it is stopped
// first. Call it once, from the goroutine that reads.
func (src *source) Finish(ended bool) error {
	if !ended {
		src.Stop()
	}
	if src.cmd == nil {
		src.mu.Lock()
		src.finished = true
		src.mu.Unlock()
		if src.closer != nil {
			return src.closer()
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- src.cmd.Wait() }() // owned: always received below
	var err error
	select {
	case err = <-done:
	case <-src.stopCh:
		select {
		case err = <-done:
		case <-time.After(killWait):
			killGroup(src.cmd.Process.Pid, syscall.SIGKILL)
			err = <-done
		}
	}
	src.mu.Lock()
	src.finished = true
	killed := src.killed
	// Whatever the command left running in its group goes with it.
	killGroup(src.cmd.Process.Pid, syscall.SIGKILL)
	src.mu.Unlock()
	if err == nil || killed {
		return nil
	}
	msg := err.Error()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg = ee.ProcessState.String() // "exit status 3", "signal: killed"
	}
	if tail := strings.TrimSpace(src.stderr.String()); tail != "" {
		msg += "; stderr: " + tail
	}
	return fmt.Errorf("%s: %s", src.Where(), msg)
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

// jsonMessage shortens encoding/json's errors for a one-line message.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the value is cut short"
	}
	return err.Error()
}
