package stages

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// TestExecDiagnostics checks what exec, shell and write report, and where
// (line 8 is the step; columns are 1-based runes of "      - STEP").
func TestExecDiagnostics(t *testing.T) {
	tests := []struct {
		name  string
		steps []string
		code  string
		sev   config.Severity
		at    config.Pos
		msg   string
		hint  string // a substring; "" checks nothing
	}{
		{name: "exec of a string", steps: []string{`exec: "sha256sum ${item}"`},
			code: config.CodeType, sev: config.Error, at: fpos(8, 15),
			msg: "`exec` takes a list: the program, then its arguments", hint: "use `shell:`"},
		{name: "empty list", steps: []string{`exec: []`},
			code: config.CodeMissing, sev: config.Error, at: fpos(8, 15),
			msg: "`exec` needs a program to run: its list is empty"},
		{name: "argument that is a list", steps: []string{`exec: [echo, [a, b]]`},
			code: config.CodeType, sev: config.Error, at: fpos(8, 22),
			msg: "an argument of `exec` must be one string, not a mapping or list"},
		{name: "unknown key", steps: []string{`exec: {argv: [true], timout: 1s}`},
			code: config.CodeUnknownField, sev: config.Error, at: fpos(8, 30),
			msg: "unknown key `timout` in `exec`", hint: "did you mean `timeout`?"},
		{name: "no argv", steps: []string{`exec: {timeout: 1s}`},
			code: config.CodeMissing, sev: config.Error, at: fpos(8, 15),
			msg: "`exec` needs `argv`"},
		{name: "bad timeout", steps: []string{`exec: {argv: [true], timeout: soon}`},
			code: config.CodeDuration, sev: config.Error, at: fpos(8, 39),
			msg: "timeout: "},
		{name: "zero timeout", steps: []string{`exec: {argv: [true], timeout: 0s}`},
			code: config.CodeDuration, sev: config.Error, at: fpos(8, 39),
			msg: "timeout must be longer than 0"},
		{name: "bad env name", steps: []string{`exec: {argv: [env], env: {A-B: x}}`},
			code: config.CodeBadName, sev: config.Error, at: fpos(8, 35),
			msg: "`A-B` is not an environment variable name"},
		{name: "check not a bool", steps: []string{`exec: {argv: [true], check: "no"}`},
			code: config.CodeType, sev: config.Error, at: fpos(8, 37),
			msg: "`check` must be true or false"},
		{name: "expression in an argument", steps: []string{`exec: [echo, "${itme}"]`},
			code: config.CodeUnknownName, sev: config.Error, at: fpos(8, 25),
			msg: "unknown name `itme`", hint: "did you mean `item`?"},
		{name: "result before exec", steps: []string{`print: "${result.stdout}"`, `exec: [true]`},
			code: config.CodeUnknownName, sev: config.Error, at: fpos(8, 19),
			msg: "`result` is not defined here", hint: "use it in a step after one"},
		{name: "result field unknown", steps: []string{`exec: [true]`, `print: "${result.stdot}"`},
			code: config.CodeExprType, sev: config.Error, at: fpos(9, 26),
			msg: "stdot"},
		{name: "shell of a list", steps: []string{`shell: [ls, -l]`},
			code: config.CodeType, sev: config.Error, at: fpos(8, 16),
			msg: "`shell` takes a script (a string), not a mapping or list"},
		{name: "shell pastes item", steps: []string{`shell: "wc -l < ${item}"`},
			code: config.CodeShellItem, sev: config.Warning, at: fpos(8, 27),
			msg: "the shell script pastes `item` into itself", hint: `env: {ITEM: "${item}"}`},
		{name: "shell long form pastes item", steps: []string{`shell: {run: "echo ${upper(item)}"}`},
			code: config.CodeShellItem, sev: config.Warning, at: fpos(8, 36),
			msg: "pastes `item`"},
		{name: "shell unknown key", steps: []string{`shell: {run: ls, argv: [ls]}`},
			code: config.CodeUnknownField, sev: config.Error, at: fpos(8, 26),
			msg: "unknown key `argv` in `shell`"},
		{name: "write of a string", steps: []string{`write: out.txt`},
			code: config.CodeType, sev: config.Error, at: fpos(8, 16),
			msg: "`write` takes a mapping with `path` and `line`"},
		{name: "write without line", steps: []string{`write: {path: out.txt}`},
			code: config.CodeMissing, sev: config.Error, at: fpos(8, 16),
			msg: "`write` needs `line`"},
		{name: "write unknown key", steps: []string{`write: {path: o, lines: x, line: x}`},
			code: config.CodeUnknownField, sev: config.Error, at: fpos(8, 26),
			msg: "unknown key `lines` in `write`", hint: "did you mean `line`?"},
		{name: "write path uses item", steps: []string{`write: {path: "${item}.txt", line: x}`},
			code: config.CodeUnknownName, sev: config.Error, at: fpos(8, 26),
			msg: "unknown name `item`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := compileSrc(t, consumerDo("", tt.steps...), noEnv, nil)
			if len(ds) != 1 {
				t.Fatalf("want 1 diagnostic, got %d:\n%v", len(ds), ds)
			}
			d := ds[0]
			if d.Code != tt.code || d.Severity != tt.sev || d.Pos != tt.at || !strings.Contains(d.Message, tt.msg) ||
				!strings.Contains(d.Hint, tt.hint) {
				t.Errorf("got  %s %s [%s] %q hint %q\nwant %s %s [%s] %q hint %q", d.Pos, d.Severity, d.Code, d.Message, d.Hint,
					tt.at, tt.sev, tt.code, tt.msg, tt.hint)
			}
		})
	}
}

