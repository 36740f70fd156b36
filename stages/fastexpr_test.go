package stages

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"
	"pgregory.net/rapid"
)

// Tests of the direct evaluator (fastexpr.go) against expr's VM: whatever
// the expression and the environment, program.run with the fast path
// gives what the VM alone gives (the same Go type and value, bit for bit,
// or the same error), and where the fast path answers by itself, the VM
// succeeds with that very value.

// fastVars are the vars every expression here may use, as the loader
// decodes them (the YAML of a list var gives []any; an int64 does not come
// from YAML, but could from --set one day, and is not in the subset).
var fastVars = map[string]any{
	"n": 3, "f": 1.5, "s": "str", "b": true, "z": nil,
	"lst": []any{1, "a"}, "i64": int64(5),
}

// compileFor compiles code as an expression of a producer or consumer
// (sample ProducerEnv{} or ConsumerEnv{}) with fastVars. It returns nil
// when the expression does not compile.
func compileFor(sample any, code string) *program {
	c := &compiler{vars: fastVars}
	env := &exprEnv{sample: sample, names: consumerNames, vars: fastVars}
	if _, ok := sample.(ProducerEnv); ok {
		env.names = producerNames
	}
	return c.compile(code, source{}, env)
}

// fastItems are the items the tests put in `item`: every type the fast
// path handles, with edge values, and types it leaves to the VM.
func fastItems() []any {
	s := "pointed"
	return []any{
		"watermelon 12345", "", "é✓", "10", "m",
		0, 1, 7, -3, 255, 256, math.MaxInt, math.MinInt,
		0.0, math.Copysign(0, -1), 2.5, -1.5, math.NaN(), math.Inf(1),
		true, false, nil,
		[]any{1, "a"}, []any{}, map[string]any{"a": 1}, int64(5), uint8(3), float32(2.5), &s,
	}
}

// fastEnvs are the environments each expression is evaluated in: a
// consumer's (or producer's) pointer for every item and a few attempts,
// and one struct passed by value, which the fast path leaves to the VM.
func fastEnvs(sample any) []any {
	var envs []any
	for k, it := range fastItems() {
		attempt := []int{1, 2, 0, -4, math.MaxInt}[k%5]
		if _, ok := sample.(ProducerEnv); ok {
			envs = append(envs, &ProducerEnv{Name: "p", Replica: 1 + k%3, Worker: "p-1", I: attempt, Count: 4, Item: it})
			continue
		}
		envs = append(envs, &ConsumerEnv{Name: "c", Replica: 1 + k%3, Worker: "c-é", Item: it, Attempt: attempt})
	}
	if _, ok := sample.(ProducerEnv); ok {
		return append(envs, ProducerEnv{Name: "p", Replica: 1, Worker: "p", I: 3, Count: 4})
	}
	return append(envs, ConsumerEnv{Name: "c", Replica: 1, Worker: "c", Item: "by value", Attempt: 1})
}

// reporter is what checkFast needs of a *testing.T or a *rapid.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// checkFast evaluates p in env with and without its fast path and reports
// any difference. It returns whether the fast path answered by itself.
func checkFast(t reporter, p *program, env any) bool {
	t.Helper()
	var m vm.VM
	want, wantErr := vm.Run(p.prog, vmEnv(p, env))
	if p.fast != nil {
		if v, ok := p.fast(env); ok {
			if wantErr != nil {
				t.Errorf("%s with %s: fast path gives %#v, the VM fails: %v", p.code, describeEnv(env), v, wantErr)
			} else if !sameValue(v, want) {
				t.Errorf("%s with %s: fast path gives %T %#v, the VM %T %#v", p.code, describeEnv(env), v, v, want, want)
			}
		}
	}
	got, err := p.run(&m, env)
	slow := *p
	slow.fast = nil
	want, wantErr = slow.run(&m, env)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Errorf("%s with %s: run gives %#v, %v; the VM alone %#v, %v", p.code, describeEnv(env), got, err, want, wantErr)
	case err != nil && err.Error() != wantErr.Error():
		t.Errorf("%s with %s: run fails with %q; the VM alone with %q", p.code, describeEnv(env), err, wantErr)
	case err == nil && !sameValue(got, want):
		t.Errorf("%s with %s: run gives %T %#v; the VM alone %T %#v", p.code, describeEnv(env), got, got, want, want)
	}
	if p.fast == nil {
		return false
	}
	_, ok := p.fast(env)
	return ok
}

