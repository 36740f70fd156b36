package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/pcrun/pcrun/internal/exitcode"
)

// A command ends by returning an error, never by choosing an exit code:
// the error carries its kind (exitcode.Of reads it) and, in an exitError,
// what the command wants said about it. Main writes that and returns the
// code, so every exit of every command goes through exitcode.Of.

// exitError is how a command ends when it did not succeed.
type exitError struct {
	msg string // what Main writes on stderr; "" when the command has said it all
	err error  // what went wrong; exitcode.Of(err) is the exit code
}

func (e *exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usagef is bad usage or an invalid file, found before anything ran
// (exit 2); Main writes the message.
func usagef(format string, args ...any) error { return usage(fmt.Sprintf(format, args...)) }

// usage is usagef with the message written out.
func usage(msg string) error {
	return &exitError{msg: msg, err: &exitcode.UsageError{Err: errors.New(msg)}}
}

// failure ends a command with err's exit code; Main writes msg.
func failure(msg string, err error) error { return &exitError{msg: msg, err: err} }

// reported ends a command with err's exit code when the command has
// already said on stderr what went wrong.
func reported(err error) error { return &exitError{err: err} }

// exit writes what err says for people on stderr and returns its exit
// code. An error that is not an exitError comes from urfave/cli (a flag
// it cannot parse, help it cannot write) or from writing the output: bad
// usage, said with the usual prefix.
func exit(err error, stderr io.Writer) int {
	var e *exitError
	if err != nil && !errors.As(err, &e) {
		err = usagef("pcrun: error: %v", err)
		errors.As(err, &e)
	}
	if e != nil && e.msg != "" {
		fmt.Fprintln(stderr, e.msg)
	}
	return exitcode.Of(err)
}
