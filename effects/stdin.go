package effects

import (
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// stdinLines reads stdin (nil: an empty input) for `lines: -` or
// `jsonl: -`. Stop ends a read that waits, where stdin lets it
// (interruptible); Finish gives stdin back as it was, never closing it.
func stdinLines(stdin io.Reader) *lineReader {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	rd, deadline, closer := interruptible(stdin)
	r := newLineReader(rd, "stdin")
	r.deadline, r.closer = deadline, closer
	return r
}

// interruptible prepares stdin for a source so that a stop can
// end a read that waits for input (a terminal, a quiet pipe): a read that
// never returned would keep the run from ending.
//
// An *os.File whose reads take deadlines (a pipe from os.Pipe) is used as
// it is. Standard input usually does not (Go opens fd 0 in blocking mode):
// it is duplicated and the copy made non-blocking, so the runtime's poller
// can interrupt it; closer puts the blocking mode back (the file
// description is shared with the shell) and closes the copy. A regular
// file never blocks, and any other io.Reader is read as it is.
//
// deadline makes a blocked read return at once (nil: reads cannot be
// interrupted); closer releases what interruptible made (nil: nothing).
func interruptible(r io.Reader) (rd io.Reader, deadline func(), closer func() error) {
	f, ok := r.(*os.File)
	if !ok {
		return r, nil, nil
	}
	if f.SetReadDeadline(time.Time{}) == nil {
		return f, func() { _ = f.SetReadDeadline(time.Now()) }, func() error { return f.SetReadDeadline(time.Time{}) }
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return f, nil, nil
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(orig uintptr) { fd, derr = syscall.Dup(int(orig)) }); err != nil || derr != nil {
		return f, nil, nil
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		nf := os.NewFile(uintptr(fd), f.Name()) // a regular file never blocks
		return nf, nil, nf.Close
	}
	wasBlocking := !nonblocking(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return f, nil, nil
	}
	dup := os.NewFile(uintptr(fd), f.Name()) // non-blocking: the poller takes it if it can
	restore := func() error {
		if wasBlocking {
			if rc, err := dup.SyscallConn(); err == nil {
				_ = rc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), false) })
			}
		}
		return dup.Close()
	}
	if dup.SetReadDeadline(time.Time{}) != nil { // not pollable after all (/dev/null)
		return dup, nil, restore
	}
	return dup, func() { _ = dup.SetReadDeadline(time.Now()) }, restore
}

// nonblocking reports whether fd is in non-blocking mode.
func nonblocking(fd int) bool {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	return errno == 0 && flags&syscall.O_NONBLOCK != 0
}