// TestExecValid compiles the forms that are fine, without a diagnostic.
func TestExecValid(t *testing.T) {
	for _, step := range []string{
		`exec: [sha256sum, "${item}"]`,
		`exec: [echo, 1, true]`,
		`exec: {argv: [cat], stdin: "${item}\n", env: {A: "${worker}", B_2: x}, dir: sub, timeout: 2s, check: false}`,
		`exec: {argv: [true], timeout: "${attempt * 2}"}`,
		`shell: 'wc -l < "$F"'`,
		`shell: {run: 'echo "$F"', env: {F: "${item}"}, timeout: 1m}`,
		`write: {path: out.txt, line: "${item}"}`,
		`write: {path: out.jsonl, line: {file: "${item}", n: 1}}`,
	} {
		if _, ds := compileSrc(t, consumerDo("", step), noEnv, nil); len(ds) > 0 {
			t.Errorf("%s:\n%v", step, ds)
		}
	}
}

// execFile runs exec steps and reads `result` after them.
var execFile = yamlLines(
	"vars: {prog: /bin/tool}",
	"producers:",
	"  - {name: p, count: 1, item: x}",
	"consumers:",
	"  - name: c",
	"    do:",
	`      - exec: {argv: ["${prog}", --name, "${item}", "", "a${1+1}"], stdin: "in ${item}", env: {ITEM: "${item}"}, dir: work, timeout: 3s}`,
	`      - print: "${item}  ${result.stdout} [${result.exit}] ${result.stderr}"`,
	`      - shell: {run: 'echo "$ITEM"', env: {ITEM: "${result.stdout}"}, check: false}`,
	`      - print: "${result.exit}"`,
)

// TestExecRendersCommand checks that every argv element is one argument,
// whatever the item holds, and what the steps after see.
func TestExecRendersCommand(t *testing.T) {
	g, ds := compileSrc(t, execFile, noEnv, nil)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	fx := &fakeFx{execResult: ExecResult{Stdout: "out", Stderr: "err", Exit: 0}}
	item := `a b "c" $(rm -rf /) ;ls` + "\n'd'"
	if _, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), item); err != nil {
		t.Fatal(err)
	}
	if len(fx.cmds) != 2 {
		t.Fatalf("commands %v", fx.calls)
	}
	want := &Cmd{
		Argv:    []string{"/bin/tool", "--name", item, "", "a2"},
		Stdin:   []byte("in " + item),
		Env:     []string{"ITEM=" + item},
		Dir:     "work", // beside f.yaml, in the working directory
		Timeout: 3 * time.Second,
	}
	if !reflect.DeepEqual(fx.cmds[0], want) {
		t.Errorf("command\n got %#v\nwant %#v", fx.cmds[0], want)
	}
	shell := &Cmd{Argv: []string{"/bin/sh", "-c", `echo "$ITEM"`}, Env: []string{"ITEM=out"}}
	if !reflect.DeepEqual(fx.cmds[1], shell) {
		t.Errorf("shell command\n got %#v\nwant %#v", fx.cmds[1], shell)
	}
	if got := fx.calls[1]; got != "print "+item+"  out [0] err" {
		t.Errorf("print after exec: %q", got)
	}
}

