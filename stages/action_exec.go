package stages

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
)

// Cmd is a process an exec or shell step asks Effects.Exec to run. It is
// rendered for one item and owned by the call.
type Cmd struct {
	// Argv is the program and its arguments, each exactly one argument:
	// nothing splits or expands them. Argv[0] is looked up in PATH when it
	// has no slash.
	Argv []string
	// Stdin is what the process reads on its standard input; nil gives it
	// an empty one (/dev/null), never pcrun's.
	Stdin []byte
	// Env holds NAME=value pairs added to pcrun's environment (a name
	// given here wins).
	Env []string
	// Dir is the working directory; "" is pcrun's.
	Dir string
	// Timeout is how long the process may run; 0 is no limit.
	Timeout time.Duration
}

// ExecResult is what a process did: `result` in the expressions of the
// steps after an exec or shell step.
type ExecResult struct {
	// Stdout is the standard output with its trailing newlines removed
	// (as the shell's $(...) does), at most ExecStdoutLimit bytes.
	Stdout string `expr:"stdout" json:"stdout"`
	// Stderr is the last ExecStderrKeep bytes of the standard error, with
	// trailing newlines removed.
	Stderr string `expr:"stderr" json:"stderr"`
	// Exit is the exit status; 128+N when the process died of signal N.
	Exit int `expr:"exit" json:"exit"`
	// Signal names the signal the process died of, or is "".
	Signal string `expr:"signal" json:"signal,omitempty"`
	// Duration is how long the process ran.
	Duration time.Duration `expr:"duration" json:"duration"`
}

// Limits on what a step keeps of a process's output, so that a chatty
// child cannot exhaust pcrun's memory.
const (
	// ExecStdoutLimit bounds the standard output kept: a process that
	// writes more is killed and its step fails (the result would be cut).
	ExecStdoutLimit = 1 << 20
	// ExecStderrKeep is how much of the end of the standard error is kept;
	// the rest is dropped, and the step does not fail for it.
	ExecStderrKeep = 64 << 10
)

// Errors Effects.Exec returns (wrapped) when it killed the process.
var (
	// ErrTimedOut: the process ran past Cmd.Timeout.
	ErrTimedOut = errors.New("timed out")
	// ErrStdoutLimit: the process wrote more than ExecStdoutLimit bytes
	// to its standard output.
	ErrStdoutLimit = fmt.Errorf("wrote more than %d MiB to stdout", ExecStdoutLimit>>20)
)

func init() {
	register(&action{
		name: "exec",
		doc: "exec: [PROGRAM, ARG...] runs a process per item, without a shell: each element is a template giving exactly one argument. " +
			"Long form: {argv: [...], stdin: TEMPLATE, env: {NAME: TEMPLATE}, dir: TEMPLATE, timeout: DURATION, check: true}. " +
			"A non-zero exit (unless check: false) or a timeout fails the step; later steps see result.stdout, result.stderr, result.exit.",
		realWork: true,
		arg:      execArgSchema(),
		compile: func(c *compiler, st config.Step) Step {
			return c.execStep(st, false)
		},
	})
	register(&action{
		name: "shell",
		doc: "shell: SCRIPT runs /bin/sh -c SCRIPT per item. UNSAFE with untrusted items: an item pasted into the script can run any command; " +
			"prefer exec, or pass the item in env ({run: 'sha256sum \"$F\"', env: {F: \"${item}\"}}). " +
			"Long form: {run: SCRIPT, stdin, env, dir, timeout, check}, as exec.",
		realWork: true,
		arg:      shellArgSchema(),
		compile: func(c *compiler, st config.Step) Step {
			return c.execStep(st, true)
		},
	})
}

// execKeys are the keys of exec's long form (shell has `run` for `argv`).
var execKeys = []string{"argv", "stdin", "env", "dir", "timeout", "check"}

// envName is what an `env:` key of exec may be.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// execStep is a compiled exec or shell step.
type execStep struct {
	action  string      // "exec" or "shell"
	argv    []*Template // shell: /bin/sh, -c, then the script
	stdin   *Template   // nil: none
	envKeys []string
	envVals []*Template
	dir     *Template // nil: pcrun's working directory
	file    string    // the pipeline file: a relative dir is in its directory
	timeout *Duration // nil: none
	check   bool      // a non-zero exit fails the step
	pos     config.Pos
}

// execStep compiles `exec:` (shell false) or `shell:`. It returns nil
// after reporting a diagnostic.
func (c *compiler) execStep(st config.Step, shell bool) Step {
	s := &execStep{action: st.Action, check: true, pos: st.ActionPos, file: st.ActionPos.File}
	env := c.consumerEnv()
	main, ok := st.Arg, true // exec: the argv list; shell: the script
	if st.Arg.Kind == config.MapValue {
		if main, ok = c.execOptions(s, st.Arg, shell, env); main == nil {
			return nil
		}
	}
	if shell {
		ok = c.shellArgv(s, main, env) && ok
	} else {
		ok = c.execArgv(s, main, env) && ok
	}
	if !ok {
		return nil
	}
	return s
}

