package stages

import (
	"reflect"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// The direct evaluator. expr's VM reads the environment through reflection
// and boxes every value it pushes; for the conditions and placeholders most
// files write (`len(item) > 0`, `i % 2 == 0`, `name + "-" + worker`) that is
// most of what evaluating them costs. So compile also translates a
// program's checked and optimized tree (the one the VM's bytecode was
// compiled from) into Go closures, when every node of it is in a small
// subset whose meaning is certain:
//
//   - names of the worker's environment (`item`, `i`, `name`, ...);
//   - literals, and vars (varPatcher made them constants), that are ints,
//     floats, strings, bools or nil;
//   - len of a string; == != < <= > >= + - * / % && || ! not, unary - and +.
//
// Each closure does what the VM's opcodes do to the same values (expr's
// vm/runtime Equal, Less, Add, Modulo, ... in the expr of go.mod, v1.17):
// two ints give an int, with Go's wrapping arithmetic; an int meeting a
// float becomes a float64; `/` always gives a float64; len counts runes,
// not bytes; `&&` and `||` stop early. A value only the run knows (`item`
// is `any`) is handled when its dynamic type is int, float64, string, bool
// or nil. For anything else (an item that is a list or an int64, a
// division by zero, a `!` on a string) the closure gives up, and
// program.run evaluates the VM program instead, on the same environment:
// the subset has no side effects, so starting again is safe. A closure
// never fails by itself: every error, and its message, still comes from
// expr. fastexpr_test.go compares both ways on many expressions and
// values; run it again after upgrading expr.

// eval evaluates a translated node on a worker's environment (a
// *ProducerEnv or *ConsumerEnv). ok is false when the fast path cannot
// tell the result, and the VM must.
type eval[T any] func(env any) (v T, ok bool)

// class is what the translation knows about a node's values: their Go
// type, or classAny when only the run can tell (item, nil).
type class uint8

const (
	classAny class = iota
	classInt
	classFloat
	classString
	classBool
)

// classOf returns the class whose Go type has kind k, and classAny for
// kinds the subset has no class for.
func classOf(k reflect.Kind) class {
	switch k {
	case reflect.Int:
		return classInt
	case reflect.Float64:
		return classFloat
	case reflect.String:
		return classString
	case reflect.Bool:
		return classBool
	}
	return classAny
}

// fnode is a translated node: its class and the closure of that class. a
// is also set for constants, to their value boxed once, so that comparing
// item with a literal boxes nothing per item.
type fnode struct {
	class class
	i     eval[int]
	f     eval[float64]
	s     eval[string]
	b     eval[bool]
	a     eval[any]
}

// fop is a binary operator other than && and ||.
type fop uint8

const (
	opEq fop = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
)

var binaryOps = map[string]fop{
	"==": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
	"+": opAdd, "-": opSub, "*": opMul, "/": opDiv, "%": opMod,
}

// fastOf translates a compiled program for the environment sample
// (ProducerEnv{} or ConsumerEnv{}). It returns nil when some node is
// outside the subset: then the program always runs on the VM.
func fastOf(sample any, prog *vm.Program) eval[any] {
	n, ok := translate(sample, prog.Node())
	if !ok {
		return nil
	}
	return n.boxed()
}

// translate translates one node and the nodes under it.
func translate(sample any, node ast.Node) (fnode, bool) {
	n, ok := translateNode(sample, node)
	if !ok {
		return fnode{}, false
	}
	// Where both the checker and the translation name a Go type, they
	// must agree. They do for every tree this file knows; a disagreement
	// means a tree it does not (from a new optimizer pass or checker rule,
	// say), and then the VM decides.
	if k := node.Type().Kind(); k != reflect.Interface && n.class != classAny && classOf(k) != n.class {
		return fnode{}, false
	}
	return n, true
}

func translateNode(sample any, node ast.Node) (fnode, bool) {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		return envField(sample, n.Value) // `$env` and `env` are not fields here
	case *ast.UnaryNode, *ast.BinaryNode, *ast.BuiltinNode:
		return translateOp(sample, node)
	}
	return translateLiteral(node)
}

// translateLiteral translates a literal, a var, or a value the optimizer
// folded.
func translateLiteral(node ast.Node) (fnode, bool) {
	switch n := node.(type) {
	case *ast.IntegerNode:
		// The compiler pushes an integer literal converted to the type the
		// checker gave it (a float64 argument, an int8 field): only a
		// plain int is certain.
		if n.Type().Kind() != reflect.Int {
			return fnode{}, false
		}
		return constant(n.Value)
	case *ast.FloatNode:
		if n.Type().Kind() != reflect.Float64 {
			return fnode{}, false // a float32
		}
		return constant(n.Value)
	case *ast.StringNode:
		return constant(n.Value)
	case *ast.BoolNode:
		return constant(n.Value)
	case *ast.NilNode:
		return constant(nil)
	case *ast.ConstantNode:
		return constant(n.Value) // a var, or a value the optimizer folded
	}
	return fnode{}, false
}

