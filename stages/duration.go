package stages

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
)

// Duration is a compiled duration: a constant, or a template giving a
// duration, a Go duration string, or a number of seconds.
type Duration struct {
	d    time.Duration
	t    *Template
	pos  config.Pos
	zero bool // Options.NoDelays: Eval evaluates t for its errors, then gives 0
}

// duration compiles an optional duration value; nil means none.
func (c *compiler) duration(v *config.Value, env *exprEnv, what string) *Duration {
	if v == nil {
		return nil
	}
	d := c.compileDuration(v, env, what)
	if d != nil {
		d.zero = c.noDelays
	}
	return d
}

func (c *compiler) compileDuration(v *config.Value, env *exprEnv, what string) *Duration {
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

// Eval returns the duration for one item; 0 when compiled with
// Options.NoDelays, once the template (if any) has evaluated without error.
func (d *Duration) Eval(m *machine, env any) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if d.t == nil {
		if d.zero {
			return 0, nil
		}
		return d.d, nil
	}
	out, err := d.eval(m, env)
	if d.zero && err == nil {
		return 0, nil
	}
	return out, err
}

func (d *Duration) eval(m *machine, env any) (time.Duration, error) {
	v, err := d.t.Eval(m, env)
	if err != nil {
		return 0, err
	}
	var out time.Duration
	switch x := v.(type) {
	case time.Duration:
		out = x
	case int:
		return d.seconds(float64(x), x)
	case int64:
		return d.seconds(float64(x), x)
	case float64:
		return d.seconds(x, x)
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

// seconds converts a number of seconds, rejecting what a Duration cannot
// hold (about 292 years) instead of wrapping around.
func (d *Duration) seconds(x float64, shown any) (time.Duration, error) {
	if math.IsNaN(x) || math.Abs(x*float64(time.Second)) >= math.MaxInt64 {
		return 0, &RuntimeError{Pos: d.pos, Msg: fmt.Sprintf("duration %v is out of range", shown)}
	}
	out := time.Duration(x * float64(time.Second))
	if out < 0 {
		return 0, &RuntimeError{Pos: d.pos, Msg: fmt.Sprintf("duration %s is negative", out)}
	}
	return out, nil
}

// Const returns the duration as written when it does not depend on the
// item or the worker (no template); Options.NoDelays does not change it.
func (d *Duration) Const() (time.Duration, bool) {
	if d == nil {
		return 0, true
	}
	return d.d, d.t == nil
}
