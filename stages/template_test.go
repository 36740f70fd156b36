package stages

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// producerFile is a valid file whose producer `p` has the given vars block
// (YAML lines under `vars:`, or none) and `item:` value, as written.
func producerFile(vars []string, item string) string {
	var ls []string
	if len(vars) > 0 {
		ls = append(ls, "vars:")
		for _, v := range vars {
			ls = append(ls, "  "+v)
		}
	}
	ls = append(ls,
		"producers:",
		"  - name: p",
		"    count: 2",
		"    item: "+item,
		"consumers:",
		"  - name: c",
		"    do:",
		"      - print: x",
	)
	return yamlLines(ls...)
}

// firstItems compiles src with opts (after edit) and returns items 0 and 1
// of producer p's first replica.
func firstItems(t *testing.T, src string, opts Options, edit func(*config.Pipeline)) [2]any {
	t.Helper()
	g, ds := compileSrc(t, src, opts, edit)
	if g == nil {
		t.Fatalf("Compile:\n%v\nsource:\n%s", ds, src)
	}
	w := g.Producers[0].Worker(1)
	var out [2]any
	for i := range out {
		v, err := w.Item(i)
		if err != nil {
			t.Fatalf("Item(%d): %v", i, err)
		}
		out[i] = v
	}
	return out
}