// TestExecDirBesideFile checks that a relative dir is in the pipeline
// file's directory, and an absolute one is kept.
func TestExecDirBesideFile(t *testing.T) {
	for dir, want := range map[string]string{"sub": "pipes/sub", "/tmp": "/tmp", ".": "pipes"} {
		pl, ds := config.Parse("pipes/f.yaml", []byte(consumerDo("", `exec: {argv: [pwd], dir: "`+dir+`"}`)))
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		g, ds := Compile(pl, noEnv)
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		fx := &fakeFx{}
		if _, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), "x"); err != nil {
			t.Fatal(err)
		}
		if got := fx.cmds[0].Dir; got != want {
			t.Errorf("dir %q: got %q, want %q", dir, got, want)
		}
	}
}

// TestExecFailures checks the messages of failed processes and that an
// interrupted one is not a failure.
func TestExecFailures(t *testing.T) {
	g := mustCompile(t, consumerDo("", `exec: {argv: [sha256sum, "${item}"], timeout: 2s}`, `print: "${result.stdout}"`))
	long := strings.Repeat("x", 400) + "\nlast line\n"
	tests := []struct {
		name string
		res  ExecResult
		err  error
		msg  string // "" : no failure
	}{
		{name: "success", res: ExecResult{Stdout: "abc"}},
		{name: "exit", res: ExecResult{Exit: 1, Stderr: "sha256sum: x: No such file or directory\n"},
			msg: "f.yaml:8:9: exec sha256sum: exit status 1: sha256sum: x: No such file or directory"},
		{name: "exit with no stderr", res: ExecResult{Exit: 3}, msg: "f.yaml:8:9: exec sha256sum: exit status 3"},
		{name: "long stderr", res: ExecResult{Exit: 2, Stderr: long}, msg: "exit status 2: ...xxx"},
		{name: "signal", res: ExecResult{Exit: 137, Signal: "killed"}, msg: "exec sha256sum: killed by signal killed"},
		{name: "timeout", err: fmt.Errorf("wrapped: %w", ErrTimedOut), res: ExecResult{Exit: 137, Signal: "killed"},
			msg: "f.yaml:8:9: exec sha256sum: timed out after 2s"},
		{name: "cannot start", err: errors.New("cannot start: executable file not found in $PATH"),
			msg: "exec sha256sum: cannot start: executable file not found in $PATH"},
		{name: "stdout too long", err: ErrStdoutLimit, msg: "exec sha256sum: wrote more than 1 MiB to stdout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := &fakeFx{execResult: tt.res, execErr: tt.err}
			_, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), "x")
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *StepError
			var re *RuntimeError
			if !errors.As(err, &se) || se.Step != 0 || !errors.As(err, &re) || !strings.Contains(re.Error(), tt.msg) {
				t.Fatalf("got %v, want a StepError at step 0 with %q", err, tt.msg)
			}
			if strings.Contains(re.Error(), "\n") || len(re.Msg) > 400 {
				t.Errorf("message not one short line: %q", re.Msg)
			}
			if len(fx.calls) != 1 {
				t.Errorf("steps after the failed exec ran: %q", fx.calls)
			}
		})
	}
	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		fx := &fakeFx{execErr: context.Canceled}
		_, err := g.Consumers[0].Worker(1, fx).Handle(ctx, "x")
		if !errors.Is(err, context.Canceled) || errors.As(err, new(*StepError)) {
			t.Fatalf("got %v, want the context's error, not a failure", err)
		}
	})
}