// execOptions compiles the long form of exec or shell into s, and returns
// the value of its main key (`argv`, or shell's `run`); nil, after
// reporting it, when that key is missing.
func (c *compiler) execOptions(s *execStep, arg *config.Value, shell bool, env *exprEnv) (*config.Value, bool) {
	keys := execKeys
	if shell {
		keys = append([]string{"run"}, execKeys[1:]...)
	}
	var main *config.Value
	ok := true
	for i, k := range arg.Keys {
		v := arg.Elems[i]
		switch k.Value {
		case keys[0]:
			main = v
		case "stdin":
			s.stdin = c.execScalar(v, env, s.action, "stdin")
			ok = s.stdin != nil && ok
		case "dir":
			s.dir = c.execScalar(v, env, s.action, "dir")
			ok = s.dir != nil && ok
		case "env":
			ok = c.execEnv(s, v, env) && ok
		case "timeout":
			ok = c.execTimeout(s, v) && ok
		case "check":
			ok = c.execCheck(s, v) && ok
		default:
			c.diags.Errorf(k.Pos, config.CodeUnknownField, config.DidYouMean(k.Value, keys), "unknown key `%s` in `%s`", k.Value, s.action)
			ok = false
		}
	}
	if main == nil {
		c.diags.Errorf(arg.Pos, config.CodeMissing, execExample(shell), "`%s` needs `%s`", s.action, keys[0])
		return nil, false
	}
	return main, ok
}

// execCheck compiles `check`: true or false.
func (c *compiler) execCheck(s *execStep, v *config.Value) bool {
	b, isBool := v.Const.(bool)
	s.check = b
	if v.Kind != config.ScalarValue || v.Str || !isBool {
		c.diags.Errorf(v.Pos, config.CodeType, "write check: true or check: false", "`check` must be true or false")
		return false
	}
	return true
}

// shellArgv compiles shell's script into the argv of /bin/sh -c SCRIPT.
func (c *compiler) shellArgv(s *execStep, main *config.Value, env *exprEnv) bool {
	if main.Kind != config.ScalarValue {
		c.diags.Errorf(main.Pos, config.CodeType, "write the script as one string, e.g. shell: 'tar czf \"$OUT\" \"$DIR\"'",
			"`shell` takes a script (a string), not a mapping or list")
		return false
	}
	script := c.execScalar(main, env, s.action, "the script")
	if script == nil {
		return false
	}
	c.shellItemWarning(main)
	s.argv = []*Template{constTemplate("/bin/sh", main.Pos), constTemplate("-c", main.Pos), script}
	return true
}

// execArgv compiles exec's list: the program, then its arguments, each a
// template.
func (c *compiler) execArgv(s *execStep, main *config.Value, env *exprEnv) bool {
	if main.Kind != config.ListValue {
		c.diags.Errorf(main.Pos, config.CodeType, execExample(false)+"; to run a command line through a shell, use `shell:`",
			"`exec` takes a list: the program, then its arguments")
		return false
	}
	if len(main.Elems) == 0 {
		c.diags.Errorf(main.Pos, config.CodeMissing, execExample(false), "`exec` needs a program to run: its list is empty")
		return false
	}
	ok := true
	for _, e := range main.Elems {
		t := c.execScalar(e, env, "exec", "an argument")
		ok = ok && t != nil
		s.argv = append(s.argv, t)
	}
	return ok
}

func execExample(shell bool) string {
	if shell {
		return "e.g. shell: {run: 'wc -l < \"$F\"', env: {F: \"${item}\"}}"
	}
	return "e.g. exec: [sha256sum, \"${item}\"]"
}

// execScalar compiles a template that must be one string (an argument,
// stdin, dir, an env value). It returns nil after reporting a diagnostic.
func (c *compiler) execScalar(v *config.Value, env *exprEnv, action, what string) *Template {
	if v.Kind != config.ScalarValue {
		c.diags.Errorf(v.Pos, config.CodeType, "quote it as one string template, e.g. \"${item}\"",
			"%s of `%s` must be one string, not a mapping or list", what, action)
		return nil
	}
	return c.compileTemplate(v, env)
}

func (c *compiler) execEnv(s *execStep, v *config.Value, env *exprEnv) bool {
	if v.Kind != config.MapValue {
		c.diags.Errorf(v.Pos, config.CodeType, "write env: {NAME: \"${item}\"}", "`env` of `%s` must be a mapping of names to values", s.action)
		return false
	}
	ok := true
	for i, k := range v.Keys {
		if !envName.MatchString(k.Value) {
			c.diags.Errorf(k.Pos, config.CodeBadName, "use letters, digits and _, not starting with a digit",
				"`%s` is not an environment variable name", k.Value)
			ok = false
			continue
		}
		t := c.execScalar(v.Elems[i], env, s.action, "a value in `env`")
		ok = ok && t != nil
		s.envKeys = append(s.envKeys, k.Value)
		s.envVals = append(s.envVals, t)
	}
	return ok
}