func TestTemplateItems(t *testing.T) {
	tests := []struct {
		name string
		vars []string
		item string // as written after `item: `
		want [2]any // items 0 and 1
	}{
		{"single placeholder keeps int", nil, `"${i}"`, [2]any{0, 1}},
		{"single placeholder with spaces keeps int", nil, `"${ i * 10 }"`, [2]any{0, 10}},
		{"single placeholder keeps float", nil, `"${ i + 0.5 }"`, [2]any{0.5, 1.5}},
		{"single placeholder keeps bool", nil, `"${ i == 0 }"`, [2]any{true, false}},
		{"single placeholder keeps nil", nil, `"${ nil }"`, [2]any{nil, nil}},
		{"single placeholder keeps map", nil, `"${ {'n': i, 'tags': ['a', i]} }"`, [2]any{
			map[string]any{"n": 0, "tags": []any{"a", 0}},
			map[string]any{"n": 1, "tags": []any{"a", 1}},
		}},
		{"single placeholder keeps list", nil, `"${ [i, 'x'] }"`, [2]any{[]any{0, "x"}, []any{1, "x"}}},
		{"text with a number", nil, `"n${i}"`, [2]any{"n0", "n1"}},
		{"text with a float", nil, `"${ i / 2 } of it"`, [2]any{"0 of it", "0.5 of it"}},
		{"text with a map as JSON", nil, `"m=${ {'b': i, 'a': 'x'} }"`, [2]any{`m={"a":"x","b":0}`, `m={"a":"x","b":1}`}},
		{"text with a list as JSON", nil, `"l=${ [i, 'a', nil] }"`, [2]any{`l=[0,"a",null]`, `l=[1,"a",null]`}},
		{"text with nil", nil, `"z=${ nil }"`, [2]any{"z=null", "z=null"}},
		{"text with bool", nil, `"${ i > 0 }!"`, [2]any{"false!", "true!"}},
		{"string var", []string{"food: watermelon"}, `"${food} ${i}"`, [2]any{"watermelon 0", "watermelon 1"}},
		{"int var keeps its type", []string{"n: 3"}, `"${ n * 2 + i }"`, [2]any{6, 7}},
		{"map var", []string{"cfg: {a: 1, b: [x, y]}"}, `"${ cfg.b[i] }-${ cfg.a }"`, [2]any{"x-1", "y-1"}},
		{"var used as a map item", []string{"cfg: {a: 1}"}, `"${ cfg }"`, [2]any{map[string]any{"a": 1}, map[string]any{"a": 1}}},
		{"builtin names", nil, `"${name}/${worker}/${replica}/${count}"`, [2]any{"p/p/1/2", "p/p/1/2"}},
		{"builtin function", nil, `"${ upper('ab') + string(i) }"`, [2]any{"AB0", "AB1"}},
		{"escape only", nil, `"$${x}"`, [2]any{"${x}", "${x}"}},
		{"escape and placeholder", nil, `"$${x}=${i}"`, [2]any{"${x}=0", "${x}=1"}},
		{"constant string", nil, `plain`, [2]any{"plain", "plain"}},
		{"constant int", nil, `42`, [2]any{42, 42}},
		{"constant float", nil, `2.5`, [2]any{2.5, 2.5}},
		{"constant bool", nil, `true`, [2]any{true, true}},
		{"empty string", nil, `""`, [2]any{"", ""}},
		{"YAML mapping of templates", nil, `{id: "${i}", label: "n${i}", fixed: 7, nested: {sq: "${i*i}"}}`, [2]any{
			map[string]any{"id": 0, "label": "n0", "fixed": 7, "nested": map[string]any{"sq": 0}},
			map[string]any{"id": 1, "label": "n1", "fixed": 7, "nested": map[string]any{"sq": 1}},
		}},
		{"YAML list of templates", nil, `["${i}", x, "${ [i] }"]`, [2]any{[]any{0, "x", []any{0}}, []any{1, "x", []any{1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := producerFile(tt.vars, tt.item)
			got := firstItems(t, src, noEnv, nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("item %s\n got %#v\nwant %#v", tt.item, got, tt.want)
			}
		})
	}
}

func TestTemplateSetVar(t *testing.T) {
	tests := []struct {
		name       string
		vars       []string
		item       string
		set, value string
		want       [2]any
	}{
		{"string var takes the text", []string{"food: watermelon"}, `"${food} ${i}"`, "food", "banana", [2]any{"banana 0", "banana 1"}},
		{"string var keeps digits as text", []string{"food: watermelon"}, `"${food}"`, "food", "42", [2]any{"42", "42"}},
		{"int var stays a number", []string{"n: 3"}, `"${ n + i }"`, "n", "10", [2]any{10, 11}},
		{"int var may become a float", []string{"n: 3"}, `"${ n * 2 }"`, "n", "1.25", [2]any{2.5, 2.5}},
		{"map var takes YAML", []string{"cfg: {a: 1}"}, `"${ cfg.a }"`, "cfg", "{a: 9}", [2]any{9, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := producerFile(tt.vars, tt.item)
			got := firstItems(t, src, noEnv, func(pl *config.Pipeline) {
				if err := pl.SetVar(tt.set, tt.value); err != nil {
					t.Fatalf("SetVar(%q, %q): %v", tt.set, tt.value, err)
				}
			})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("with %s=%s, item %s\n got %#v\nwant %#v", tt.set, tt.value, tt.item, got, tt.want)
			}
		})
	}
}

func TestTemplateEnv(t *testing.T) {
	environ := []string{"HOME=/home/test", "EMPTY=", "NOEQUALS", "EQ=a=b"}
	tests := []struct {
		name string
		item string
		want any
	}{
		{"value", `"${env.HOME}"`, "/home/test"},
		{"index", `"${ env['EQ'] }"`, "a=b"},
		{"empty value is set", `"${ 'EMPTY' in env }:${ env.EMPTY }"`, "true:"},
		{"entry without = is left out", `"${ 'NOEQUALS' in env }"`, false},
		{"unset is absent", `"${ 'PATH' in env }"`, false},
		{"in text", `"home=${env.HOME}"`, "home=/home/test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firstItems(t, producerFile(nil, tt.item), Options{Environ: environ}, nil)
			if got[0] != tt.want {
				t.Errorf("item %s = %#v, want %#v", tt.item, got[0], tt.want)
			}
		})
	}
}