// translateOp translates an operator, or len, and its operands.
func translateOp(sample any, node ast.Node) (fnode, bool) {
	switch n := node.(type) {
	case *ast.UnaryNode:
		x, ok := translate(sample, n.Node)
		if !ok {
			return fnode{}, false
		}
		return unaryOp(n.Operator, x)
	case *ast.BinaryNode:
		l, ok := translate(sample, n.Left)
		if !ok {
			return fnode{}, false
		}
		r, ok := translate(sample, n.Right)
		if !ok {
			return fnode{}, false
		}
		return binaryOp(n.Operator, l, r)
	case *ast.BuiltinNode:
		if n.Name != "len" || len(n.Arguments) != 1 {
			return fnode{}, false
		}
		x, ok := translate(sample, n.Arguments[0])
		if !ok {
			return fnode{}, false
		}
		return length(x)
	}
	return fnode{}, false
}

// constant translates a literal or a var. Other values (lists, maps, the
// int64 of a huge YAML number) are left to the VM.
func constant(v any) (fnode, bool) {
	boxed := func(any) (any, bool) { return v, true }
	switch x := v.(type) {
	case int:
		return fnode{class: classInt, i: func(any) (int, bool) { return x, true }, a: boxed}, true
	case float64:
		return fnode{class: classFloat, f: func(any) (float64, bool) { return x, true }, a: boxed}, true
	case string:
		return fnode{class: classString, s: func(any) (string, bool) { return x, true }, a: boxed}, true
	case bool:
		return fnode{class: classBool, b: func(any) (bool, bool) { return x, true }, a: boxed}, true
	case nil:
		return fnode{class: classAny, a: boxed}, true
	}
	return fnode{}, false
}

// envField translates a name of the worker's environment. The closures
// read the struct behind the pointer the worker passes, and give up on
// anything else (a test passing the struct by value, say).
func envField(sample any, name string) (fnode, bool) {
	switch sample.(type) {
	case ProducerEnv:
		switch producerFields[name] {
		case fieldName:
			return fnode{class: classString, s: read(func(e *ProducerEnv) string { return e.Name })}, true
		case fieldReplica:
			return fnode{class: classInt, i: read(func(e *ProducerEnv) int { return e.Replica })}, true
		case fieldWorker:
			return fnode{class: classString, s: read(func(e *ProducerEnv) string { return e.Worker })}, true
		case fieldI:
			return fnode{class: classInt, i: read(func(e *ProducerEnv) int { return e.I })}, true
		case fieldCount:
			return fnode{class: classInt, i: read(func(e *ProducerEnv) int { return e.Count })}, true
		case fieldItem:
			return fnode{class: classAny, a: read(func(e *ProducerEnv) any { return e.Item })}, true
		case fieldLine:
			return fnode{class: classAny, a: read(func(e *ProducerEnv) any { return e.Line })}, true
		}
	case ConsumerEnv:
		switch consumerFields[name] {
		case fieldName:
			return fnode{class: classString, s: read(func(e *ConsumerEnv) string { return e.Name })}, true
		case fieldReplica:
			return fnode{class: classInt, i: read(func(e *ConsumerEnv) int { return e.Replica })}, true
		case fieldWorker:
			return fnode{class: classString, s: read(func(e *ConsumerEnv) string { return e.Worker })}, true
		case fieldItem:
			return fnode{class: classAny, a: read(func(e *ConsumerEnv) any { return e.Item })}, true
		case fieldAttempt:
			return fnode{class: classInt, i: read(func(e *ConsumerEnv) int { return e.Attempt })}, true
		}
	}
	return fnode{}, false
}

// read makes the closure that reads one field of an environment *E.
func read[E, T any](get func(*E) T) eval[T] {
	return func(env any) (T, bool) {
		e, ok := env.(*E)
		if !ok {
			var zero T
			return zero, false
		}
		return get(e), true
	}
}

// unaryOp translates `!`, `not`, `-` and `+`.
func unaryOp(op string, x fnode) (fnode, bool) {
	switch op {
	case "!", "not":
		if b := x.bools(); b != nil {
			return fnode{class: classBool, b: func(env any) (bool, bool) {
				v, ok := b(env)
				return !v, ok
			}}, true
		}
	case "-":
		return negate(x)
	case "+":
		return plus(x)
	}
	return fnode{}, false
}

// negate translates a unary minus.
func negate(x fnode) (fnode, bool) {
	switch x.class {
	case classInt:
		return fnode{class: classInt, i: func(env any) (int, bool) {
			v, ok := x.i(env)
			return -v, ok
		}}, true
	case classFloat:
		return fnode{class: classFloat, f: func(env any) (float64, bool) {
			v, ok := x.f(env)
			return -v, ok
		}}, true
	case classAny:
		return fnode{class: classAny, a: func(env any) (any, bool) {
			v, ok := x.a(env)
			if !ok {
				return nil, false
			}
			switch v := v.(type) {
			case int:
				return -v, true
			case float64:
				return -v, true
			}
			return nil, false
		}}, true
	}
	return fnode{}, false
}

