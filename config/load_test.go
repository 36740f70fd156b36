package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fullFile uses every key of format version 1. Positions asserted below
// are counted by hand from it.
const fullFile = `version: 1
name: fruit
vars:
  food: watermelon
  n: 3
queues:
  raw:
    capacity: unbounded
  cooked:
    capacity: 5
shutdown:
  strategy: join
  deadline: 30s
  grace: 2s
producers:
  - name: kelly
    to: raw
    count: 3
    replicas: 2
    delay: 1s
    item: "${food} ${i}"
    print: "${name} Produced ${item}"
consumers:
  - name: peter
    from: raw
    replicas: 3
    when: 'item != ""'
    do:
      - sleep: 100ms
      - emit: "${upper(item)}"
    to: cooked
  - name: eater
    from: cooked
    do:
      - print: "${worker} Ate ${item}"
`

// checks compares named values; each entry is {what, got, want}.
func checks(t *testing.T, cs [][3]any) {
	t.Helper()
	for _, c := range cs {
		got, want := c[1], c[2]
		if p, ok := got.(Pos); ok {
			got = p.String()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", c[0], got, want)
		}
	}
}

func TestParseFull(t *testing.T) {
	pl, ds := Parse("dir/f.yaml", []byte(fullFile))
	if len(ds) != 0 {
		t.Fatalf("Parse returned diagnostics:\n%v", ds)
	}
	if len(pl.Vars) != 2 || len(pl.Queues) != 2 || len(pl.Producers) != 1 || len(pl.Consumers) != 2 {
		t.Fatalf("got %d vars, %d queues, %d producers, %d consumers; want 2, 2, 1, 2",
			len(pl.Vars), len(pl.Queues), len(pl.Producers), len(pl.Consumers))
	}
	s := pl.Shutdown
	pr := pl.Producers[0]
	peter, eater := pl.Consumers[0], pl.Consumers[1]
	if len(peter.Steps) != 2 || len(eater.Steps) != 1 {
		t.Fatalf("got %d and %d steps, want 2 and 1", len(peter.Steps), len(eater.Steps))
	}
	checks(t, [][3]any{
		{"File", pl.File, "dir/f.yaml"},
		{"Name", pl.Name, "fruit"},

		{"Vars[0].Name", pl.Vars[0].Name, "food"},
		{"Vars[0].Pos", pl.Vars[0].Pos, "dir/f.yaml:4:3"},
		{"Vars[0].Value", pl.Vars[0].Value, "watermelon"},
		{"Vars[1].Name", pl.Vars[1].Name, "n"},
		{"Vars[1].Pos", pl.Vars[1].Pos, "dir/f.yaml:5:3"},
		{"Vars[1].Value", pl.Vars[1].Value, 3},

		{"Queues[0].Name", pl.Queues[0].Name, "raw"},
		{"Queues[0].Pos", pl.Queues[0].Pos, "dir/f.yaml:7:3"},
		{"Queues[0].Unbounded", pl.Queues[0].Unbounded, true},
		{"Queues[0].Implicit", pl.Queues[0].Implicit, false},
		{"Queues[1].Name", pl.Queues[1].Name, "cooked"},
		{"Queues[1].Pos", pl.Queues[1].Pos, "dir/f.yaml:9:3"},
		{"Queues[1].Capacity", pl.Queues[1].Capacity, 5},
		{"Queues[1].Unbounded", pl.Queues[1].Unbounded, false},

		{"Shutdown.Strategy", s.Strategy, Join},
		{"Shutdown.StrategyPos", s.StrategyPos, "dir/f.yaml:12:13"},
		{"Shutdown.Deadline", s.Deadline, 30 * time.Second},
		{"Shutdown.DeadlinePos", s.DeadlinePos, "dir/f.yaml:13:13"},
		{"Shutdown.Grace", s.Grace, 2 * time.Second},
		{"Shutdown.GracePos", s.GracePos, "dir/f.yaml:14:10"},

		{"kelly.Name", pr.Name, "kelly"},
		{"kelly.Pos", pr.Pos, "dir/f.yaml:16:11"},
		{"kelly.To", pr.To, Ref{Name: "raw", Pos: Pos{File: "dir/f.yaml", Line: 17, Col: 9}, Set: true}},
		{"kelly.Count", pr.Count, 3},
		{"kelly.CountPos", pr.CountPos, "dir/f.yaml:18:12"},
		{"kelly.Replicas", pr.Replicas, 2},
		{"kelly.ReplicasPos", pr.ReplicasPos, "dir/f.yaml:19:15"},
		{"kelly.Delay.Text.Value", pr.Delay.Text.Value, "1s"},
		{"kelly.Delay.Pos", pr.Delay.Pos, "dir/f.yaml:20:12"},
		{"kelly.Item.Text.Value", pr.Item.Text.Value, "${food} ${i}"},
		{"kelly.Item.Str", pr.Item.Str, true},
		{"kelly.Item.Pos", pr.Item.Pos, "dir/f.yaml:21:11"},
		{"kelly.Item.Text.Pos", pr.Item.Text.Pos, "dir/f.yaml:21:11"},
		{"kelly.Print.Text.Value", pr.Print.Text.Value, "${name} Produced ${item}"},
		{"kelly.Print.Pos", pr.Print.Pos, "dir/f.yaml:22:12"},

		{"peter.Name", peter.Name, "peter"},
		{"peter.Pos", peter.Pos, "dir/f.yaml:24:11"},
		{"peter.From", peter.From, Ref{Name: "raw", Pos: Pos{File: "dir/f.yaml", Line: 25, Col: 11}, Set: true}},
		{"peter.Replicas", peter.Replicas, 3},
		{"peter.ReplicasPos", peter.ReplicasPos, "dir/f.yaml:26:15"},
		{"peter.When.Text.Value", peter.When.Text.Value, `item != ""`},
		{"peter.When.Pos", peter.When.Pos, "dir/f.yaml:27:11"},
		{"peter.Steps[0].Action", peter.Steps[0].Action, "sleep"},
		{"peter.Steps[0].ActionPos", peter.Steps[0].ActionPos, "dir/f.yaml:29:9"},
		{"peter.Steps[0].Arg.Text.Value", peter.Steps[0].Arg.Text.Value, "100ms"},
		{"peter.Steps[0].Arg.Pos", peter.Steps[0].Arg.Pos, "dir/f.yaml:29:16"},
		{"peter.Steps[1].Action", peter.Steps[1].Action, "emit"},
		{"peter.Steps[1].ActionPos", peter.Steps[1].ActionPos, "dir/f.yaml:30:9"},
		{"peter.Steps[1].Arg.Pos", peter.Steps[1].Arg.Pos, "dir/f.yaml:30:15"},
		{"peter.To", peter.To, Ref{Name: "cooked", Pos: Pos{File: "dir/f.yaml", Line: 31, Col: 9}, Set: true}},

		{"eater.Pos", eater.Pos, "dir/f.yaml:32:11"},
		{"eater.From", eater.From, Ref{Name: "cooked", Pos: Pos{File: "dir/f.yaml", Line: 33, Col: 11}, Set: true}},
		{"eater.Replicas", eater.Replicas, 1},
		{"eater.ReplicasPos", eater.ReplicasPos, "-"},
		{"eater.When", eater.When, (*Value)(nil)},
		{"eater.Steps[0].Action", eater.Steps[0].Action, "print"},
		{"eater.Steps[0].Arg.Pos", eater.Steps[0].Arg.Pos, "dir/f.yaml:35:16"},
		{"eater.To", eater.To, Ref{}},

		{"QueueNames", pl.QueueNames(), []string{"cooked", "raw"}},
		{"Queue(nope)", pl.Queue("nope"), (*Queue)(nil)},
	})
	if q := pl.Queue("cooked"); q == nil || q != &pl.Queues[1] {
		t.Errorf("Queue(cooked) = %v, want a pointer to Queues[1]", q)
	}
}