// TestTemplateProcessEnv checks that a nil Environ means the process
// environment.
func TestTemplateProcessEnv(t *testing.T) {
	t.Setenv("PCRUN_STAGES_TEST_VAR", "from-process")
	got := firstItems(t, producerFile(nil, `"${ env.PCRUN_STAGES_TEST_VAR }"`), Options{}, nil)
	if got[0] != "from-process" {
		t.Errorf("item = %#v, want %q", got[0], "from-process")
	}
	got = firstItems(t, producerFile(nil, `"${ 'PCRUN_STAGES_TEST_VAR' in env }"`), noEnv, nil)
	if got[0] != false {
		t.Errorf("with an empty Environ, the process variable is visible: %#v", got[0])
	}
}

func TestTemplateRuntimeError(t *testing.T) {
	// Line 4 is `    item: "n=${ 10 % (1 - i) }"`: the quote is at
	// column 11, `${` at 14, `%` at 20.
	src := producerFile(nil, `"n=${ 10 % (1 - i) }"`)
	g := mustCompile(t, src)
	w := g.Producers[0].Worker(1)
	if v, err := w.Item(0); err != nil || v != "n=0" {
		t.Fatalf("Item(0) = %#v, %v; want \"n=0\"", v, err)
	}
	v, err := w.Item(1)
	var re *RuntimeError
	if !errors.As(err, &re) {
		t.Fatalf("Item(1) = %#v, %v; want a *RuntimeError", v, err)
	}
	if re.Pos != fpos(4, 20) {
		t.Errorf("error at %v, want %v", re.Pos, fpos(4, 20))
	}
	if want := "f.yaml:4:20: runtime error: integer divide by zero"; err.Error() != want {
		t.Errorf("error %q, want %q", err.Error(), want)
	}
}