// plus translates a unary plus. The VM does nothing for it (but
// dereference a pointer, which no value handled here is).
func plus(x fnode) (fnode, bool) {
	switch x.class {
	case classInt, classFloat:
		return x, true
	case classAny:
		return fnode{class: classAny, a: func(env any) (any, bool) {
			v, ok := x.a(env)
			if !ok || !handled(v) {
				return nil, false
			}
			return v, true
		}}, true
	}
	return fnode{}, false
}

// binaryOp translates a binary operator applied to l and r.
func binaryOp(op string, l, r fnode) (fnode, bool) {
	switch op {
	case "&&", "and":
		return logic(false, l, r)
	case "||", "or":
		return logic(true, l, r)
	}
	o, ok := binaryOps[op]
	switch {
	case !ok:
		return fnode{}, false
	case l.class == classAny || r.class == classAny:
		return dynamic(o, l.boxed(), r.boxed())
	}
	return typedOp(o, l, r)
}

// typedOp translates operator o applied to l and r, whose types the
// checker knows.
func typedOp(o fop, l, r fnode) (fnode, bool) {
	switch {
	case l.class == classInt && r.class == classInt:
		return intOp(o, l.i, r.i)
	case numeric(l.class) && numeric(r.class):
		return floatOp(o, l.floats(), r.floats())
	case l.class == classString && r.class == classString:
		return stringOp(o, l.s, r.s)
	case l.class == classBool && r.class == classBool && (o == opEq || o == opNe):
		return fnode{class: classBool, b: equalBools(o == opNe, l.b, r.b)}, true
	case o == opEq || o == opNe:
		// Values of two different types (the checker usually refuses
		// them): expr's runtime.Equal says they differ, as dynamic does.
		return dynamic(o, l.boxed(), r.boxed())
	}
	return fnode{}, false
}

// logic translates `&&` (or false) and `||` (or true). Like the VM, it
// evaluates r only when l does not decide. The VM panics when l is not a
// bool, and gives r as it is, bool or not, when l does not decide: both
// cases are left to it.
func logic(or bool, l, r fnode) (fnode, bool) {
	lb, rb := l.bools(), r.bools()
	if lb == nil || rb == nil {
		return fnode{}, false
	}
	return fnode{class: classBool, b: func(env any) (bool, bool) {
		v, ok := lb(env)
		if !ok {
			return false, false
		}
		if v == or {
			return v, true
		}
		return rb(env)
	}}, true
}

// length translates len(x) for a string x: expr counts runes.
func length(x fnode) (fnode, bool) {
	switch x.class {
	case classString:
		return fnode{class: classInt, i: func(env any) (int, bool) {
			s, ok := x.s(env)
			return utf8.RuneCountInString(s), ok
		}}, true
	case classAny:
		return fnode{class: classInt, i: func(env any) (int, bool) {
			v, ok := x.a(env)
			s, isString := v.(string)
			if !ok || !isString {
				return 0, false // a list or a map has a length too, which the VM gives
			}
			return utf8.RuneCountInString(s), true
		}}, true
	}
	return fnode{}, false
}

// intOp translates an operator on two ints: comparisons, + - * giving an
// int, `/` giving a float64, and `%`, which gives up on a zero divisor
// (the VM fails with its "integer divide by zero").
func intOp(o fop, l, r eval[int]) (fnode, bool) {
	switch o {
	case opAdd, opSub, opMul:
		return fnode{class: classInt, i: arith(o, l, r)}, true
	case opDiv:
		return floatOp(o, floats(l), floats(r))
	case opMod:
		return fnode{class: classInt, i: both(l, r, func(x, y int) (int, bool) {
			if y == 0 {
				return 0, false
			}
			return x % y, true
		})}, true
	}
	return fnode{class: classBool, b: compare(o, l, r)}, true
}

// floatOp translates an operator on two float64s (an int beside a float
// is one already). `%` on floats fails in the VM.
func floatOp(o fop, l, r eval[float64]) (fnode, bool) {
	switch o {
	case opAdd, opSub, opMul:
		return fnode{class: classFloat, f: arith(o, l, r)}, true
	case opDiv:
		return fnode{class: classFloat, f: both(l, r, func(x, y float64) (float64, bool) { return x / y, true })}, true
	case opMod:
		return fnode{}, false
	}
	return fnode{class: classBool, b: compare(o, l, r)}, true
}

// stringOp translates comparisons and concatenation of two strings.
func stringOp(o fop, l, r eval[string]) (fnode, bool) {
	switch o {
	case opAdd:
		return fnode{class: classString, s: both(l, r, func(x, y string) (string, bool) { return x + y, true })}, true
	case opSub, opMul, opDiv, opMod:
		return fnode{}, false
	}
	return fnode{class: classBool, b: compare(o, l, r)}, true
}

// dynamic translates an operator on values only the run knows.
func dynamic(o fop, l, r eval[any]) (fnode, bool) {
	if o <= opGe {
		return fnode{class: classBool, b: both(l, r, func(x, y any) (bool, bool) { return compareAny(o, x, y) })}, true
	}
	return fnode{class: classAny, a: both(l, r, func(x, y any) (any, bool) { return arithAny(o, x, y) })}, true
}
