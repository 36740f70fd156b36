package stages

import "cmp"

// The operations of the direct evaluator (fastexpr.go), each mirroring
// what expr's runtime does for the same operands.

// both makes the closure of a binary operator: it evaluates l, then r,
// then applies f to their values. It gives up when any of them does.
func both[T, U, R any](l eval[T], r eval[U], f func(x T, y U) (R, bool)) eval[R] {
	return func(env any) (R, bool) {
		if x, ok := l(env); ok {
			if y, ok := r(env); ok {
				return f(x, y)
			}
		}
		var zero R
		return zero, false
	}
}

// compare makes the closure of a comparison (o is opEq to opGe).
func compare[T cmp.Ordered](o fop, l, r eval[T]) eval[bool] {
	return both(l, r, func(x, y T) (bool, bool) { return cmpOrdered(o, x, y), true })
}

// equalBools makes the closure of == (or, with ne, !=) on two bools,
// which have no order.
func equalBools(ne bool, l, r eval[bool]) eval[bool] {
	return both(l, r, func(x, y bool) (bool, bool) { return (x == y) != ne, true })
}

// cmpOrdered applies comparison o with Go's operators, which expr's
// runtime uses too (so NaN compares false, even to itself).
func cmpOrdered[T cmp.Ordered](o fop, x, y T) bool {
	switch o {
	case opEq:
		return x == y
	case opNe:
		return x != y
	case opLt:
		return x < y
	case opLe:
		return x <= y
	case opGt:
		return x > y
	}
	return x >= y
}

// arith makes the closure of + - * on two ints or two float64s.
func arith[T int | float64](o fop, l, r eval[T]) eval[T] {
	switch o {
	case opAdd:
		return both(l, r, func(x, y T) (T, bool) { return x + y, true })
	case opSub:
		return both(l, r, func(x, y T) (T, bool) { return x - y, true })
	}
	return both(l, r, func(x, y T) (T, bool) { return x * y, true })
}

// compareAny applies comparison o to two values as expr's runtime.Equal,
// Less, More, LessOrEqual and MoreOrEqual do, for the types the fast path
// handles. ok is false for other types, and for an order comparison of
// values that have none (a bool, a string and an int): the VM fails there.
func compareAny(o fop, a, b any) (result, ok bool) {
	if result, ok := compareAlike(o, a, b); ok {
		return result, true
	}
	if o > opNe || !handled(a) || !handled(b) {
		return false, false
	}
	// Two values of different types: runtime.Equal finds nil equal to nil
	// and, through reflect.DeepEqual, anything else unequal.
	return (a == nil && b == nil) == (o == opEq), true
}

// compareAlike is compareAny for two numbers, two strings, or two bools
// compared for equality; ok is false for any other operands.
func compareAlike(o fop, a, b any) (result, ok bool) {
	switch x := a.(type) {
	case int:
		switch y := b.(type) {
		case int:
			return cmpOrdered(o, x, y), true
		case float64:
			return cmpOrdered(o, float64(x), y), true
		}
	case float64:
		switch y := b.(type) {
		case int:
			return cmpOrdered(o, x, float64(y)), true
		case float64:
			return cmpOrdered(o, x, y), true
		}
	case string:
		if y, isString := b.(string); isString {
			return cmpOrdered(o, x, y), true
		}
	case bool:
		if y, isBool := b.(bool); isBool && o <= opNe {
			return (x == y) == (o == opEq), true
		}
	}
	return false, false
}

// arithAny applies + - * / % to two values as expr's runtime.Add,
// Subtract, Multiply, Divide and Modulo do, for the types the fast path
// handles; ok is false where they panic, and for other types.
func arithAny(o fop, a, b any) (any, bool) {
	switch x := a.(type) {
	case int:
		switch y := b.(type) {
		case int:
			return arithInt(o, x, y)
		case float64:
			return arithFloat(o, float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case int:
			return arithFloat(o, x, float64(y))
		case float64:
			return arithFloat(o, x, y)
		}
	case string:
		if y, isString := b.(string); isString && o == opAdd {
			return x + y, true
		}
	}
	return nil, false
}

func arithInt(o fop, x, y int) (any, bool) {
	switch o {
	case opDiv:
		return float64(x) / float64(y), true
	case opMod:
		if y == 0 {
			return nil, false // the VM's "integer divide by zero"
		}
		return x % y, true
	}
	return addSubMul(o, x, y), true
}

func arithFloat(o fop, x, y float64) (any, bool) {
	switch o {
	case opDiv:
		return x / y, true
	case opMod:
		return nil, false // runtime.Modulo takes no floats
	}
	return addSubMul(o, x, y), true
}

// addSubMul applies + - or * (o is opAdd, opSub or opMul).
func addSubMul[T int | float64](o fop, x, y T) T {
	switch o {
	case opAdd:
		return x + y
	case opSub:
		return x - y
	}
	return x * y
}

// handled reports whether v has a type the fast path handles.
func handled(v any) bool {
	switch v.(type) {
	case nil, int, float64, string, bool:
		return true
	}
	return false
}

// numeric reports whether c is a class of numbers.
func numeric(c class) bool { return c == classInt || c == classFloat }

// boxed returns the node's closure giving its values as `any`.
func (n fnode) boxed() eval[any] {
	switch {
	case n.a != nil: // classAny, or a constant
		return n.a
	case n.class == classInt:
		return box(n.i)
	case n.class == classFloat:
		return box(n.f)
	case n.class == classString:
		return box(n.s)
	}
	return box(n.b)
}

func box[T any](f eval[T]) eval[any] {
	return func(env any) (any, bool) {
		v, ok := f(env)
		if !ok {
			return nil, false
		}
		return v, true
	}
}

// floats returns the closure of a number node as a float64, for an
// operator that meets a float (or is `/`).
func (n fnode) floats() eval[float64] {
	if n.class == classFloat {
		return n.f
	}
	return floats(n.i)
}

func floats(f eval[int]) eval[float64] {
	return func(env any) (float64, bool) {
		v, ok := f(env)
		return float64(v), ok
	}
}

// bools returns the closure of a node as a bool, checking at run time
// when its class is classAny; nil when it can never be one.
func (n fnode) bools() eval[bool] {
	switch n.class {
	case classBool:
		return n.b
	case classAny:
		return func(env any) (bool, bool) {
			v, ok := n.a(env)
			b, isBool := v.(bool)
			return b, ok && isBool
		}
	}
	return nil
}
