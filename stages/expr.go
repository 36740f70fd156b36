package stages

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/pcrun/pcrun/config"
)

// source says where an expression's text sits in the file: in text t,
// starting at line/col (1-based line, 0-based rune col) of t's value.
type source struct {
	text config.Text
	line int
	col  int
}

// pos maps a position inside the expression to the file.
func (s source) pos(line, col int) config.Pos {
	if line <= 1 {
		return s.text.At(s.line, s.col+col)
	}
	return s.text.At(s.line+line-1, col)
}

// program is a compiled expression and where it came from.
type program struct {
	prog *vm.Program
	src  source
	code string
	// wholeEnv: the expression uses `$env`, the environment itself, so it
	// runs on a copy of it (see byValue).
	wholeEnv bool
	// fast evaluates the program without the VM (see fastexpr.go), or is
	// nil when the program is outside the subset it translates. It gives
	// up on values it does not handle, and the VM runs instead.
	fast eval[any]
}

// RuntimeError is an expression that failed while a worker ran it. Pos is
// the expression's place in the pipeline file.
type RuntimeError struct {
	Pos config.Pos
	Msg string
	Err error // the underlying error, if any
}

func (e *RuntimeError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

func (e *RuntimeError) Unwrap() error { return e.Err }

// run evaluates the program directly when it can, else on a worker's VM.
func (p *program) run(m *vm.VM, env any) (any, error) {
	if p.fast != nil {
		if v, ok := p.fast(env); ok {
			return v, nil
		}
	}
	if p.wholeEnv {
		env = byValue(env)
	}
	out, err := m.Run(p.prog, env)
	if err != nil {
		return nil, p.runtimeError(err)
	}
	return out, nil
}

func (p *program) runtimeError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &RuntimeError{Pos: p.src.pos(fe.Line, fe.Column), Msg: fe.Message}
	}
	return &RuntimeError{Pos: p.src.pos(1, 0), Msg: err.Error()}
}

// exprEnv is what the compiler knows about the names an expression may use.
type exprEnv struct {
	sample any      // ProducerEnv{} or ConsumerEnv{}
	names  []string // built-in names, for hints
	vars   map[string]any
	noItem string // non-empty: `item` is not available, and this says why
	noLine string // non-empty: `line` is not available (a producer without a source), and this says why
	// noResult, when not empty, says why `result` is not available (no
	// exec or shell step runs before; action_exec.go).
	noResult string
}

var unknownName = regexp.MustCompile(`unknown name ([A-Za-z_][A-Za-z0-9_]*)`)

// compile compiles one expression, reporting problems at their place in the
// file. It returns nil after reporting a diagnostic.
func (c *compiler) compile(code string, src source, env *exprEnv) *program {
	rewritten, lits := durationLiterals(code) // random.go
	patch := &varPatcher{vars: env.vars, durations: lits}
	opts := append([]expr.Option{expr.Env(env.sample), expr.Patch(patch), expr.Patch(randPatcher{}), expr.Patch(scalePatcher{})}, randomOptions...)
	prog, err := expr.Compile(rewritten, opts...)
	if err == nil {
		for at := range patch.durations { // a literal where no value can be: `{1s: 2}`
			line, col := lineCol(code, at)
			c.diags.Errorf(src.pos(line, col), config.CodeExprSyntax, "a duration is a value: use it in an operation or as an argument", "a duration cannot be written here")
			return nil
		}
	}
	if err == nil && env.noItem != "" && patch.usedItem != nil {
		loc := patch.usedItem.Location()
		line, col := lineCol(code, loc.From)
		c.diags.Errorf(src.pos(line, col), config.CodeUnknownName, env.noItem, "`item` is not defined here")
		return nil
	}
	if err == nil && env.noLine != "" && patch.usedLine != nil {
		line, col := lineCol(code, patch.usedLine.Location().From)
		c.diags.Errorf(src.pos(line, col), config.CodeUnknownName, env.noLine, "`line` is not defined here")
		return nil
	}
	if err == nil && env.noResult != "" && patch.usedResult != nil {
		line, col := lineCol(code, patch.usedResult.Location().From)
		c.diags.Errorf(src.pos(line, col), config.CodeUnknownName, env.noResult, "`result` is not defined here")
		return nil
	}
	if err != nil {
		c.exprError(err, code, src, env)
		return nil
	}
	p := &program{prog: prog, src: src, code: code, wholeEnv: patch.usedEnv}
	if !p.wholeEnv {
		// `$env` is outside the subset anyway; the fast path never sees
		// the copy byValue makes.
		p.fast = fastOf(env.sample, prog)
	}
	return p
}

// constantOf returns the value of a program that is a constant (a var, a
// literal), and false for any other.
func constantOf(p *program) (any, bool) {
	switch p.prog.Node().(type) {
	case *ast.ConstantNode, *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
	default:
		return nil, false
	}
	v, err := expr.Run(p.prog, nil) // a constant reads nothing from the environment
	return v, err == nil
}

