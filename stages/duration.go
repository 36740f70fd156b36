package stages

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/pcrun/pcrun/config"
)

// Duration is a compiled duration: a constant, or a template giving a
// duration, a Go duration string, or a number of seconds.
type Duration struct {
	d   time.Duration
	t   *Template
	pos config.Pos
}

// duration compiles an optional duration value; nil means none.
func (c *compiler) duration(v *config.Value, env *exprEnv, what string) *Duration {
	if v == nil {
		return nil
	}
	if v.Kind != config.ScalarValue {
		c.diags.Errorf(v.Pos, config.CodeDuration, config.DurationHint, "%s must be a duration, not a mapping or list", what)
		return nil
	}
	if !v.Str {
		if n, ok := v.Const.(int); ok && n == 0 {
			return &Duration{pos: v.Pos}
		}
		c.diags.Errorf(v.Pos, config.CodeDuration, config.DurationHint+fmt.Sprintf("; for %s seconds write %ss", v.Text.Value, v.Text.Value),
			"%s %s has no unit", what, v.Text.Value)
		return nil
	}
	if !HasPlaceholder(v.Text.Value) {
		d, err := config.ParseDuration(strings.ReplaceAll(v.Text.Value, "$${", "${"))
		if err != nil {
			c.diags.Errorf(v.Pos, config.CodeDuration, config.DurationHint, "%s: %v", what, err)
			return nil
		}
		return &Duration{d: d, pos: v.Pos}
	}
	t := c.compileString(v.Text, env)
	if t == nil {
		return nil
	}
	return &Duration{t: t, pos: v.Pos}
}

// Eval returns the duration for one item.
func (d *Duration) Eval(m *vm.VM, env any) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if d.t == nil {
		return d.d, nil
	}
	v, err := d.t.Eval(m, env)
	if err != nil {
		return 0, err
	}
	var out time.Duration
	switch x := v.(type) {
	case time.Duration:
		out = x
	case int:
		out = time.Duration(x) * time.Second
	case int64:
		out = time.Duration(x) * time.Second
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x > math.MaxInt64/float64(time.Second) {
			return 0, &RuntimeError{Pos: d.pos, Msg: fmt.Sprintf("duration %v is out of range", x)}
		}
		out = time.Duration(x * float64(time.Second))
	case string:
		out, err = config.ParseDuration(x)
		if err != nil {
			return 0, &RuntimeError{Pos: d.pos, Msg: err.Error()}
		}
	default:
		return 0, &RuntimeError{Pos: d.pos, Msg: fmt.Sprintf("a duration template must give a duration, a number of seconds or a string like 250ms, not %s", Format(v))}
	}
	if out < 0 {
		return 0, &RuntimeError{Pos: d.pos, Msg: fmt.Sprintf("duration %s is negative", out)}
	}
	return out, nil
}