func TestTemplateIsConst(t *testing.T) {
	tests := []struct {
		item string
		want bool
	}{
		{`plain`, true},
		{`42`, true},
		{`"$${x}"`, true},
		{`{a: 1, b: [x, y]}`, true},
		{`"${i}"`, false},
		{`"n${i}"`, false},
		{`{a: 1, b: [x, "${i}"]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			g := mustCompile(t, producerFile(nil, tt.item))
			if got := g.Producers[0].item.IsConst(); got != tt.want {
				t.Errorf("IsConst() of %s = %v, want %v", tt.item, got, tt.want)
			}
			if p := g.Producers[0].item.Pos(); p != fpos(4, 11) {
				t.Errorf("Pos() = %v, want %v", p, fpos(4, 11))
			}
		})
	}
}

type stringer struct{}

func (stringer) String() string { return "I am a stringer" }

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"string", "a b", "a b"},
		{"empty string", "", ""},
		{"int", -12, "-12"},
		{"int64", int64(1) << 40, "1099511627776"},
		{"float shortest", 0.1, "0.1"},
		{"float long", 1.0 / 3, "0.3333333333333333"},
		{"float whole", 2.0, "2"},
		{"float tiny", 1e-7, "1e-07"},
		{"bool", true, "true"},
		{"nil", nil, "null"},
		{"duration", 1500 * time.Millisecond, "1.5s"},
		{"time", time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), "2024-01-02T03:04:05.000000006Z"},
		{"stringer", stringer{}, "I am a stringer"},
		{"map sorted JSON", map[string]any{"b": 1, "a": []any{"x", nil}}, `{"a":["x",null],"b":1}`},
		{"list", []any{1, "two", 3.5, false}, `[1,"two",3.5,false]`},
		{"string list", []string{"a"}, `["a"]`},
		{"struct", struct {
			A int `json:"a"`
		}{7}, `{"a":7}`},
		{"uint8", uint8(7), "7"},
		{"unencodable map falls back", map[string]any{"f": func() {}}, "map[f:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Format(tt.in)
			if strings.HasSuffix(tt.name, "falls back") {
				if !strings.HasPrefix(got, tt.want) {
					t.Errorf("Format(%#v) = %q, want prefix %q", tt.in, got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("Format(%#v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	long := strings.Repeat("é", 100)
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"string quoted", `a "b"`, `"a \"b\""`},
		{"number bare", 3, "3"},
		{"map as JSON", map[string]any{"a": 1}, `{"a":1}`},
		{"nil", nil, "null"},
		{"long cut to 80 runes", long, `"` + strings.Repeat("é", 76) + "..."},
		{"80 runes with quotes kept", strings.Repeat("x", 78), `"` + strings.Repeat("x", 78) + `"`},
		{"81 runes with quotes cut", strings.Repeat("x", 79), `"` + strings.Repeat("x", 76) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%#v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTemplatePlanMatchesVM: the rendering plan (constants folded into
// text, bare names read without the VM) gives exactly what evaluating
// every placeholder with the VM gives.
func TestTemplatePlanMatchesVM(t *testing.T) {
	slow := func(t *Template) *Template {
		s := *t
		s.plan, s.name = t.parts, noField
		return &s
	}
	producerTemplates := []string{
		`"${i}"`, `"${count}"`, `"${name}"`, `"${worker}"`, `"${replica}"`,
		`"watermelon ${i}"`, `"${food} ${i}"`, `"${food}${n}-${worker}/${replica} of ${count}"`,
		`"${ food } #${ i }"`, `"${n * 2} and ${i * 2}"`, `"${cfg} ${i}"`, `"$${x} ${i}"`,
		`"${'lit'} ${1.5} ${true} ${nil} ${i}"`,
	}
	vars := []string{"food: watermelon", "n: 3", "cfg: {a: 1, b: [x, y]}"}
	for _, src := range producerTemplates {
		g := mustCompile(t, producerFile(vars, src))
		w := g.Producers[0].Worker(1)
		fast, vmOnly := w.p.item, slow(w.p.item)
		for _, i := range []int{0, 1, 255, 256, 1 << 40, -7} {
			w.env.I = i
			got, err := fast.Eval(&w.m, &w.env)
			want, werr := vmOnly.Eval(&w.m, &w.env)
			if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s with i=%d: got %#v (%v), the VM gives %#v (%v)", src, i, got, err, want, werr)
			}
		}
	}
	consumerTemplates := []string{`"${item}"`, `"ate ${item}"`, `"${worker}: ${item} (${attempt})"`, `"${name}/${replica} ${item}"`}
	items := []any{"watermelon 7", "", 42, int64(1) << 50, 2.5, true, nil, map[string]any{"b": 1, "a": []any{"x"}},
		[]any{1, "two"}, time.Second}
	for _, src := range consumerTemplates {
		g := mustCompile(t, yamlLines("producers: [{name: p, count: 1, item: x, to: a}]",
			"queues: {a: {}, b: {}}",
			"consumers:",
			"  - {name: c, from: a, to: b, replicas: 2, do: [emit: "+src+"]}",
			"  - {name: d, from: b}"))
		w := g.Consumers[0].Worker(2, &fakeFx{})
		tmpl := w.c.steps[0].(*emitStep).t
		fast, vmOnly := tmpl, slow(tmpl)
		for _, it := range items {
			w.env.Item, w.env.Attempt = it, 3
			got, err := fast.Eval(&w.m, &w.env)
			want, werr := vmOnly.Eval(&w.m, &w.env)
			if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s with item %#v: got %#v (%v), the VM gives %#v (%v)", src, it, got, err, want, werr)
			}
		}
	}
}

// TestTemplateWholeEnvIsACopy: an item made from `$env` (the environment
// itself) does not change when the worker makes the next item.
func TestTemplateWholeEnvIsACopy(t *testing.T) {
	g := mustCompile(t, producerFile(nil, `"${$env}"`))
	w := g.Producers[0].Worker(1)
	first, err := w.Item(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Item(1); err != nil {
		t.Fatal(err)
	}
	if env, ok := first.(ProducerEnv); !ok || env.I != 0 {
		t.Errorf("item 0 is %#v after item 1 was made, want a ProducerEnv with I 0", first)
	}
}