// vmEnv is the environment run passes to the VM.
func vmEnv(p *program, env any) any {
	if p.wholeEnv {
		return byValue(env)
	}
	return env
}

// sameValue reports whether a and b have the same type and value; floats
// must have the same bits (so NaN is itself and -0 is not 0). A NaN inside
// a struct (`$env`) is compared by how Go prints it.
func sameValue(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if x, ok := a.(float64); ok {
		return math.Float64bits(x) == math.Float64bits(b.(float64))
	}
	return reflect.DeepEqual(a, b) || fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func describeEnv(env any) string {
	switch e := env.(type) {
	case *ConsumerEnv:
		return fmt.Sprintf("item %s (%T), attempt %d", Quote(e.Item), e.Item, e.Attempt)
	case *ProducerEnv:
		return fmt.Sprintf("item %s (%T), i %d", Quote(e.Item), e.Item, e.I)
	}
	return fmt.Sprintf("%T by value", env)
}

// TestFastExprSubset: which expressions get a fast path, and that each,
// fast or not, evaluates as the VM does in every environment.
func TestFastExprSubset(t *testing.T) {
	tests := []struct {
		code string
		fast bool
	}{
		// The subset.
		{"len(item) > 0", true},
		{"len(item) == 0", true},
		{"len(item)", true},
		{"len(name) + len(worker)", true},
		{`len("é✓")`, true},
		{`item == "watermelon 12345"`, true},
		{`item != "x"`, true},
		{`"m" == item`, true},
		{"item == nil", true},
		{"nil != item", true},
		{"item == 1", true},
		{"item == 2.5", true},
		{"item == true", true},
		{"item == item", true},
		{"item > 3", true},
		{"item >= 2.5", true},
		{`item < "m"`, true},
		{`item <= "10"`, true},
		{"item + 1", true},
		{"item + 1.5", true},
		{`item + "!"`, true},
		{`"<" + item + ">"`, true},
		{"item - 1", true},
		{"item * 2", true},
		{"item * item", true},
		{"item / 2", true},
		{"item % 3", true},
		{"attempt % item", true},
		{"-item", true},
		{"+item", true},
		{"!item", true},
		{"not item", true},
		{"item && true", true}, // the optimizer makes this `item`
		{"item || attempt > 1", true},
		{"attempt > 1 && item", true},
		{`attempt > 1 || item == "retry"`, true},
		{"replica == 1", true},
		{"attempt % 2 == 0", true},
		{"attempt % 0", true},
		{"attempt * 1000000000000", true},
		{"9223372036854775807 + attempt", true},
		{"attempt - 5", true},
		{"attempt / 3", true},
		{"attempt / 0", true},
		{"-attempt", true},
		{"-1.5 * attempt", true},
		{"attempt == 1.0", true},
		{"attempt != 2", true},
		{"attempt < 1.5", true},
		{"1.5 >= attempt", true},
		{`name + "-" + worker`, true},
		{"name < worker", true},
		{"name == worker", true},
		{"n * 2 + attempt", true},
		{"s + item", true},
		{"f > item", true},
		{"z == item", true},
		{`b && item == "m"`, true},
		{"b == (attempt > 1)", true},
		{`attempt == 1 == (name == "c")`, true},
		{"true", true},
		{"1", true},
		{`"lit"`, true},
		{"nil", true},
		{"z", true},
		{"item", true},
		{"name", true},
		{"!(attempt > 1) || not (replica < 2)", true},
		// Outside the subset: the VM, always.
		{"item.x", false},
		{"item?.x", false},
		{"upper(name)", false},
		{`name contains "c"`, false},
		{`item in ["a", "b"]`, false},
		{`item matches "^w"`, false},
		{`item ?? "d"`, false},
		{`attempt > 1 ? "a" : "b"`, false},
		{"$env.item", false},
		{"$env", false},
		{`env["HOME"]`, false},
		{"lst[0]", false},
		{"lst", false},
		{"len(lst)", false},
		{"i64 + 1", false},
		{"let x = attempt; x + 1", false},
		{"2 ** attempt", false},
		{"string(attempt)", false},
		{"float(attempt) > 1", false},
		{"attempt..3", false},
	}
	for _, tt := range tests {
		p := compileFor(ConsumerEnv{}, tt.code)
		if p == nil {
			t.Errorf("%s does not compile", tt.code)
			continue
		}
		if got := p.fast != nil; got != tt.fast {
			t.Errorf("%s: fast path %v, want %v", tt.code, got, tt.fast)
		}
		for _, env := range fastEnvs(ConsumerEnv{}) {
			checkFast(t, p, env)
		}
	}
}

// TestFastExprProducer: the names of a producer's environment.
func TestFastExprProducer(t *testing.T) {
	for _, code := range []string{
		"i % 2 == 0", "i * 2 + 1", "count - i", `"n" + name + worker`, "i / count",
		"replica > 1 || i >= count", "len(worker)", "i", "count", "item == nil", "len(item) > 0",
	} {
		p := compileFor(ProducerEnv{}, code)
		if p == nil || p.fast == nil {
			t.Errorf("%s: no fast path", code)
			continue
		}
		for _, env := range fastEnvs(ProducerEnv{}) {
			checkFast(t, p, env)
		}
	}
}

// TestFastExprGivesUp: the fast path answers for the values it handles
// and leaves the others (and every error) to the VM.
func TestFastExprGivesUp(t *testing.T) {
	tests := []struct {
		code   string
		item   any
		fast   bool // the fast path answers
		want   any  // what run gives
		errMsg string
	}{
		{"len(item) > 0", "watermelon", true, true, ""},
		{"len(item)", "é✓", true, 2, ""}, // runes, not bytes
		{"len(item) > 0", []any{1}, false, true, ""},
		{"len(item)", map[string]any{}, false, 0, ""},
		{"len(item)", 5, false, nil, "invalid argument for len (type int)"},
		{"item % 4", 7, true, 3, ""},
		{"attempt % item", 0, false, nil, "integer divide by zero"},
		{"item / 2", 3, true, 1.5, ""},
		{"item + 1", int64(1), false, 2, ""},
		{"item + 1", 1.5, true, 2.5, ""},
		{`item + "!"`, "a", true, "a!", ""},
		{`item + "!"`, 1, false, nil, "invalid operation: int + string"},
		{"!item", "x", false, nil, "interface conversion"},
		{"item < 1", "a", false, nil, "invalid operation: string < int"},
		{`item == "x"`, []any{}, false, false, ""},
		{"item == 1", "1", true, false, ""},
		{"item == nil", nil, true, true, ""},
		{"attempt > 0 && item", "x", false, "x", ""}, // the VM gives the string
		{"-item", "x", false, nil, "invalid operation: - string"},
	}
	for _, tt := range tests {
		p := compileFor(ConsumerEnv{}, tt.code)
		if p == nil || p.fast == nil {
			t.Errorf("%s: no fast path", tt.code)
			continue
		}
		env := &ConsumerEnv{Name: "c", Replica: 1, Worker: "c", Item: tt.item, Attempt: 1}
		if _, ok := p.fast(env); ok != tt.fast {
			t.Errorf("%s with item %#v: fast path answers %v, want %v", tt.code, tt.item, ok, tt.fast)
		}
		var m vm.VM
		got, err := p.run(&m, env)
		switch {
		case tt.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.errMsg)):
			t.Errorf("%s with item %#v: error %v, want one containing %q", tt.code, tt.item, err, tt.errMsg)
		case tt.errMsg == "" && (err != nil || !sameValue(got, tt.want)):
			t.Errorf("%s with item %#v: %T %#v, %v; want %T %#v", tt.code, tt.item, got, got, err, tt.want, tt.want)
		}
		checkFast(t, p, env)
	}
}