func TestParseDefaults(t *testing.T) {
	src := `producers:
  - name: p
    count: 2
    item: x
consumers:
  - name: c
    do:
      - print: "${item}"
`
	pl, ds := Parse("pipelines/fruit.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("Parse returned diagnostics:\n%v", ds)
	}
	checks(t, [][3]any{
		{"Name", pl.Name, "fruit"},
		{"Vars", pl.Vars, []Var(nil)},
		{"Queues", pl.Queues, []Queue{{Name: "main", Pos: Pos{File: "pipelines/fruit.yaml"}, Capacity: 1000, Implicit: true}}},
		{"Shutdown", pl.Shutdown, Shutdown{Strategy: Close, Grace: 10 * time.Second}},
		{"p.To", pl.Producers[0].To, Ref{Name: "main"}},
		{"p.Replicas", pl.Producers[0].Replicas, 1},
		{"p.Count", pl.Producers[0].Count, 2},
		{"p.Delay", pl.Producers[0].Delay, (*Value)(nil)},
		{"p.Print", pl.Producers[0].Print, (*Value)(nil)},
		{"c.From", pl.Consumers[0].From, Ref{Name: "main"}},
		{"c.To", pl.Consumers[0].To, Ref{}},
		{"c.Replicas", pl.Consumers[0].Replicas, 1},
		{"QueueNames", pl.QueueNames(), []string{"main"}},
	})
	if DefaultCapacity != 1000 || DefaultGrace != 10*time.Second {
		t.Errorf("DefaultCapacity, DefaultGrace = %d, %v; DESIGN.md says 1000, 10s", DefaultCapacity, DefaultGrace)
	}
}

