package stages

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser/utils"
)

// Random delays: uniform(min, max), exponential(mean) and normal(mean,
// stddev) give a time.Duration drawn from each worker's own generator, and
// durations may be written as literals (`200ms`) inside expressions.
//
// The generator reaches the functions through the environment: a
// program is shared by every worker, so a function registered at compile
// time cannot know which worker calls it. randPatcher rewrites each call
// `exponential(x)` into `exponential($env, x)`, and the function takes the
// generator from the environment the worker passed (ProducerEnv.rng,
// ConsumerEnv.rng: unexported, so invisible to expressions). The functions
// are declared with `any` for $env and time.Duration for the rest, so expr
// checks the arity and the types of what the user wrote.

// randomFuncs are the random duration functions, by name, with the number
// of arguments the user writes.
var randomFuncs = map[string]int{"uniform": 2, "exponential": 1, "normal": 2}

// randomNames lists them for hints.
var randomNames = []string{"uniform", "exponential", "normal"}

// randomUsage is the hint for a call with wrong arguments.
var randomUsage = map[string]string{
	"uniform":     "uniform(min, max) takes two durations, e.g. uniform(100ms, 300ms); for a string, duration(s)",
	"exponential": "exponential(mean) takes a duration, e.g. exponential(200ms); for a string, duration(s)",
	"normal":      "normal(mean, stddev) takes two durations, e.g. normal(1s, 100ms); for a string, duration(s)",
}

var randomCall = regexp.MustCompile(`to call (uniform|exponential|normal)\b`)

var durationType = reflect.TypeOf(time.Duration(0))

// randomOptions registers the functions with expr.
var randomOptions = []expr.Option{
	expr.Function("uniform", func(a ...any) (any, error) {
		lo, hi, err := durations("uniform", a[1:])
		if err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("uniform(%s, %s): min is greater than max", lo, hi)
		}
		return Uniform(rngOf(a[0]), lo, hi), nil
	}, new(func(any, time.Duration, time.Duration) time.Duration)),
	expr.Function("exponential", func(a ...any) (any, error) {
		mean, _, err := durations("exponential", a[1:])
		if err != nil {
			return nil, err
		}
		if mean < 0 {
			return nil, fmt.Errorf("exponential(%s): the mean is negative", mean)
		}
		return Exponential(rngOf(a[0]), mean), nil
	}, new(func(any, time.Duration) time.Duration)),
	expr.Function("normal", func(a ...any) (any, error) {
		mean, sd, err := durations("normal", a[1:])
		if err != nil {
			return nil, err
		}
		if sd < 0 {
			return nil, fmt.Errorf("normal(%s, %s): the standard deviation is negative", mean, sd)
		}
		return Normal(rngOf(a[0]), mean, sd), nil
	}, new(func(any, time.Duration, time.Duration) time.Duration)),
	// $scaleDuration is what `d * f` becomes for a duration d and a float
	// f (randPatcher): expr would give the nanoseconds as a float64, which
	// a delay takes for seconds.
	expr.Function(scaleName, func(a ...any) (any, error) {
		d, f := a[0], a[1]
		if x, ok := f.(time.Duration); ok {
			d, f = x, a[0]
		}
		return clampDuration(float64(d.(time.Duration)) * f.(float64)), nil
	}, new(func(time.Duration, float64) time.Duration), new(func(float64, time.Duration) time.Duration)),
}

const scaleName = "$scaleDuration"

// durations reads the user's arguments (one or two), which the checker
// let through as time.Duration or as values only the run knows (`item`).
func durations(fn string, args []any) (time.Duration, time.Duration, error) {
	var out [2]time.Duration
	for i, a := range args {
		d, ok := a.(time.Duration)
		if !ok {
			return 0, 0, fmt.Errorf("%s takes durations (write 200ms), not %s", fn, Quote(a))
		}
		out[i] = d
	}
	return out[0], out[1], nil
}

// rngOf returns the generator of the environment a worker passed, by
// pointer or (with `$env` in the expression) by value. An environment not
// made by Producer.Worker or Consumer.Worker has none: then the global
// generator, which no seed fixes, draws.
func rngOf(env any) *mrand.Rand {
	var r *mrand.Rand
	switch e := env.(type) {
	case *ProducerEnv:
		r = e.rng
	case ProducerEnv:
		r = e.rng
	case *ConsumerEnv:
		r = e.rng
	case ConsumerEnv:
		r = e.rng
	}
	if r == nil {
		return globalRand
	}
	return r
}