// TestExecCheckFalse: with check: false a non-zero exit lets the item go
// on, and later steps read the exit status.
func TestExecCheckFalse(t *testing.T) {
	g := mustCompile(t, consumerDo("", `exec: {argv: [grep, -q, x, "${item}"], check: false}`,
		`fail: "${result.exit > 1 ? 'grep failed: ' + result.stderr : ''}"`, `print: "${result.exit == 0 ? 'found' : 'absent'}"`))
	for res, want := range map[ExecResult]string{
		{Exit: 0}: "print found", {Exit: 1}: "print absent", {Exit: 2, Stderr: "no file"}: "fail",
	} {
		fx := &fakeFx{execResult: res}
		_, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), "f")
		switch {
		case want == "fail" && (err == nil || !strings.Contains(err.Error(), "grep failed: no file")):
			t.Errorf("exit %d: got %v, want the fail step's error", res.Exit, err)
		case want != "fail" && (err != nil || fx.calls[len(fx.calls)-1] != want):
			t.Errorf("exit %d: got %v, %q; want %q", res.Exit, err, fx.calls, want)
		}
	}
}

// TestExecResultPerItem: an item's result starts empty, and a retry from
// a step after the exec still sees it.
func TestExecResultPerItem(t *testing.T) {
	g := mustCompile(t, consumerDo("", `exec: [echo, "${item}"]`, `print: "${result.stdout}"`))
	w := g.Consumers[0].Worker(1, &fakeFx{execResult: ExecResult{Stdout: "one"}})
	if _, err := w.Handle(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if w.env.Result.Stdout != "one" {
		t.Fatalf("result %+v", w.env.Result)
	}
	fx := &fakeFx{}
	w.fx = fx
	if _, err := w.Retry(t.Context(), "b", 2, 1); err != nil { // resumes at the print
		t.Fatal(err)
	}
	if want := []string{"print one"}; !reflect.DeepEqual(fx.calls, want) {
		t.Errorf("retry from the print: %q, want %q", fx.calls, want)
	}
	if _, err := w.Handle(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"print one", "exec echo c", "print "}; !reflect.DeepEqual(fx.calls, want) {
		t.Errorf("a new item: %q, want %q", fx.calls, want)
	}
}

// TestWriteStep checks the path (beside the file, from vars), the line
// (a mapping as one JSON object) and WritePaths.
func TestWriteStep(t *testing.T) {
	src := yamlLines(
		"vars: {out: results}",
		"producers:",
		"  - {name: p, count: 1, item: x}",
		"consumers:",
		"  - name: a",
		"    do:",
		`      - write: {path: "${out}.jsonl", line: {file: "${item}", n: "${len(item)}"}}`,
		`      - write: {path: /tmp/log.txt, line: "${worker} ${item}"}`,
		"  - name: b",
		"    from: main",
		"    do:",
		`      - write: {path: "${env.OUT}", line: "${item}"}`,
		`      - write: {path: "results.jsonl", line: "${item}"}`,
	)
	pl, ds := config.Parse("dir/f.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	g, ds := Compile(pl, Options{Environ: []string{"OUT=/var/out.txt"}})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if got, want := g.WritePaths(), []string{"dir/results.jsonl", "/tmp/log.txt", "/var/out.txt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("WritePaths() = %q, want %q", got, want)
	}
	fx := &fakeFx{}
	if _, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), `a "b"`); err != nil {
		t.Fatal(err)
	}
	want := []string{`write dir/results.jsonl {"file":"a \"b\"","n":5}`, `write /tmp/log.txt a a "b"`}
	if !reflect.DeepEqual(fx.calls, want) {
		t.Errorf("calls %q, want %q", fx.calls, want)
	}
	fx = &fakeFx{writeErr: errors.New("no space left on device")}
	_, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), "x")
	if err == nil || !strings.Contains(err.Error(), "f.yaml:7:45: write dir/results.jsonl: no space left on device") {
		t.Errorf("a failed write: %v", err)
	}
	if got := g.Consumers[0].RealWork(); !reflect.DeepEqual(got, []string{"write"}) {
		t.Errorf("RealWork() = %q", got)
	}
}

// TestRealWork: the steps that act outside pcrun are named, each once.
func TestRealWork(t *testing.T) {
	g := mustCompile(t, consumerDo("", `print: x`, `exec: [true]`, `shell: "true"`, `exec: [false]`, `sleep: 1s`))
	if got, want := g.Consumers[0].RealWork(), []string{"exec", "shell"}; !reflect.DeepEqual(got, want) {
		t.Errorf("RealWork() = %q, want %q", got, want)
	}
	g = mustCompile(t, consumerDo("", `print: x`, `sleep: 1s`))
	if got := g.Consumers[0].RealWork(); got != nil {
		t.Errorf("RealWork() = %q, want none", got)
	}
}