// fastLeaves are the operands of generated expressions: names, vars and
// literals of every class, edge values included.
var fastLeaves = []string{
	"item", "item", "item", "attempt", "replica", "name", "worker",
	"n", "f", "s", "b", "z", "lst", "i64",
	"0", "1", "2", "7", "255", "256", "9223372036854775807", "0.5", "2.5", "1e308", "0.0",
	`""`, `"a"`, `"m"`, `"é✓"`, `"10"`, "true", "false", "nil",
}

// fastBinary are the binary operators of generated expressions, the
// subset's and a few others.
var fastBinary = []string{
	"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "&&", "||", "and", "or",
	"??", "in", "contains", "**",
}

// genFastExpr generates expressions of the subset and around it, up to
// depth operators deep.
func genFastExpr(depth int) *rapid.Generator[string] {
	leaf := rapid.SampledFrom(fastLeaves)
	if depth == 0 {
		return leaf
	}
	sub := genFastExpr(depth - 1)
	return rapid.OneOf(
		leaf,
		rapid.Custom(func(t *rapid.T) string {
			return "(" + sub.Draw(t, "l") + " " + rapid.SampledFrom(fastBinary).Draw(t, "op") + " " + sub.Draw(t, "r") + ")"
		}),
		rapid.Custom(func(t *rapid.T) string {
			return rapid.SampledFrom([]string{"-", "+", "!", "not ", "len", "upper"}).Draw(t, "fn") + "(" + sub.Draw(t, "x") + ")"
		}),
		rapid.Custom(func(t *rapid.T) string {
			return "(" + sub.Draw(t, "c") + " ? " + sub.Draw(t, "a") + " : " + sub.Draw(t, "b") + ")"
		}),
	)
}