func (c *compiler) execTimeout(s *execStep, v *config.Value) bool {
	// Not c.duration: a timeout is no delay, and `pcrun test` keeps it.
	d := c.compileDuration(v, c.consumerEnv(), "timeout")
	if d == nil {
		return false
	}
	if x, ok := d.Const(); ok && x <= 0 {
		c.diags.Errorf(v.Pos, config.CodeDuration, "leave `timeout` out for no limit", "timeout must be longer than 0")
		return false
	}
	s.timeout = d
	return true
}

// shellItemWarning warns when a shell script pastes `item` into itself:
// an item holding `; rm -rf ~` would run it.
func (c *compiler) shellItemWarning(v *config.Value) {
	segs, err := scan(v.Text.Value)
	if err != nil {
		return
	}
	for _, sg := range segs {
		loc := itemName.FindStringIndex(sg.expr)
		if sg.isEx && loc != nil {
			line, col := lineCol(sg.expr, runeLen(sg.expr[:loc[1]-len("item")]))
			c.diags.Warnf(source{text: v.Text, line: sg.line, col: sg.col}.pos(line, col), config.CodeShellItem,
				"pass it in the environment instead: {run: 'echo \"$ITEM\"', env: {ITEM: \"${item}\"}}, or use exec",
				"the shell script pastes `item` into itself: an item such as `; rm -rf ~` runs as a command")
			return
		}
	}
}

var itemName = regexp.MustCompile(`(^|[^.\w$])item\b`)

// constTemplate is a template that is a constant string.
func constTemplate(s string, pos config.Pos) *Template {
	return &Template{kind: config.ScalarValue, value: s, pos: pos}
}

// Run renders the command for the worker's item, runs it through the
// worker's Effects and stores its result as `result`.
func (s *execStep) Run(ctx context.Context, w *ConsumerWorker) error {
	cmd, err := s.command(w)
	if err != nil {
		return err
	}
	res, err := w.fx.Exec(ctx, cmd)
	w.env.Result = res
	if err != nil && ctx.Err() != nil {
		return err // interrupted: the item is abandoned, not failed
	}
	return s.failure(cmd, res, err)
}

// command renders the command for the worker's item.
func (s *execStep) command(w *ConsumerWorker) (*Cmd, error) {
	cmd := &Cmd{Argv: make([]string, len(s.argv))}
	var err error
	for i, t := range s.argv {
		if cmd.Argv[i], err = t.String(&w.m, &w.env); err != nil {
			return nil, err
		}
	}
	if s.stdin != nil {
		in, err := s.stdin.String(&w.m, &w.env)
		if err != nil {
			return nil, err
		}
		cmd.Stdin = []byte(in)
	}
	for i, t := range s.envVals {
		v, err := t.String(&w.m, &w.env)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, s.envKeys[i]+"="+v)
	}
	if s.dir != nil {
		if cmd.Dir, err = s.dir.String(&w.m, &w.env); err != nil {
			return nil, err
		}
		cmd.Dir = besideFile(s.file, cmd.Dir)
	}
	if s.timeout != nil {
		if cmd.Timeout, err = s.timeout.Eval(&w.m, &w.env); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// failure is the step's error for a process that ran (or failed to) with
// result res and error err, not interrupted: nil when it succeeded.
func (s *execStep) failure(cmd *Cmd, res ExecResult, err error) error {
	name := s.action + " " + cmd.Argv[0]
	if s.action == "shell" {
		name = "shell"
	}
	switch {
	case errors.Is(err, ErrTimedOut):
		return &RuntimeError{Pos: s.pos, Msg: fmt.Sprintf("%s: timed out after %s%s", name, cmd.Timeout, tail(res.Stderr)), Err: err}
	case err != nil:
		return &RuntimeError{Pos: s.pos, Msg: fmt.Sprintf("%s: %v%s", name, err, tail(res.Stderr)), Err: err}
	case res.Signal != "" && s.check:
		return &RuntimeError{Pos: s.pos, Msg: fmt.Sprintf("%s: killed by signal %s%s", name, res.Signal, tail(res.Stderr))}
	case res.Exit != 0 && s.check:
		return &RuntimeError{Pos: s.pos, Msg: fmt.Sprintf("%s: exit status %d%s", name, res.Exit, tail(res.Stderr))}
	}
	return nil
}

// maxTail is how much of a failed process's stderr its error message shows.
const maxTail = 300

// tail is the end of stderr for an error message: ": " and its last
// lines, on one line.
func tail(stderr string) string {
	s := strings.TrimSpace(stderr)
	if s == "" {
		return ""
	}
	if len(s) > maxTail {
		s = "..." + strings.ToValidUTF8(s[len(s)-maxTail:], "")
	}
	return ": " + strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", "; ")
}

// ExecOutput turns what a process wrote into the Stdout or Stderr of an
// ExecResult: its trailing newlines removed, as the shell's $(...) does.
func ExecOutput(b []byte) string { return strings.TrimRight(string(b), "\r\n") }