func (c *compiler) exprError(err error, code string, src source, env *exprEnv) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		c.diags.Errorf(src.pos(1, 0), config.CodeExprSyntax, "", "%v", err)
		return
	}
	pos := src.pos(fe.Line, fe.Column)
	msg := strings.TrimSpace(fe.Message) // some of expr's end in a space
	code2, hint := config.CodeExprSyntax, ""
	var end config.Pos
	if m := unknownName.FindStringSubmatch(msg); m != nil {
		code2 = config.CodeUnknownName
		if end = src.pos(fe.Line, fe.Column+runeLen(m[1])); end.Line != pos.Line {
			end = config.Pos{}
		}
		msg, hint = unknownNameError(m[1], code, env)
	} else if isTypeError(msg) {
		code2 = config.CodeExprType
		if m := randomCall.FindStringSubmatch(msg); m != nil {
			hint = randomUsage[m[1]]
		}
	}
	if hint == "" && code2 == config.CodeExprSyntax {
		hint = "expressions use expr syntax: https://expr-lang.org/docs/language-definition"
	}
	c.diags.Errorf(pos, code2, hint, "%s", msg)
	c.diags[len(c.diags)-1].End = end
}

// unknownNameError is the message and hint for name, which expr does not
// know: a function code calls, or a name of the environment or a var.
func unknownNameError(name, code string, env *exprEnv) (msg, hint string) {
	candidates := append([]string(nil), env.names...)
	for v := range env.vars {
		candidates = append(candidates, v)
	}
	hint = config.DidYouMean(name, candidates)
	if s := config.Suggest(name, candidates); s == "" {
		hint = "names here: " + config.Quoted(sortedCopy(candidates)) + "; declare constants under `vars:`"
	}
	if isCall(code, name) {
		hint = config.DidYouMean(name, append(append([]string(nil), builtin.Names...), randomNames...))
		if hint == "" {
			hint = "functions are listed at https://expr-lang.org/docs/language-definition"
		}
		msg = fmt.Sprintf("unknown function `%s`", name)
	} else {
		msg = fmt.Sprintf("unknown name `%s`", name)
	}
	if name == "item" && env.noItem != "" {
		hint = env.noItem
	}
	return msg, hint
}

// typeProblems are what expr's checker says of a value of the wrong type.
var typeProblems = []string{"mismatched types", "cannot use", "invalid operation", "not enough arguments",
	"too many arguments", "has no field", "invalid argument"}

// isTypeError reports whether msg, an error of expr's, is about types.
func isTypeError(msg string) bool {
	return slices.ContainsFunc(typeProblems, func(p string) bool { return strings.Contains(msg, p) })
}

// isCall reports whether name is called as a function somewhere in code.
func isCall(code, name string) bool {
	return regexp.MustCompile(`(^|[^.\w])` + regexp.QuoteMeta(name) + `\s*\(`).MatchString(code)
}

// lineCol converts a rune offset in code to a 1-based line and 0-based column.
func lineCol(code string, from int) (int, int) {
	line, col, n := 1, 0, 0
	for _, r := range code {
		if n == from {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
		n++
	}
	return line, col
}

// varPatcher replaces the names of vars with their constant values, so a
// var is typed like its value and costs nothing at run time. It also notes
// whether the expression uses `item`.
type varPatcher struct {
	vars     map[string]any
	usedItem ast.Node
	usedLine ast.Node // `line` that is not a var
	// usedResult is the first `result` (a var cannot be named so).
	usedResult ast.Node
	usedEnv    bool // `$env`
	// durations are the duration literals still to patch, by the rune
	// offset where each starts (durationLiterals, random.go).
	durations map[int]time.Duration
}

func (v *varPatcher) Visit(n *ast.Node) {
	id, ok := (*n).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if d, ok := v.durations[id.Location().From]; ok && strings.Trim(id.Value, "_") == "" {
		delete(v.durations, id.Location().From)
		ast.Patch(n, &ast.ConstantNode{Value: d})
		return
	}
	if id.Value == "item" && v.usedItem == nil {
		v.usedItem = id
	}
	if id.Value == "$env" {
		v.usedEnv = true
	}
	if id.Value == "result" && v.usedResult == nil {
		v.usedResult = id
	}
	if _, isVar := v.vars[id.Value]; id.Value == "line" && !isVar && v.usedLine == nil {
		v.usedLine = id
	}
	if val, ok := v.vars[id.Value]; ok {
		ast.Patch(n, &ast.ConstantNode{Value: val})
	}
}

// resultKind returns the static kind of a program's result, or Interface
// when only the run can tell.
func resultKind(p *vm.Program) reflect.Kind {
	if p == nil || p.Node() == nil {
		return reflect.Interface
	}
	t := p.Node().Type()
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

func typeName(p *vm.Program) string {
	if t := p.Node().Type(); t != nil {
		return t.String()
	}
	return "unknown"
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
