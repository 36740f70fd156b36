package stages

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/pcrun/pcrun/config"
)

// IOAction is a step action whose effect lies outside pcrun (a request to
// a service, a message on a bus): its argument is a mapping of templates,
// rendered for each item, and Do carries it out. Package effects holds
// them, one file each, registered with RegisterIO from the file's init. A
// simulation refuses a consumer with one, as it refuses exec and write.
type IOAction struct {
	// Name is the step's key in `do`.
	Name string
	// Doc is the one-line documentation `pcrun schema` and the docs show.
	Doc string
	// Fields are the keys of its mapping argument.
	Fields []IOField
	// Do carries the step out for one item. args holds each field the
	// file gives, rendered for the item: a string, or the value itself
	// when the template is exactly one ${...}. It blocks at most until
	// ctx ends (then it returns ctx's error: the item is abandoned, not
	// failed); any other error fails the item, with the step's position.
	// Workers call it concurrently. It sets no `result`.
	Do func(ctx context.Context, args map[string]any) error
}

// IOField is one key of an IOAction's argument.
type IOField struct {
	Name     string
	Doc      string
	Required bool
}

// compiling is set once the first graph compiles: the actions are read
// without a lock from then on.
var compiling atomic.Bool

// RegisterIO makes an IO step action known to the compiler, `validate`
// and `pcrun schema`. Call it from an init: it panics after a graph has
// been compiled, on a name already taken, and on an action without Do or
// fields.
func RegisterIO(a IOAction) {
	switch {
	case compiling.Load():
		panic("stages: RegisterIO(" + a.Name + ") after a graph was compiled: register from init")
	case actions[a.Name] != nil:
		panic("stages: step action `" + a.Name + "` registered twice")
	case a.Name == "" || a.Do == nil || len(a.Fields) == 0:
		panic("stages: IO action " + a.Name + " needs a name, fields and Do")
	}
	register(&action{name: a.Name, doc: a.Doc, realWork: true, arg: a.schema(),
		compile: func(c *compiler, st config.Step) Step { return c.ioStep(&a, st) }})
}

// schema is the JSON Schema of the action's argument.
func (a *IOAction) schema() *config.Schema {
	s := &config.Schema{Type: "object", AdditionalProperties: false}
	for _, f := range a.Fields {
		s.Properties = append(s.Properties, config.Property{Name: f.Name, Schema: &config.Schema{Description: f.Doc}})
		if f.Required {
			s.Required = append(s.Required, f.Name)
		}
	}
	return s
}

// ioStep is a compiled IO step.
type ioStep struct {
	a      *IOAction
	pos    config.Pos // the action's key
	names  []string   // the fields given, in file order
	fields []*Template
}

// ioStep compiles an IO step: a mapping of the action's fields, each a
// template of the consumer's names.
func (c *compiler) ioStep(a *IOAction, st config.Step) Step {
	arg := st.Arg
	example := fmt.Sprintf("e.g. %s: {%s: ...}", a.Name, a.Fields[0].Name)
	if arg.Kind != config.MapValue {
		c.diags.Errorf(arg.Pos, config.CodeType, example, "`%s` takes a mapping", a.Name)
		return nil
	}
	s := &ioStep{a: a, pos: st.ActionPos}
	given := map[string]bool{}
	ok := true
	for i, k := range arg.Keys {
		if !a.has(k.Value) {
			c.diags.Errorf(k.Pos, config.CodeUnknownField, config.DidYouMean(k.Value, a.names()), "unknown key `%s` in `%s`", k.Value, a.Name)
			ok = false
			continue
		}
		given[k.Value] = true
		t := c.compileTemplate(arg.Elems[i], c.consumerEnv())
		ok = ok && t != nil
		s.names, s.fields = append(s.names, k.Value), append(s.fields, t)
	}
	for _, f := range a.Fields {
		if f.Required && !given[f.Name] {
			c.diags.Errorf(arg.Pos, config.CodeMissing, example, "`%s` needs `%s`", a.Name, f.Name)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return s
}

func (a *IOAction) has(name string) bool {
	for _, f := range a.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

func (a *IOAction) names() []string {
	out := make([]string, len(a.Fields))
	for i, f := range a.Fields {
		out[i] = f.Name
	}
	return out
}

// Run renders the fields for the worker's item and carries the step out.
func (s *ioStep) Run(ctx context.Context, w *ConsumerWorker) error {
	args := make(map[string]any, len(s.names))
	for i, t := range s.fields {
		v, err := t.Eval(&w.m, &w.env)
		if err != nil {
			return err
		}
		args[s.names[i]] = v
	}
	if err := s.a.Do(ctx, args); err != nil {
		if ctx.Err() != nil {
			return err // interrupted: the item is abandoned, not failed
		}
		return &RuntimeError{Pos: s.pos, Msg: s.a.Name + ": " + err.Error(), Err: err}
	}
	return nil
}