// TestFastExprRandom: random expressions over the subset (and a little
// beyond it) evaluate as the VM evaluates them, in every environment.
func TestFastExprRandom(t *testing.T) {
	var compiled, fast, answered, evals int
	rapid.Check(t, func(rt *rapid.T) {
		for _, code := range rapid.SliceOfN(genFastExpr(3), 10, 10).Draw(rt, "codes") {
			p := compileFor(ConsumerEnv{}, code)
			if p == nil {
				continue // the checker refused it
			}
			compiled++
			if p.fast != nil {
				fast++
			}
			for _, env := range fastEnvs(ConsumerEnv{}) {
				evals++
				if checkFast(rt, p, env) {
					answered++
				}
			}
		}
	})
	t.Logf("%d expressions compiled, %d with a fast path; it answered %d of %d evaluations", compiled, fast, answered, evals)
	if fast == 0 || answered == 0 {
		t.Errorf("the generator never reached the fast path")
	}
}

// FuzzFastExpr: any expression that compiles evaluates with the fast path
// as it does on the VM alone, in every environment.
func FuzzFastExpr(f *testing.F) {
	for _, s := range []string{
		"len(item) > 0", `item == "x" || attempt > 1`, "item % 3 == attempt", "-item * 2 + 1.5",
		`"<" + item + ">"`, "!(item > 1) && not (item < 1)", "attempt / 0", "attempt % item",
		"len(name) <= len(worker)", `item ?? "d"`, "9223372036854775807 + attempt", "n * f - item",
		"item == nil != (z == item)", `len("é") + len(s)`, "+item", "replica == 1 and b or false",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if len(code) > 256 {
			t.Skip("longer than the expressions this is about")
		}
		for _, sample := range []any{ConsumerEnv{}, ProducerEnv{}} {
			p := compileFor(sample, code)
			if p == nil {
				continue
			}
			for _, env := range fastEnvs(sample) {
				checkFast(t, p, env)
			}
		}
	})
}