var globalRand = mrand.New(lockedSource{})

// lockedSource is math/rand/v2's global source, safe for concurrent use.
type lockedSource struct{}

func (lockedSource) Uint64() uint64 { return mrand.Uint64() }

// Uniform returns a duration drawn uniformly from [lo, hi]; lo <= hi.
func Uniform(r *mrand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	span := uint64(hi - lo) // exact: hi >= lo, and the wrapped int64 difference is right as a uint64
	if span == math.MaxUint64 {
		return lo + time.Duration(r.Uint64())
	}
	return lo + time.Duration(r.Uint64N(span+1))
}

// Exponential returns a duration drawn from the exponential distribution
// with the given mean (>= 0): the gaps between Poisson arrivals.
func Exponential(r *mrand.Rand, mean time.Duration) time.Duration {
	return clampDuration(r.ExpFloat64() * float64(mean))
}

// Normal returns a duration drawn from the normal distribution, clamped
// at 0: a delay cannot be negative, so every draw below 0 gives 0 (with a
// mean near 0 the mean of the draws is then above mean).
func Normal(r *mrand.Rand, mean, sd time.Duration) time.Duration {
	return clampDuration(float64(mean) + r.NormFloat64()*float64(sd))
}

// clampDuration converts nanoseconds to a duration in [0, max].
func clampDuration(ns float64) time.Duration {
	switch {
	case ns <= 0 || math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// NewRand returns the generator of one worker: replica (1-based) of
// stage. The same seed gives a worker the same sequence in every run,
// whatever the other workers do; different workers get different ones.
func NewRand(seed uint64, stage string, replica int) *mrand.Rand {
	h := fnv.New64a()
	h.Write([]byte(stage))
	var b [9]byte // a 0 byte, which no name holds, then the replica
	binary.LittleEndian.PutUint64(b[1:], uint64(replica))
	h.Write(b[:])
	return mrand.New(mrand.NewPCG(seed, h.Sum64()))
}

// NewSeed picks a seed for a run not given one: never 0, which means
// "pick one".
func NewSeed() uint64 {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		if s := binary.LittleEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}

// randPatcher gives the random functions the environment (see above).
type randPatcher struct{}

func (randPatcher) Visit(n *ast.Node) {
	x, ok := (*n).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := x.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if _, ok := randomFuncs[id.Value]; !ok {
		return
	}
	env := &ast.IdentifierNode{Value: "$env"}
	env.SetLocation(id.Location())
	x.Arguments = append([]ast.Node{env}, x.Arguments...)
	// The checker typed the call before the patch, and would keep that
	// type without checking the new arguments.
	x.SetType(nil)
}

// scalePatcher turns `duration * float` into a duration. It runs last,
// when the checker has typed the tree with every other patch made.
type scalePatcher struct{}

func (scalePatcher) Visit(n *ast.Node) {
	if x, ok := (*n).(*ast.BinaryNode); ok && x.Operator == "*" {
		if isDuration(x.Left) && isFloat(x.Right) || isDuration(x.Right) && isFloat(x.Left) {
			call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: scaleName}, Arguments: []ast.Node{x.Left, x.Right}}
			call.Callee.SetLocation(x.Location())
			call.SetLocation(x.Location())
			ast.Patch(n, call)
		}
	}
}

// isDuration: n gives a duration, as the checker typed it, or is a
// scaling this walk made (`2.0 * d * 1.5`), which has no type yet.
func isDuration(n ast.Node) bool {
	if c, ok := n.(*ast.CallNode); ok {
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == scaleName {
			return true
		}
	}
	return n.Type() == durationType
}

func isFloat(n ast.Node) bool {
	t := n.Type()
	return t != nil && t.Kind() == reflect.Float64
}

// Duration literals. expr has no syntax for durations, and a number
// followed by a letter is a syntax error there ("bad number syntax"), so
// rewriting such numbers changes no expression that compiled before.
// durationLiterals replaces each literal (`200ms`, `1m30s`, `1.5h`) outside
// strings and comments with an identifier of as many runes, so every
// position expr reports stays right, and returns the literals' values by
// the rune offset where each starts; varPatcher turns those identifiers
// into constants.

// durationUnits are Go's units, longest first where one is a prefix of
// another.
var durationUnits = []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"}

