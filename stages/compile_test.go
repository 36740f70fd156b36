package stages

import (
	"reflect"
	"testing"

	"github.com/pcrun/pcrun/config"
)

// consumerDo is a valid file whose consumer `c` has the given `when` line
// (or none, with "") and `do` steps, each a line as written. Without
// `when` the steps start on line 8, with it on line 9.
func consumerDo(when string, steps ...string) string {
	ls := []string{
		"producers:",
		"  - name: p",
		"    count: 1",
		"    item: x",
		"consumers:",
		"  - name: c",
	}
	if when != "" {
		ls = append(ls, "    when: "+when)
	}
	ls = append(ls, "    do:")
	for _, s := range steps {
		ls = append(ls, "      - "+s)
	}
	return yamlLines(ls...)
}

const (
	itemHint  = "a producer's `item` template makes the item, so it cannot use `item`; use `i` (the index) or vars"
	exprHint  = "expressions use expr syntax: https://expr-lang.org/docs/language-definition"
	tmplHint  = "close it with `}`, or write `$${` for a literal `${`"
	emitHint  = "add `to: QUEUE` to consumer `c`: emitted items go to that queue"
	namesHint = "names here: `attempt`, `env`, `item`, `name`, `replica`, `result`, `worker`; declare constants under `vars:`"
)