func TestParseQueueDefaults(t *testing.T) {
	src := `queues:
  main:
  big:
    capacity: unbounded
producers:
  - name: p
    to: big
    count: 1
    item: x
`
	pl, ds := Parse("f.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("Parse returned diagnostics:\n%v", ds)
	}
	want := []Queue{
		{Name: "main", Pos: Pos{File: "f.yaml", Line: 2, Col: 3}, Capacity: DefaultCapacity},
		{Name: "big", Pos: Pos{File: "f.yaml", Line: 3, Col: 3}, Capacity: DefaultCapacity, Unbounded: true},
	}
	if !reflect.DeepEqual(pl.Queues, want) {
		t.Errorf("Queues = %+v, want %+v", pl.Queues, want)
	}
}

func TestParseValueKinds(t *testing.T) {
	src := `producers:
  - name: p
    count: 1
    item: {n: 1, ok: true, none: null, s: "x", l: [1.5, b]}
`
	pl, ds := Parse("f.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("Parse returned diagnostics:\n%v", ds)
	}
	v := pl.Producers[0].Item
	if v.Kind != MapValue || len(v.Keys) != 5 || len(v.Elems) != 5 {
		t.Fatalf("item = kind %v with %d keys, %d elems; want a map of 5", v.Kind, len(v.Keys), len(v.Elems))
	}
	var keys []string
	for _, k := range v.Keys {
		keys = append(keys, k.Value)
	}
	l := v.Elems[4]
	checks(t, [][3]any{
		{"keys", keys, []string{"n", "ok", "none", "s", "l"}},
		{"n", [2]any{v.Elems[0].Str, v.Elems[0].Const}, [2]any{false, 1}},
		{"ok", [2]any{v.Elems[1].Str, v.Elems[1].Const}, [2]any{false, true}},
		{"none", [2]any{v.Elems[2].Str, v.Elems[2].Const}, [2]any{false, nil}},
		{"s", [2]any{v.Elems[3].Str, v.Elems[3].Text.Value}, [2]any{true, "x"}},
		{"l.Kind", l.Kind, ListValue},
		{"l[0]", l.Elems[0].Const, 1.5},
		{"l[1]", [2]any{l.Elems[1].Str, l.Elems[1].Text.Value}, [2]any{true, "b"}},
		{"l[1].Pos", l.Elems[1].Pos, "f.yaml:4:57"},
		{"n key Pos", v.Keys[0].Pos, "f.yaml:4:12"},
	})
}

// diag is a diagnostic written compactly for tables.
func diag(d Diagnostic) string {
	return d.Pos.String() + " " + d.Severity.String() + " " + d.Code + ": " + d.Message + " | " + d.Hint
}

