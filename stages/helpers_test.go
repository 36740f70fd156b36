package stages

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// testFile is the file name every test pipeline is parsed as.
const testFile = "f.yaml"

// noEnv is an empty, non-nil environment: Compile must not read the
// process environment unless a test asks for it.
var noEnv = Options{Environ: []string{}}

// compileSrc parses src as f.yaml, lets edit change the parsed pipeline
// (nil: no change), and compiles it with opts. The file must parse without
// errors: these tests are about what stages reports.
func compileSrc(t *testing.T, src string, opts Options, edit func(*config.Pipeline)) (*Graph, config.Diagnostics) {
	t.Helper()
	pl, ds := config.Parse(testFile, []byte(src))
	if pl == nil || ds.HasErrors() {
		t.Fatalf("config.Parse:\n%v\nsource:\n%s", ds, src)
	}
	if edit != nil {
		edit(pl)
	}
	return Compile(pl, opts)
}

// mustCompile compiles src with an empty environment and fails the test
// on any error diagnostic (warnings are allowed).
func mustCompile(t *testing.T, src string) *Graph {
	t.Helper()
	g, ds := compileSrc(t, src, noEnv, nil)
	if ds.HasErrors() || g == nil {
		t.Fatalf("Compile: unexpected errors:\n%v\nsource:\n%s", ds, src)
	}
	return g
}

// withCode returns the diagnostics with the given code.
func withCode(ds config.Diagnostics, code string) config.Diagnostics {
	var out config.Diagnostics
	for _, d := range ds {
		if d.Code == code {
			out = append(out, d)
		}
	}
	return out
}

// errorsOf returns the error diagnostics.
func errorsOf(ds config.Diagnostics) config.Diagnostics {
	var out config.Diagnostics
	for _, d := range ds {
		if d.Severity == config.Error {
			out = append(out, d)
		}
	}
	return out
}

// fpos is a position in f.yaml.
func fpos(line, col int) config.Pos { return config.Pos{File: testFile, Line: line, Col: col} }

// yamlLines joins lines with newlines (and a final one), so each test file
// shows its line numbers plainly.
func yamlLines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// fakeFx records what a consumer's steps do, in order, instead of doing
// it. Nothing sleeps: Sleep only records d (and reports a done ctx).
type fakeFx struct {
	calls    []string // "print LINE", "emit ITEM", "sleep D", in call order
	emits    []any
	sleeps   []time.Duration
	printErr error // returned by every Print
	emitErr  error // returned by every Emit
	// Exec and Write: the commands run, what Exec gives, what Write returns.
	cmds       []*Cmd
	execResult ExecResult
	execErr    error
	writeErr   error
}

func (f *fakeFx) Print(line []byte) error {
	f.calls = append(f.calls, "print "+string(line))
	return f.printErr
}

func (f *fakeFx) Emit(ctx context.Context, item any) error {
	f.calls = append(f.calls, "emit "+Format(item))
	f.emits = append(f.emits, item)
	if f.emitErr != nil {
		return f.emitErr
	}
	return ctx.Err()
}

func (f *fakeFx) Sleep(ctx context.Context, d time.Duration) error {
	f.calls = append(f.calls, "sleep "+d.String())
	f.sleeps = append(f.sleeps, d)
	return ctx.Err()
}

// Exec records the command and gives f.execResult (and f.execErr).
func (f *fakeFx) Exec(ctx context.Context, cmd *Cmd) (ExecResult, error) {
	f.calls = append(f.calls, "exec "+strings.Join(cmd.Argv, " "))
	f.cmds = append(f.cmds, cmd)
	if f.execErr != nil {
		return f.execResult, f.execErr
	}
	return f.execResult, ctx.Err()
}

func (f *fakeFx) Write(path string, line []byte) error {
	f.calls = append(f.calls, "write "+path+" "+string(line))
	return f.writeErr
}