// TestCompileDiagnostics checks one diagnostic per file: its code,
// severity, message, hint and exact position, counted by hand from the
// line shown in each comment (columns are 1-based runes).
func TestCompileDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		sev  config.Severity
		code string
		at   config.Pos
		msg  string
		hint string
	}{
		{
			// 6: `    item: "${fod} ${i}"`: quote at 11, `fod` at 14.
			name: "unknown var in double quotes",
			src: yamlLines("vars:", "  food: watermelon", "producers:", "  - name: p", "    count: 1",
				"    item: \"${fod} ${i}\"", "consumers:", "  - name: c", "    do:", "      - print: x"),
			sev: config.Error, code: config.CodeUnknownName, at: fpos(6, 14),
			msg: "unknown name `fod`", hint: "did you mean `food`?",
		},
		{
			// 8: `      - print: ${item} and ${itm}`: plain, `itm` at 30.
			name: "second placeholder in a plain scalar",
			src:  consumerDo("", "print: ${item} and ${itm}"),
			sev:  config.Error, code: config.CodeUnknownName, at: fpos(8, 30),
			msg: "unknown name `itm`", hint: "did you mean `item`?",
		},
		{
			// 8: `      - print: "${ uper(item) }"`: `uper` at 20.
			name: "unknown function",
			src:  consumerDo("", `print: "${ uper(item) }"`),
			sev:  config.Error, code: config.CodeUnknownName, at: fpos(8, 20),
			msg: "unknown function `uper`", hint: "did you mean `upper`?",
		},
		{
			// 8: `      - print: '${ zzz }'`: single quotes, `zzz` at 20.
			name: "no close name lists the names",
			src:  consumerDo("", `print: '${ zzz }'`),
			sev:  config.Error, code: config.CodeUnknownName, at: fpos(8, 20),
			msg: "unknown name `zzz`", hint: namesHint,
		},
		{
			// 4: `    item: "x${ item }"`: `item` at 16.
			name: "item in a producer's item",
			src: yamlLines("producers:", "  - name: p", "    count: 1", "    item: \"x${ item }\"",
				"consumers:", "  - name: c", "    do:", "      - print: x"),
			sev: config.Error, code: config.CodeUnknownName, at: fpos(4, 16),
			msg: "`item` is not defined here", hint: itemHint,
		},
		{
			// 7: `    when: 'len(itme) > 0'`: `itme` at 16.
			name: "unknown name in when",
			src:  consumerDo("'len(itme) > 0'", "print: x"),
			sev:  config.Error, code: config.CodeUnknownName, at: fpos(7, 16),
			msg: "unknown name `itme`", hint: "did you mean `item`?",
		},
		{
			// 10: `          then ${ zzz }`: block scalar indented 10, `zzz` at 19.
			name: "block scalar second line",
			src: yamlLines("producers:", "  - name: p", "    count: 1", "    item: x",
				"consumers:", "  - name: c", "    do:", "      - print: |",
				"          first ${item}", "          then ${ zzz }"),
			sev: config.Error, code: config.CodeUnknownName, at: fpos(10, 19),
			msg: "unknown name `zzz`", hint: namesHint,
		},
		{
			// 7: `    when: "\"a\" == itme"`: escapes count as written, `itme` at 21.
			name: "unknown name after escapes",
			src:  consumerDo(`"\"a\" == itme"`, "print: x"),
			sev:  config.Error, code: config.CodeUnknownName, at: fpos(7, 21),
			msg: "unknown name `itme`", hint: "did you mean `item`?",
		},
		{
			// 10: `            zzz }`: the expression's second line, `zzz` at 13.
			name: "expression spanning block lines",
			src: yamlLines("producers:", "  - name: p", "    count: 1", "    item: x",
				"consumers:", "  - name: c", "    do:", "      - print: |",
				"          ${ item +", "            zzz }"),
			sev: config.Error, code: config.CodeUnknownName, at: fpos(10, 13),
			msg: "unknown name `zzz`", hint: namesHint,
		},
		{
			// vars are inlined as constants, so their types are checked
			// before the run. 6: `    item: "${ food - 1 }"`: `-` at 20.
			name: "string var in arithmetic",
			src: yamlLines("vars:", "  food: watermelon", "producers:", "  - name: p", "    count: 1",
				"    item: \"${ food - 1 }\"", "consumers:", "  - name: c", "    do:", "      - print: x"),
			sev: config.Error, code: config.CodeExprType, at: fpos(6, 20),
			msg: "invalid operation: - (mismatched types string and int)",
		},
		{
			// 8: `      - print: "a ${item"`: `${` at 19.
			name: "unterminated placeholder",
			src:  consumerDo("", `print: "a ${item"`),
			sev:  config.Error, code: config.CodeTemplate, at: fpos(8, 19),
			msg: "unterminated placeholder: `${` has no matching `}`", hint: tmplHint,
		},
		{
			// 8: `      - print: "${ }"`: `${` at 17.
			name: "empty placeholder",
			src:  consumerDo("", `print: "${ }"`),
			sev:  config.Error, code: config.CodeTemplate, at: fpos(8, 17),
			msg: "empty placeholder `${}`", hint: tmplHint,
		},
		{
			// 8: `      - prnt: x`: the key at 9.
			name: "misspelt action",
			src:  consumerDo("", "prnt: x"),
			sev:  config.Error, code: config.CodeUnknownAction, at: fpos(8, 9),
			msg: "unknown step action `prnt`", hint: "did you mean `print`?",
		},
		{
			name: "unknown action",
			src:  consumerDo("", "explode: x"),
			sev:  config.Error, code: config.CodeUnknownAction, at: fpos(8, 9),
			msg: "unknown step action `explode`", hint: "expected one of: `emit`, `exec`, `fail`, `print`, `shell`, `sleep`, `write`",
		},
		{
			name: "emit without to",
			src:  consumerDo("", "emit: x"),
			sev:  config.Error, code: config.CodeEmitWithoutTo, at: fpos(8, 9),
			msg: "`emit` needs the consumer to have `to`", hint: emitHint,
		},
		{
			// 8: `      - print: {a: 1}`: the mapping at 16.
			name: "print of a mapping",
			src:  consumerDo("", "print: {a: 1}"),
			sev:  config.Error, code: config.CodeType, at: fpos(8, 16),
			msg: "`print` takes a line template, not a mapping or list", hint: "quote the line, e.g. print: \"${worker} got ${item}\"",
		},
		{
			// 7: `    when: 'len(item)'`: the value at 11.
			name: "when gives an int",
			src:  consumerDo("'len(item)'", "print: x"),
			sev:  config.Error, code: config.CodeExprType, at: fpos(7, 11),
			msg: "`when` must be a boolean expression; this one gives int", hint: "compare something, e.g. len(item) > 0",
		},
		{
			name: "when gives a string",
			src:  consumerDo(`'"yes"'`, "print: x"),
			sev:  config.Error, code: config.CodeExprType, at: fpos(7, 11),
			msg: "`when` must be a boolean expression; this one gives string", hint: "compare something, e.g. len(item) > 0",
		},
		{
			name: "when is a number",
			src:  consumerDo("5", "print: x"),
			sev:  config.Error, code: config.CodeExprType, at: fpos(7, 11),
			msg: "`when` must be a boolean expression, not 5", hint: "write a condition, e.g. when: 'item != \"\"'",
		},
		{
			name: "when is a template",
			src:  consumerDo("'${item}'", "print: x"),
			sev:  config.Error, code: config.CodeExprSyntax, at: fpos(7, 11),
			msg: "`when` takes an expression, not a template", hint: "`when` is a bare expression: drop the ${ }",
		},
		{
			name: "when is constant",
			src:  consumerDo("true", "print: x"),
			sev:  config.Warning, code: config.CodeExprType, at: fpos(7, 11),
			msg: "`when: true` is constant", hint: "remove `when` to take every item",
		},
		{
			// 7: `    to: main`: the queue name at 9.
			name: "to without emit",
			src: yamlLines("producers:", "  - name: p", "    count: 1", "    item: x",
				"consumers:", "  - name: c", "    to: main", "    do:", "      - print: x"),
			sev: config.Warning, code: config.CodeToWithoutEmit, at: fpos(7, 9),
			msg: "consumer `c` has `to` but no step emits", hint: "add an `emit` step, or remove `to`",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, tt.src, noEnv, nil)
			got := withCode(ds, tt.code)
			if len(got) != 1 {
				t.Fatalf("want one %s diagnostic, got:\n%v", tt.code, ds)
			}
			d := got[0]
			if d.Pos != tt.at || d.Severity != tt.sev || d.Message != tt.msg || d.Hint != tt.hint {
				t.Errorf("\n got %v: %v: %s\n\thint: %s\nwant %v: %v: %s\n\thint: %s",
					d.Pos, d.Severity, d.Message, d.Hint, tt.at, tt.sev, tt.msg, tt.hint)
			}
			wantErrs := 0
			if tt.sev == config.Error {
				wantErrs = 1
			}
			if errs := errorsOf(ds); len(errs) != wantErrs {
				t.Errorf("want %d error(s), got:\n%v", wantErrs, errs)
			}
			if (g == nil) != (wantErrs > 0) {
				t.Errorf("Compile returned graph %v with %d error(s)", g != nil, wantErrs)
			}
			if cds := Check(mustParse(t, tt.src), noEnv); !reflect.DeepEqual(cds, ds) {
				t.Errorf("Check gave\n%v\nCompile gave\n%v", cds, ds)
			}
		})
	}
}