func durationLiterals(code string) (string, map[int]time.Duration) {
	var lits map[int]time.Duration
	var out strings.Builder
	rs := []rune(code)
	for i := 0; i < len(rs); {
		j, d, isDuration := durationToken(rs, i)
		if isDuration {
			if lits == nil {
				lits = map[int]time.Duration{}
			}
			lits[i] = d
			out.WriteString(strings.Repeat("_", j-i))
		} else {
			out.WriteString(string(rs[i:j]))
		}
		i = j
	}
	if lits == nil {
		return code, nil
	}
	return out.String(), lits
}

// durationToken returns the end of what durationLiterals copies or
// replaces whole at rs[i]: a string, a comment, a number, or a duration
// literal (isDuration, with its value d); else a single rune.
func durationToken(rs []rune, i int) (end int, d time.Duration, isDuration bool) {
	r := rs[i]
	switch {
	case r == '"' || r == '\'' || r == '`':
		return skipString(rs, i), 0, false
	case r == '/' && i+1 < len(rs) && (rs[i+1] == '/' || rs[i+1] == '*'):
		return skipComment(rs, i), 0, false
	case r >= '0' && r <= '9' && (i == 0 || !utils.IsAlphaNumeric(rs[i-1]) && rs[i-1] != '.'):
		return numberToken(rs, i)
	}
	return i + 1, 0, false
}

// numberToken returns the end of the duration literal at rs[i], with its
// value, or of the plain number there.
func numberToken(rs []rune, i int) (end int, d time.Duration, isDuration bool) {
	if n, d, ok := durationAt(rs[i:]); ok {
		return i + n, d, true
	}
	// a plain number: copy it whole, so that no digit inside it (0x1f,
	// 1e3) starts a literal
	j := i
	for j < len(rs) && (utils.IsAlphaNumeric(rs[j]) || rs[j] == '.' && j+1 < len(rs) && rs[j+1] != '.') {
		j++
	}
	return j, 0, false
}

// durationAt returns the length in runes and the value of the duration
// literal at the start of rs, if there is one: numbers each followed by a
// unit, then no letter, digit or `.`.
func durationAt(rs []rune) (int, time.Duration, bool) {
	i := 0
	for {
		j := numberEnd(rs, i)
		if j == i || rs[i] == '.' {
			break
		}
		unit := unitAt(rs[j:])
		if unit == "" {
			break
		}
		i = j + utf8.RuneCountInString(unit)
	}
	if i == 0 || i < len(rs) && (utils.IsAlphaNumeric(rs[i]) || rs[i] == '.') {
		return 0, 0, false
	}
	d, err := time.ParseDuration(string(rs[:i]))
	if err != nil {
		return 0, 0, false // out of range: expr says "bad number syntax"
	}
	return i, d, true
}

// numberEnd returns the end of the digits at rs[i], with a fraction (a
// `.` and digits) after them.
func numberEnd(rs []rune, i int) int {
	j := digitsEnd(rs, i)
	if j < len(rs) && rs[j] == '.' {
		j = digitsEnd(rs, j+1)
	}
	return j
}

func digitsEnd(rs []rune, i int) int {
	for i < len(rs) && rs[i] >= '0' && rs[i] <= '9' {
		i++
	}
	return i
}

// unitAt returns the duration unit rs starts with, or "".
func unitAt(rs []rune) string {
	for _, u := range durationUnits {
		if hasRunes(rs, u) {
			return u
		}
	}
	return ""
}

func hasRunes(rs []rune, s string) bool {
	for _, r := range s {
		if len(rs) == 0 || rs[0] != r {
			return false
		}
		rs = rs[1:]
	}
	return true
}

// skipString returns the offset just past the string literal starting at
// rs[i] (its quote), or len(rs) when it is not closed.
func skipString(rs []rune, i int) int {
	q := rs[i]
	for j := i + 1; j < len(rs); j++ {
		switch {
		case rs[j] == '\\' && q != '`':
			j++
		case rs[j] == q:
			return j + 1
		}
	}
	return len(rs)
}

// skipComment returns the offset just past the comment starting at rs[i].
func skipComment(rs []rune, i int) int {
	if rs[i+1] == '/' {
		for j := i + 2; j < len(rs); j++ {
			if rs[j] == '\n' {
				return j
			}
		}
		return len(rs)
	}
	for j := i + 2; j+1 < len(rs); j++ {
		if rs[j] == '*' && rs[j+1] == '/' {
			return j + 2
		}
	}
	return len(rs)
}
