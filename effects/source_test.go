package effects_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/stages"
)

// Source tests use real files, pipes and processes: no synctest bubble,
// generous bounds. pipeline's source_test.go reads the same sources
// through whole runs (count, delay, resume, the ledger).

// open opens s with the Opener of its kind.
func open(t *testing.T, s *stages.Source, stdin io.Reader) (effects.Reader, error) {
	t.Helper()
	o, ok := effects.LookupSource(s.Kind)
	if !ok {
		t.Fatalf("no Opener for %q", s.Kind)
	}
	return o(s, effects.SourceEnv{Stdin: stdin})
}

// readAll reads records up to the end; it fails the test on any other
// error.
func readAll(t *testing.T, r effects.Reader) []any {
	t.Helper()
	var out []any
	for {
		v, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %v: %v", out, err)
		}
		out = append(out, v)
	}
}

// file writes body to a file and returns the source of kind reading it.
func file(t *testing.T, kind config.SourceKind, body string) *stages.Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &stages.Source{Kind: kind, Path: path, Shown: "in.txt"}
}

// TestSourceKindsRegistered: every kind the file format knows has an
// Opener, and registering one twice is a bug that panics.
func TestSourceKindsRegistered(t *testing.T) {
	for _, k := range config.SourceKinds() {
		if _, ok := effects.LookupSource(config.SourceKind(k)); !ok {
			t.Errorf("kind %s has no Opener", k)
		}
	}
	if _, ok := effects.LookupSource("csv"); ok {
		t.Error("csv has an Opener")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering lines twice did not panic")
		}
	}()
	effects.RegisterOpener(config.LinesSource, nil)
}

func TestLines(t *testing.T) {
	r, err := open(t, file(t, config.LinesSource, "alpha\r\nbeta\n\n\xff bytes\nlast"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if want := []any{"alpha", "beta", "", "\xff bytes", "last"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if r.Where() != "in.txt" {
		t.Errorf("Where %q", r.Where())
	}
	if err := r.Finish(true); err != nil {
		t.Error(err)
	}
}

func TestLinesCannotOpen(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.txt")
	for path, want := range map[string]string{missing: "cannot open " + missing + ": no such file or directory", dir: dir + " is a directory"} {
		if _, err := open(t, &stages.Source{Kind: config.LinesSource, Path: path}, nil); err == nil || err.Error() != want {
			t.Errorf("err %v, want %q", err, want)
		}
	}
}

func TestLineTooLong(t *testing.T) {
	r, err := open(t, file(t, config.LinesSource, "short\n"+strings.Repeat("x", effects.MaxRecord+1)+"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Finish(false)
	if v, err := r.Next(); v != "short" || err != nil {
		t.Fatalf("%v, %v", v, err)
	}
	_, err = r.Next()
	var re *effects.RecordError
	if !errors.As(err, &re) || err.Error() != "in.txt: line 2 is longer than 16 MiB" {
		t.Errorf("err %v", err)
	}
}

// TestJSONL: a value a line, blank lines skipped; a bad line is a
// *RecordError, and reading goes on after it.
func TestJSONL(t *testing.T) {
	r, err := open(t, file(t, config.JSONLSource, "{\"a\": 3}\n\n  \n[1.5, \"x\"]\n{bad\n1 2\n\"end\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Finish(false)
	want := []struct {
		v   any
		err string
	}{
		{v: map[string]any{"a": 3}},
		{v: []any{1.5, "x"}},
		{err: "in.txt: line 5: not JSON: invalid character 'b' looking for beginning of object key string (at byte 2)"},
		{err: "in.txt: line 6: more than one JSON value on the line (jsonl takes one per line)"},
		{v: "end"},
	}
	for _, w := range want {
		v, err := r.Next()
		var re *effects.RecordError
		switch {
		case w.err != "" && (!errors.As(err, &re) || err.Error() != w.err):
			t.Errorf("err %v, want %q", err, w.err)
		case w.err == "" && (err != nil || !reflect.DeepEqual(v, w.v)):
			t.Errorf("%#v, %v; want %#v", v, err, w.v)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("err %v, want EOF", err)
	}
}

// TestStdin: `lines: -` reads the reader it is given (nothing when nil),
// and never closes it.
func TestStdin(t *testing.T) {
	stdin := &stages.Source{Kind: config.LinesSource, Path: config.StdinPath, Shown: config.StdinPath}
	r, err := open(t, stdin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); got != nil || r.Where() != "stdin" || r.Finish(true) != nil {
		t.Errorf("nil stdin: %q, %q", got, r.Where())
	}
	r, err = open(t, stdin, strings.NewReader("a\nb\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); !reflect.DeepEqual(got, []any{"a", "b"}) || r.Finish(true) != nil {
		t.Errorf("got %q", got)
	}
}

// TestStdinStop: Stop ends a read that waits on a quiet pipe; Finish
// gives the pipe back, open and readable.
func TestStdinStop(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	r, err := open(t, &stages.Source{Kind: config.JSONLSource, Path: config.StdinPath}, pr)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, r.Stop)
	if _, err := r.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("err %v, want the read cut off", err)
	}
	if err := r.Finish(false); err != nil {
		t.Error(err)
	}
	r.Stop() // after Finish: nothing
	if _, err := pw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := pr.Read(b); err != nil || b[0] != 'x' {
		t.Errorf("stdin after Finish: %q, %v", b, err)
	}
}

func command(argv ...string) *stages.Source {
	return &stages.Source{Kind: config.CommandSource, Argv: argv}
}

func TestCommand(t *testing.T) {
	r, err := open(t, command("sh", "-c", `printf 'a\r\nb\n'`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("got %q", got)
	}
	if want := `command sh -c "printf 'a\\r\\nb\\n'"`; r.Where() != want {
		t.Errorf("Where %s, want %s", r.Where(), want)
	}
	if err := r.Finish(true); err != nil {
		t.Error(err)
	}
}

// TestCommandFails: a command that fails on its own fails Finish, with
// the end of its stderr.
func TestCommandFails(t *testing.T) {
	r, err := open(t, command("sh", "-c", "echo out; echo oops >&2; exit 3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); !reflect.DeepEqual(got, []any{"out"}) {
		t.Errorf("got %q", got)
	}
	if err := r.Finish(true); err == nil || err.Error() != `command sh -c "echo out; echo oops >&2; exit 3": exit status 3; stderr: oops` {
		t.Errorf("err %v", err)
	}
}

// TestCommandStop: Stop ends a command that waits, and its stdout; its
// exit is then no failure.
func TestCommandStop(t *testing.T) {
	r, err := open(t, command("sleep", "1000"), nil)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, r.Stop)
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("err %v, want EOF", err)
	}
	if err := r.Finish(false); err != nil {
		t.Error(err)
	}
}

func TestCommandCannotStart(t *testing.T) {
	_, err := open(t, command("/no/such/program"), nil)
	if err == nil || err.Error() != "cannot run /no/such/program: fork/exec /no/such/program: no such file or directory" {
		t.Errorf("err %v", err)
	}
}
