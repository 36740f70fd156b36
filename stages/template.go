package stages

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/pcrun/pcrun/config"
)

// Template is a compiled template: a string with ${ expr } placeholders, a
// constant, or a map or list of templates (from a YAML mapping or list).
// A string that is exactly one placeholder keeps the expression's type.
// Templates are immutable and safe to share; evaluation needs the worker's VM.
type Template struct {
	parts  []part           // string templates, as written
	plan   []part           // how parts are rendered: see compilePlan
	single *program         // exactly one placeholder: keep its type
	name   field            // single is a bare name of the worker's environment
	value  any              // constant (when parts, single, keys and elems are empty)
	keys   []string         // maps
	elems  []*Template      // map values or list elements
	kind   config.ValueKind // shape
	pos    config.Pos
}

// part is literal text or a placeholder. In a plan, a placeholder that is
// a bare name of the worker's environment (`${i}`, `${item}`) is read
// directly (name), without the VM.
type part struct {
	lit  string
	prog *program
	name field
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
		t.name = fieldOf(env.sample, t.single)
	case len(t.parts) == 1:
		t.value, t.parts = t.parts[0].lit, nil
	default:
		t.plan = compilePlan(t.parts, env)
	}
	return t
}

// compilePlan prepares a string template's parts for rendering, once:
// a placeholder whose expression is a constant (a var, a literal) becomes
// text, adjacent texts are joined, and a placeholder that is a bare name
// of the environment is read from it directly.
func compilePlan(parts []part, env *exprEnv) []part {
	var plan []part
	for _, p := range parts {
		if p.prog != nil {
			if v, ok := constantOf(p.prog); ok {
				p = part{lit: Format(v)}
			} else {
				p.name = fieldOf(env.sample, p.prog)
			}
		}
		if n := len(plan); p.prog == nil && n > 0 && plan[n-1].prog == nil {
			plan[n-1].lit += p.lit
			continue
		}
		plan = append(plan, p)
	}
	return plan
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

// Eval evaluates the template on a worker's machine, with the worker's
// environment (a *ProducerEnv or *ConsumerEnv: a pointer, so that passing
// it to the VM copies nothing).
func (t *Template) Eval(m *machine, env any) (any, error) {
	switch {
	case t.single != nil:
		if t.name != noField {
			if v, ok := t.name.value(env); ok {
				return v, nil
			}
		}
		return t.single.run(&m.vm, env)
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
func (t *Template) String(m *machine, env any) (string, error) {
	if t.parts != nil {
		return t.render(m, env)
	}
	v, err := t.Eval(m, env)
	if err != nil {
		return "", err
	}
	return Format(v), nil
}

// render formats the plan's parts into the machine's scratch buffer and
// copies the result out: one allocation, of the string's exact size.
func (t *Template) render(m *machine, env any) (string, error) {
	if len(t.plan) == 1 && t.plan[0].prog == nil {
		return t.plan[0].lit, nil // every placeholder was a constant
	}
	b, err := t.appendPlan(m.buf[:0], m, env)
	if err != nil {
		return "", err
	}
	s := string(b)
	m.keep(b)
	return s, nil
}

// Append evaluates the template and appends its text (as String gives
// it) to dst. Rendering a string template this way allocates nothing.
// dst may be the machine's scratch buffer only when it is empty (evaluating
// a map or list renders its strings there).
func (t *Template) Append(dst []byte, m *machine, env any) ([]byte, error) {
	if t.parts != nil {
		return t.appendPlan(dst, m, env)
	}
	v, err := t.Eval(m, env)
	if err != nil {
		return dst, err
	}
	return appendFormat(dst, v), nil
}

// appendPlan appends the plan's parts, formatted, to b.
func (t *Template) appendPlan(b []byte, m *machine, env any) ([]byte, error) {
	for _, p := range t.plan {
		if p.prog == nil {
			b = append(b, p.lit...)
			continue
		}
		if p.name != noField {
			if nb, ok := p.name.appendTo(b, env); ok {
				b = nb
				continue
			}
		}
		v, err := p.prog.run(&m.vm, env)
		if err != nil {
			return b, err
		}
		b = appendFormat(b, v)
	}
	return b, nil
}

// maxScratch bounds the scratch buffer a machine keeps between items.
const maxScratch = 64 << 10

// machine is what one worker evaluates with: its expr VM, reused for
// every expression it runs, and a scratch buffer for rendering strings.
// It belongs to one goroutine.
type machine struct {
	vm  vm.VM
	buf []byte
}

// keep makes b, grown from m.buf, the scratch buffer for the next item,
// unless it has grown past maxScratch.
func (m *machine) keep(b []byte) {
	if cap(b) <= maxScratch {
		m.buf = b[:0]
	}
}

// appendFormat appends v as Format shows it.
func appendFormat(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(b, x...)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	}
	return append(b, Format(v)...)
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