func mustParse(t *testing.T, src string) *config.Pipeline {
	t.Helper()
	pl, ds := config.Parse(testFile, []byte(src))
	if pl == nil || ds.HasErrors() {
		t.Fatalf("config.Parse: %v", ds)
	}
	return pl
}

// TestCompileSyntaxErrors checks expressions expr cannot compile: they are
// errors with a position on the expression's line, inside the placeholder.
func TestCompileSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		step string
		code string
		at   config.Pos
		msg  string
		hint string
	}{
		// 8: `      - print: "${ item + }"`: expr reports the end of the
		// code " item + ", its last rune, at 26.
		{"missing operand", `print: "${ item + }"`, config.CodeExprSyntax, fpos(8, 26), "unexpected token EOF", exprHint},
		// 8: `      - print: "${ 'a' - 1 }"`: the operator at 24.
		{"mismatched types", `print: "${ 'a' - 1 }"`, config.CodeExprType, fpos(8, 24), "invalid operation: - (mismatched types string and int)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, consumerDo("", tt.step), noEnv, nil)
			errs := errorsOf(ds)
			if g != nil || len(errs) != 1 {
				t.Fatalf("want one error and no graph, got:\n%v", ds)
			}
			if d := errs[0]; d.Code != tt.code || d.Pos != tt.at || d.Message != tt.msg || d.Hint != tt.hint {
				t.Errorf("\n got %v: %s %q hint %q\nwant %v: %s %q hint %q", d.Pos, d.Code, d.Message, d.Hint, tt.at, tt.code, tt.msg, tt.hint)
			}
		})
	}
}

// TestCompileReportsAll checks that every problem of a file is reported,
// in file order.
func TestCompileReportsAll(t *testing.T) {
	src := consumerDo("'len(itme) > 0'",
		"prnt: x",            // 9
		`print: "${ uper }"`, // 10: `uper` at 20
		"emit: x",            // 11
	)
	g, ds := compileSrc(t, src, noEnv, nil)
	if g != nil {
		t.Errorf("Compile returned a graph despite errors")
	}
	type got struct {
		at   config.Pos
		code string
	}
	var gotList []got
	for _, d := range errorsOf(ds) {
		gotList = append(gotList, got{d.Pos, d.Code})
	}
	want := []got{
		{fpos(7, 16), config.CodeUnknownName},
		{fpos(9, 9), config.CodeUnknownAction},
		{fpos(10, 20), config.CodeUnknownName},
		{fpos(11, 9), config.CodeEmitWithoutTo},
	}
	if !reflect.DeepEqual(gotList, want) {
		t.Errorf("errors\n got %v\nwant %v\nall:\n%v", gotList, want, ds)
	}
}

func TestActions(t *testing.T) {
	want := []Action{
		{Name: "emit", Emits: true},
		{Name: "exec", RealWork: true},
		{Name: "fail"},
		{Name: "print"},
		{Name: "shell", RealWork: true},
		{Name: "sleep"},
		{Name: "write", RealWork: true},
	}
	got := Actions()
	if len(got) != len(want) {
		t.Fatalf("Actions() = %+v, want names %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Emits != want[i].Emits || got[i].RealWork != want[i].RealWork || got[i].Doc == "" {
			t.Errorf("Actions()[%d] = %+v, want %s (emits %v, real work %v) with a doc", i, got[i], want[i].Name, want[i].Emits, want[i].RealWork)
		}
	}
}
