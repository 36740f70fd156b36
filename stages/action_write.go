package stages

import (
	"context"

	"github.com/pcrun/pcrun/config"
)

func init() {
	register(&action{
		name: "write",
		doc: "write: {path: PATH, line: TEMPLATE} appends the rendered line to the file at PATH (relative to the pipeline file; " +
			"a template of vars and env, evaluated once). Every worker writing one path shares one writer: whole lines, never interleaved, " +
			"flushed and synced when the run ends. A mapping or list as `line` is written as one JSON value per line.",
		realWork: true,
		arg:      writeArgSchema(),
		compile: func(c *compiler, st config.Step) Step {
			return c.writeStep(st)
		},
	})
}

// writeStep is a compiled write step.
type writeStep struct {
	path string // resolved: relative to the working directory, or absolute
	line *Template
}

// writeKeys are the keys of `write`.
var writeKeys = []string{"path", "line"}

func (c *compiler) writeStep(st config.Step) Step {
	arg := st.Arg
	if arg.Kind != config.MapValue {
		c.diags.Errorf(arg.Pos, config.CodeType, "e.g. write: {path: out.txt, line: \"${item}\"}",
			"`write` takes a mapping with `path` and `line`")
		return nil
	}
	s := &writeStep{}
	ok := true
	var pathV, lineV *config.Value
	for i, k := range arg.Keys {
		switch k.Value {
		case "path":
			pathV = arg.Elems[i]
		case "line":
			lineV = arg.Elems[i]
		default:
			c.diags.Errorf(k.Pos, config.CodeUnknownField, config.DidYouMean(k.Value, writeKeys), "unknown key `%s` in `write`", k.Value)
			ok = false
		}
	}
	for _, m := range []struct {
		v    *config.Value
		name string
	}{{pathV, "path"}, {lineV, "line"}} {
		if m.v == nil {
			c.diags.Errorf(arg.Pos, config.CodeMissing, "e.g. write: {path: out.txt, line: \"${item}\"}", "`write` needs `%s`", m.name)
			ok = false
		}
	}
	if pathV != nil {
		if path := c.writePath(pathV); path == "" {
			ok = false
		} else {
			s.path = besideFile(st.ActionPos.File, path)
		}
	}
	if lineV != nil {
		if s.line = c.compileTemplate(lineV, c.consumerEnv()); s.line == nil {
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return s
}

// writePath evaluates a write step's path, once: a template that sees
// vars and `env`, as a NATS queue's url does. It returns "" after
// reporting a diagnostic.
func (c *compiler) writePath(v *config.Value) string {
	if v.Kind != config.ScalarValue || !v.Str {
		c.diags.Errorf(v.Pos, config.CodeType, "e.g. path: out.txt", "`path` of `write` must be a file name")
		return ""
	}
	x, pos, msg, ok := c.evalOnce(v, "")
	if ok && Format(x) == "" {
		pos, msg, ok = v.Pos, "the path is empty", false
	}
	if !ok {
		if msg != "" {
			c.diags.Errorf(pos, config.CodeType, "the path is evaluated once, before the run, with vars and env", "`path` of `write`: %s", msg)
		}
		return ""
	}
	s := Format(x)
	return s
}

// Run renders the line and hands it to the run's writer of the path.
func (s *writeStep) Run(_ context.Context, w *ConsumerWorker) error {
	line, err := s.line.Append(w.m.buf[:0], &w.m, &w.env)
	w.m.keep(line)
	if err != nil {
		return err
	}
	if err := w.fx.Write(s.path, line); err != nil {
		return &RuntimeError{Pos: s.line.Pos(), Msg: "write " + s.path + ": " + err.Error(), Err: err}
	}
	return nil
}

// WritePaths lists the files the graph's write steps append to, each
// once, in file order (relative to the working directory, or absolute).
// The runner opens each before its workers start.
func (g *Graph) WritePaths() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range g.Consumers {
		for _, st := range c.steps {
			if ws, ok := st.(*writeStep); ok && !seen[ws.path] {
				seen[ws.path] = true
				out = append(out, ws.path)
			}
		}
	}
	return out
}

// RealWork lists the actions of the consumer's steps that act on the
// world outside pcrun (exec, shell, write, IO actions), each once, in step order: a
// simulated run must refuse a consumer that has any.
func (c *Consumer) RealWork() []string {
	var out []string
	for _, st := range c.steps {
		var name string
		switch s := st.(type) {
		case *execStep:
			name = s.action
		case *writeStep:
			name = "write"
		case *ioStep:
			name = s.a.Name
		default:
			continue
		}
		if len(out) == 0 || !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The argument shapes of exec, shell and write, for `pcrun schema`.
func execArgSchema() *config.Schema {
	long := execLongSchema("argv", &config.Schema{Type: "array", MinItems: ptrInt(1), Items: scalarSchema(),
		Description: "The program, then its arguments; each element is a template giving exactly one argument."})
	return &config.Schema{OneOf: []*config.Schema{
		{Type: "array", MinItems: ptrInt(1), Items: scalarSchema(), Description: "The program, then its arguments."},
		long,
	}}
}

func shellArgSchema() *config.Schema {
	return &config.Schema{OneOf: []*config.Schema{
		{Type: "string", Description: "The script, run by /bin/sh -c."},
		execLongSchema("run", &config.Schema{Type: "string", Description: "The script, run by /bin/sh -c."}),
	}}
}

func execLongSchema(main string, mainSchema *config.Schema) *config.Schema {
	return &config.Schema{
		Type: "object",
		Properties: config.Properties{
			{Name: main, Schema: mainSchema},
			{Name: "stdin", Schema: &config.Schema{Type: "string", Description: "A template: what the process reads on its standard input (default: nothing)."}},
			{Name: "env", Schema: &config.Schema{Type: "object", Description: "Variables added to pcrun's environment, each a template.",
				PropertyNames: &config.Schema{Pattern: `^[A-Za-z_][A-Za-z0-9_]*$`}, AdditionalProperties: scalarSchema()}},
			{Name: "dir", Schema: &config.Schema{Type: "string", Description: "A template: the working directory, relative to the pipeline file's (default: pcrun's)."}},
			{Name: "timeout", Schema: &config.Schema{Type: []string{"string", "number"}, Description: "How long the process may run before its process group is killed and the step fails; a duration or a template (default: no limit)."}},
			{Name: "check", Schema: &config.Schema{Type: "boolean", Default: true, Description: "Whether a non-zero exit fails the step; with false, later steps read result.exit."}},
		},
		Required:             []string{main},
		AdditionalProperties: false,
	}
}

func writeArgSchema() *config.Schema {
	return &config.Schema{
		Type: "object",
		Properties: config.Properties{
			{Name: "path", Schema: &config.Schema{Type: "string", Description: "The file lines are appended to, relative to the pipeline file's directory; a template of vars and env, evaluated once."}},
			{Name: "line", Schema: &config.Schema{Description: "A template for the line; a mapping or list is written as one JSON value."}},
		},
		Required:             []string{"path", "line"},
		AdditionalProperties: false,
	}
}

func scalarSchema() *config.Schema {
	return &config.Schema{Type: []string{"string", "number", "boolean"}}
}

func ptrInt(n int) *int { return &n }
