package stages

import (
	"fmt"
	"math"
	"reflect"

	"github.com/pcrun/pcrun/config"
)

// A producer's `count` and a stage's `replicas` are integers, or templates
// of vars and env ("${workers}", "${n * 2}") evaluated here, once, like a
// NATS queue's url: every later reader (hazards, graph, run, sim, spill,
// progress) sees the compiled Producer and Consumer, never the config.

// replicas evaluates a stage's replicas template; it returns st.Replicas
// for a number, and after reporting a problem.
func (c *compiler) replicas(st *config.Stage) int {
	if st.ReplicasTemplate == nil {
		return st.Replicas
	}
	n, ok := c.constInt(st.ReplicasTemplate, "replicas")
	if !ok {
		return st.Replicas
	}
	if msg, hint := config.ReplicasProblem(n); msg != "" {
		c.diags.Errorf(st.ReplicasTemplate.Pos, config.CodeRange, hint, "%s", msg)
		return st.Replicas
	}
	return n
}

// count evaluates a producer's count template; it returns p.Count for a
// number, and after reporting a problem.
func (c *compiler) count(p *config.Producer) int {
	if p.CountTemplate == nil {
		return p.Count
	}
	n, ok := c.constInt(p.CountTemplate, "count")
	msg, hint := config.CountProblem(n)
	if ok && msg != "" {
		c.diags.Errorf(p.CountTemplate.Pos, config.CodeRange, hint, "%s", msg)
	}
	if !ok || msg != "" {
		c.badCount[p.Name] = true
		return p.Count
	}
	return n
}

// evalOnce compiles and evaluates a template that is evaluated once,
// before the run, seeing vars and `env` only: a queue's url, a write
// step's path, a templated count or replicas. noItem, when not empty,
// says why `item` is not there. A compile problem is reported and gives
// ok false with a zero errPos; a failed evaluation gives ok false with
// where in the file it failed and why, for the caller to report.
func (c *compiler) evalOnce(v *config.Value, noItem string) (x any, errPos config.Pos, errMsg string, ok bool) {
	t := c.compileString(v.Text, &exprEnv{sample: QueueEnv{}, names: queueNames, vars: c.vars, noItem: noItem})
	if t == nil {
		return nil, config.Pos{}, "", false
	}
	var m machine
	x, err := t.Eval(&m, QueueEnv{Env: c.env})
	if err != nil {
		pos, msg := v.Pos, err.Error()
		if re, ok := err.(*RuntimeError); ok {
			pos, msg = re.Pos, re.Msg
		}
		return nil, pos, msg, false
	}
	return x, config.Pos{}, "", true
}

// constInt evaluates a template that sees vars and `env` and must give an
// integer. It returns false after reporting a diagnostic.
func (c *compiler) constInt(v *config.Value, what string) (int, bool) {
	x, pos, msg, ok := c.evalOnce(v, "`"+what+"` is evaluated once, before the run: it sees vars and `env`, not `item`")
	if !ok {
		if msg != "" {
			c.diags.Errorf(pos, config.CodeType, "it is evaluated once, before the run, with vars and env", "%s: %s", what, msg)
		}
		return 0, false
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n := rv.Int(); int64(int(n)) == n {
			return int(n), true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n := rv.Uint(); n <= math.MaxInt {
			return int(n), true
		}
	}
	hint := "make the template give a whole number, e.g. \"${int(n / 2)}\""
	if _, ok := x.(string); ok {
		hint = "write the template as exactly one ${...} giving a number; convert text with int(), e.g. \"${int(env.WORKERS)}\""
	}
	c.diags.Errorf(v.Pos, config.CodeType, hint, "%s must be an integer; the template gives %s", what, describeValue(x))
	return 0, false
}

// describeValue names a value for messages: `the string "5"`, `the number 2.5`.
func describeValue(x any) string {
	switch x := x.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("the string %q", x)
	case float32, float64, int, int64, uint64:
		return "the number " + Format(x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	}
	switch reflect.TypeOf(x).Kind() {
	case reflect.Map:
		return "a map"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return fmt.Sprintf("a %T", x)
}