func TestParseDiagnostics(t *testing.T) {
	const stage = "producers:\n  - name: p\n    count: 1\n    item: x\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "empty file", src: "",
			want: []string{"f.yaml:1:1 error no-stages: the pipeline file is empty | declare at least one producer, e.g.\n\tproducers:\n\t  - name: p\n\t    count: 3\n\t    item: \"item ${i}\""}},
		{name: "no stages", src: "name: x\n",
			want: []string{"f.yaml:1:1 error no-stages: the pipeline has no stages | add a `producers:` list"}},
		{name: "misspelt required key", src: "producers:\n  - name: p\n    cunt: 3\n    item: x\n",
			want: []string{"f.yaml:3:5 error unknown-field: unknown key `cunt` in producer `p` | did you mean `count`?"}},
		{name: "missing required key", src: "producers:\n  - name: p\n    item: x\n",
			want: []string{"f.yaml:2:5 error missing-field: producer `p` is missing required key `count` | add `count:` to producer `p`"}},
		{name: "duplicate key", src: "name: a\nname: b\n" + stage,
			want: []string{"f.yaml:2:1 error duplicate-key: key `name` is given twice in the pipeline | remove one of them (the first is at line 1)"}},
		{name: "capacity below 1", src: "queues:\n  main:\n    capacity: 0\n" + stage,
			want: []string{"f.yaml:3:15 error bad-capacity: capacity 0 is less than 1 | " + capacityHint}},
		{name: "capacity not a number", src: "queues:\n  main:\n    capacity: lots\n" + stage,
			want: []string{"f.yaml:3:15 error bad-capacity: capacity must be a whole number or `unbounded`, not \"lots\" | " + capacityHint}},
		{name: "misspelt strategy", src: "shutdown:\n  strategy: clsoe\n" + stage,
			want: []string{"f.yaml:2:13 error bad-value: unknown shutdown strategy \"clsoe\" | did you mean `close`? (close, sentinel, join or none)"}},
		{name: "duration without unit", src: "shutdown:\n  grace: 10\n" + stage,
			want: []string{"f.yaml:2:10 error bad-duration: grace: \"10\" has no unit | " + DurationHint}},
		{name: "misspelt queue", src: "producers:\n  - name: p\n    to: mian\n    count: 1\n    item: x\n",
			want: []string{"f.yaml:3:9 error undefined-queue: undefined queue `mian` | did you mean `main`?"}},
		{name: "duplicate stage name", src: stage + "consumers:\n  - name: p\n",
			want: []string{"f.yaml:6:11 error duplicate-name: duplicate stage name `p` | stage names must be unique; the other `p` is at line 2"}},
		{name: "version 2", src: "version: 2\n" + stage,
			want: []string{"f.yaml:1:10 error bad-version: unsupported version 2: this pcrun reads version 1 | write `version: 1` or leave it out"}},
		{name: "reported in file order", src: "producers:\n  - name: p\n    count: -1\n    item: x\nshutdown:\n  strategy: x\n  grace: 1\n",
			want: []string{
				"f.yaml:3:12 error out-of-range: count must not be negative, not -1 | count is how many items each replica makes; use 0 or more",
				"f.yaml:6:13 error bad-value: unknown shutdown strategy \"x\" | expected one of: `close`, `sentinel`, `join`, `none` (close, sentinel, join or none)",
				"f.yaml:7:10 error bad-duration: grace: \"1\" has no unit | " + DurationHint,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := Parse("f.yaml", []byte(tt.src))
			var got []string
			for _, d := range ds {
				got = append(got, diag(d))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fruit.yaml")
	if err := os.WriteFile(path, []byte(fullFile), 0o644); err != nil {
		t.Fatal(err)
	}
	pl, ds := Load(path)
	if len(ds) != 0 || pl == nil {
		t.Fatalf("Load = %v, %v; want a pipeline and no diagnostics", pl, ds)
	}
	if pl.File != path || pl.Name != "fruit" {
		t.Errorf("File, Name = %q, %q; want %q, fruit", pl.File, pl.Name, path)
	}
	if got := pl.Producers[0].Pos.File; got != path {
		t.Errorf("positions name %q, want %q", got, path)
	}

	missing := filepath.Join(dir, "missing.yaml")
	pl, ds = Load(missing)
	if pl != nil {
		t.Errorf("Load(missing) returned a pipeline")
	}
	want := []string{missing + " error read: cannot read pipeline file: no such file or directory | check the path"}
	var got []string
	for _, d := range ds {
		got = append(got, diag(d))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(missing) diagnostics = %q, want %q", got, want)
	}
}

func TestBase(t *testing.T) {
	for in, want := range map[string]string{
		"fruit.yaml":          "fruit",
		"a/b/fruit.yml":       "fruit",
		"a/fruit.stage2.yaml": "fruit.stage2",
		"noext":               "noext",
	} {
		if got := Base(in); got != want {
			t.Errorf("Base(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "1h", want: time.Hour},
		{in: "1.5s", want: 1500 * time.Millisecond},
		{in: " 2s ", want: 2 * time.Second},
		{in: "0s", want: 0},
		{in: "0", want: 0},
		{in: "10", wantErr: `"10" has no unit`},
		{in: "1.5", wantErr: `"1.5" has no unit`},
		{in: "-1s", wantErr: `"-1s" is negative`},
		{in: "-1ns", wantErr: `"-1ns" is negative`},
		{in: "1d", wantErr: `"1d" is not a duration`},
		{in: "soon", wantErr: `"soon" is not a duration`},
		{in: "", wantErr: `"" is not a duration`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseDuration(%q): unexpected error %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
		case got != tt.want:
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSetVar(t *testing.T) {
	const src = "vars:\n  food: watermelon\n  n: 3\n  flag: true\nproducers:\n  - name: p\n    count: 1\n    item: x\n"
	tests := []struct {
		name, set, value string
		want             any    // the var's value after SetVar
		wantErr          string // substring of the error
	}{
		{name: "string var keeps value as written", set: "food", value: "banana", want: "banana"},
		{name: "string var takes digits as a string", set: "food", value: "42", want: "42"},
		{name: "number var takes YAML", set: "n", value: "7", want: 7},
		{name: "number var takes a float", set: "n", value: "2.5", want: 2.5},
		{name: "bool var takes YAML", set: "flag", value: "false", want: false},
		{name: "invalid YAML", set: "n", value: "[", wantErr: `--set n: "[" is not a YAML value`},
		{name: "typo", set: "fod", value: "x", wantErr: "--set fod: the pipeline has no var `fod`; did you mean `food`?"},
		{name: "unknown far name", set: "zzzzzz", value: "x", wantErr: "--set zzzzzz: the pipeline has no var `zzzzzz`; expected one of: `food`, `n`, `flag`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, ds := Parse("f.yaml", []byte(src))
			if len(ds) != 0 {
				t.Fatal(ds)
			}
			before := append([]Var(nil), pl.Vars...)
			err := pl.SetVar(tt.set, tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SetVar(%q, %q) error = %v, want one containing %q", tt.set, tt.value, err, tt.wantErr)
				}
				if !reflect.DeepEqual(pl.Vars, before) {
					t.Errorf("a failed SetVar changed the vars: %+v", pl.Vars)
				}
				return
			}
			if err != nil {
				t.Fatalf("SetVar(%q, %q): %v", tt.set, tt.value, err)
			}
			for i, v := range pl.Vars {
				want := before[i].Value
				if v.Name == tt.set {
					want = tt.want
				}
				if !reflect.DeepEqual(v.Value, want) {
					t.Errorf("var %s = %#v, want %#v", v.Name, v.Value, want)
				}
			}
		})
	}
}

func TestSetVarWithoutVars(t *testing.T) {
	pl := &Pipeline{}
	err := pl.SetVar("food", "x")
	want := "--set food: the pipeline has no var `food`; the file declares no vars; add them under `vars:`"
	if err == nil || err.Error() != want {
		t.Errorf("SetVar on a file without vars = %v, want %q", err, want)
	}
}

// `count` and `replicas` take a template of vars and env, kept for stages
// to evaluate; a string without `${` is still not an integer.
func TestParseCountTemplates(t *testing.T) {
	pl, ds := Parse("f.yaml", []byte("vars: {n: 2}\nproducers:\n  - name: p\n    count: \"${n * 2}\"\n    replicas: \"${n}\"\n    item: x\n"))
	if pl == nil || len(ds) > 0 {
		t.Fatal(ds)
	}
	p := pl.Producers[0]
	checks(t, [][3]any{
		{"count template", p.CountTemplate != nil && p.CountTemplate.Text.Value == "${n * 2}", true},
		{"count set", p.CountSet, true},
		{"count pos", p.CountPos, "f.yaml:4:12"},
		{"replicas template", p.ReplicasTemplate != nil && p.ReplicasTemplate.Text.Value == "${n}", true},
		{"replicas until compiled", p.Replicas, 1},
		{"replicas pos", p.ReplicasPos, "f.yaml:5:15"},
	})
	_, ds = Parse("f.yaml", []byte("producers:\n  - name: p\n    count: \"n\"\n    item: x\n"))
	if len(ds) != 1 || ds[0].Message != `count must be an integer, not the string "n"` || ds[0].Hint != countHint {
		t.Errorf("got %v", ds)
	}
}
