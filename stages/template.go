package stages

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/pcrun/pcrun/config"
)

// Template is a compiled template: a string with ${ expr } placeholders, a
// constant, or a map or list of templates (from a YAML mapping or list).
// A string that is exactly one placeholder keeps the expression's type.
// Templates are immutable and safe to share; evaluation needs the worker's VM.
type Template struct {
	parts  []part           // string templates
	single *program         // exactly one placeholder: keep its type
	value  any              // constant (when parts, single, keys and elems are empty)
	keys   []string         // maps
	elems  []*Template      // map values or list elements
	kind   config.ValueKind // shape
	pos    config.Pos
}

type part struct {
	lit  string
	prog *program
}

// compileTemplate compiles a Value. It returns nil after reporting a
// diagnostic.
func (c *compiler) compileTemplate(v *config.Value, env *exprEnv) *Template {
	if v == nil {
		return nil
	}
	t := &Template{kind: v.Kind, pos: v.Pos}
	switch v.Kind {
	case config.MapValue:
		ok := true
		for i, k := range v.Keys {
			e := c.compileTemplate(v.Elems[i], env)
			ok = ok && e != nil
			t.keys = append(t.keys, k.Value)
			t.elems = append(t.elems, e)
		}
		if !ok {
			return nil
		}
		return t
	case config.ListValue:
		ok := true
		for _, ev := range v.Elems {
			e := c.compileTemplate(ev, env)
			ok = ok && e != nil
			t.elems = append(t.elems, e)
		}
		if !ok {
			return nil
		}
		return t
	}
	if !v.Str {
		t.value = v.Const
		return t
	}
	return c.compileString(v.Text, env)
}

// compileString compiles a string template.
func (c *compiler) compileString(text config.Text, env *exprEnv) *Template {
	t := &Template{kind: config.ScalarValue, pos: text.Pos}
	segs, err := scan(text.Value)
	if err != nil {
		se := err.(*ScanError)
		c.diags.Errorf(text.At(se.Line, se.Col), config.CodeTemplate, "close it with `}`, or write `$${` for a literal `${`", "%s", se.Msg)
		return nil
	}
	ok := true
	for _, sg := range segs {
		if !sg.isEx {
			t.parts = append(t.parts, part{lit: sg.lit})
			continue
		}
		p := c.compile(sg.expr, source{text: text, line: sg.line, col: sg.col}, env)
		ok = ok && p != nil
		t.parts = append(t.parts, part{prog: p})
	}
	if !ok {
		return nil
	}
	switch {
	case len(t.parts) == 0:
		t.value, t.parts = "", nil
	case len(t.parts) == 1 && t.parts[0].prog != nil:
		t.single, t.parts = t.parts[0].prog, nil
	case len(t.parts) == 1:
		t.value, t.parts = t.parts[0].lit, nil
	}
	return t
}

// IsConst reports whether the template needs no evaluation.
func (t *Template) IsConst() bool {
	if t.single != nil || t.parts != nil {
		return false
	}
	for _, e := range t.elems {
		if !e.IsConst() {
			return false
		}
	}
	return true
}

// Pos is where the template is written.
func (t *Template) Pos() config.Pos { return t.pos }

// Eval evaluates the template with the worker's VM and environment.
func (t *Template) Eval(m *vm.VM, env any) (any, error) {
	switch {
	case t.single != nil:
		return t.single.run(m, env)
	case t.parts != nil:
		return t.render(m, env)
	case t.kind == config.MapValue:
		out := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			v, err := t.elems[i].Eval(m, env)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case t.kind == config.ListValue:
		out := make([]any, len(t.elems))
		for i, e := range t.elems {
			v, err := e.Eval(m, env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return t.value, nil
}

// String evaluates the template and formats the result as text.
func (t *Template) String(m *vm.VM, env any) (string, error) {
	if t.parts != nil {
		return t.render(m, env)
	}
	v, err := t.Eval(m, env)
	if err != nil {
		return "", err
	}
	return Format(v), nil
}

func (t *Template) render(m *vm.VM, env any) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.prog.run(m, env)
		if err != nil {
			return "", err
		}
		b.WriteString(Format(v))
	}
	return b.String(), nil
}

// Format turns a value into text the way templates and print show it:
// strings as they are, numbers in their shortest form, durations as Go
// writes them, nil as null, and maps and lists as JSON.
func Format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	case time.Duration:
		return x.String()
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

func itoa(i int) string { return strconv.Itoa(i) }

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
