package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const testedPipeline = `vars:
  food: apple
  n: 1
queues:
  main: {capacity: 2}
  out: {}
producers:
  - name: kelly
    to: main
    count: 3
    item: "${food} ${i}"
consumers:
  - name: peter
    from: main
    to: out
    replicas: 3
    do:
      - emit: "${item}"
  - name: sink
    from: out
    do:
      - print: "${item}"
`

const testedCases = `tests:
  - name: full
    set: {food: 42, n: [1, 2]}
    count: {kelly: 0}
    replicas: {peter: 1, sink: 2}
    timeout: 5s
    expect:
      exit: deadlock
      stdout: [a, 7, ""]
      stdout_unordered: [b]
      stdout_contains: []
      queues:
        out: [x, {a: 1}]
      ledger: {done: 3, produced: 4}
  - name: defaults
`

func TestParseTestsInline(t *testing.T) {
	pl, ds := Parse("p.yaml", []byte(testedPipeline+testedCases))
	if len(ds) > 0 {
		t.Fatalf("diagnostics:\n%v", ds)
	}
	if len(pl.Tests) != 2 {
		t.Fatalf("%d tests, want 2", len(pl.Tests))
	}
	at := func(line, col int) Pos { return Pos{File: "p.yaml", Line: line, Col: col} }
	full := pl.Tests[0]
	e := full.Expect
	checks(t, [][3]any{
		{"name", full.Name, "full"},
		{"name pos", full.Pos, "p.yaml:24:11"},
		{"set", full.Set, []TestVar{{Name: "food", Pos: at(25, 11), Value: 42}, {Name: "n", Pos: at(25, 21), Value: []any{1, 2}}}},
		{"count", full.Count, []TestCount{{Stage: "kelly", Pos: at(26, 13), N: 0}}},
		{"replicas", full.Replicas, []TestCount{{Stage: "peter", Pos: at(27, 16), N: 1}, {Stage: "sink", Pos: at(27, 26), N: 2}}},
		{"timeout", full.Timeout, 5 * time.Second},
		{"exit", e.Exit, 3},
		{"exit pos", e.ExitPos, "p.yaml:30:13"},
		{"stdout", e.Stdout, &Lines{Pos: at(31, 15), Lines: []Line{{"a", at(31, 16)}, {"7", at(31, 19)}, {"", at(31, 22)}}}},
		{"stdout_unordered", e.StdoutUnordered.Texts(), []string{"b"}},
		{"stdout_contains", e.StdoutContains, &Lines{Pos: at(33, 24), Lines: []Line{}}},
		{"queues", e.Queues, []QueueItems{{Queue: "out", Pos: at(35, 9), Items: []TestItem{
			{Value: "x", Pos: at(35, 15)}, {Value: map[string]any{"a": 1}, Pos: at(35, 18)}}}}},
		{"ledger", e.Ledger, []Total{{Key: "done", Pos: at(36, 22), N: 3}, {Key: "produced", Pos: at(36, 35), N: 4}}},
	})
	def := pl.Tests[1]
	checks(t, [][3]any{
		{"default timeout", def.Timeout, DefaultTestTimeout},
		{"default exit", def.Expect.Exit, 0},
		{"no exit pos", def.Expect.ExitPos.IsValid(), false},
		{"no stdout check", def.Expect.Stdout == nil && def.Expect.StdoutUnordered == nil && def.Expect.StdoutContains == nil, true},
	})
}

func TestParseTestsSibling(t *testing.T) {
	pl, ds := Parse("dir/p.yaml", []byte(testedPipeline+"tests:\n  - name: inline\n"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	ds = ParseTests("dir/p.test.yaml", []byte("# cases\ntests:\n  - name: sibling\n    expect: {exit: failed}\n"), pl)
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	if len(pl.Tests) != 2 || pl.Tests[1].Name != "sibling" || pl.Tests[1].Expect.Exit != 1 {
		t.Fatalf("tests: %+v", pl.Tests)
	}
	if got, want := pl.Tests[1].Pos, (Pos{File: "dir/p.test.yaml", Line: 3, Col: 11}); got != want {
		t.Errorf("sibling case at %v, want %v", got, want)
	}
}

func TestParseTestsDiagnostics(t *testing.T) {
	for _, c := range []struct {
		name, cases string
		sibling     bool
		want        []string // diag() of each diagnostic, in order
	}{
		{"unknown case key", "tests:\n  - name: x\n    expcet: {}\n", false,
			[]string{"p.yaml:25:5 error unknown-field: unknown key `expcet` in test \"x\" | did you mean `expect`?"}},
		{"unknown expect key", "tests:\n  - name: x\n    expect: {stdot: []}\n", false,
			[]string{"p.yaml:25:14 error unknown-field: unknown key `stdot` in expect | did you mean `stdout`?"}},
		{"unknown ledger key", "tests:\n  - name: x\n    expect: {ledger: {don: 1}}\n", false,
			[]string{"p.yaml:25:23 error unknown-field: unknown key `don` in ledger | did you mean `done`?"}},
		{"missing name", "tests:\n  - expect: {}\n", false,
			[]string{"p.yaml:24:5 error missing-field: test #1 is missing required key `name` | add `name:` to test #1"}},
		{"duplicate name", "tests:\n  - name: x\n  - name: x\n", false,
			[]string{"p.yaml:25:11 error duplicate-name: duplicate test name \"x\" | test names must be unique; the other \"x\" is at line 24"}},
		{"duplicate across files", "tests:\n  - name: inline\n", true,
			[]string{"p.test.yaml:2:11 error duplicate-name: duplicate test name \"inline\" | test names must be unique; the other \"inline\" is at p.yaml:24:11"}},
		{"not a list", "tests: {name: x}\n", false,
			[]string{"p.yaml:23:8 error wrong-type: tests must be a list, not a mapping | write tests as a list: each entry starts with `- name: ...`"}},
		{"references", "tests:\n  - name: x\n    set: {fod: 1}\n    count: {kely: 1, peter: 2}\n    replicas: {snk: 2}\n    expect: {queues: {ot: []}}\n", false,
			[]string{
				"p.yaml:25:11 error bad-var: set: unknown var `fod` | did you mean `food`?",
				"p.yaml:26:13 error unknown-field: count: unknown producer `kely` | did you mean `kelly`?",
				"p.yaml:26:22 error unknown-field: count: `peter` is a consumer, not a producer | count is how many items a producer makes; expected one of: `kelly`",
				"p.yaml:27:16 error unknown-field: replicas: unknown stage `snk` | did you mean `sink`?",
				"p.yaml:28:23 error undefined-queue: expect.queues: undefined queue `ot` | did you mean `out`?",
			}},
		{"wrong types", "tests:\n  - name: [x]\n    count: {kelly: -1}\n    replicas: {peter: 0}\n    timeout: 0s\n    expect: {exit: 2, stdout: [a: b, [c], ~], ledger: {done: -1}}\n", false,
			[]string{
				"p.yaml:24:11 error wrong-type: a test name must be a string, not a list | ",
				"p.yaml:25:20 error out-of-range: count of `kelly` must be at least 0, not -1 | use 0 or more",
				"p.yaml:26:23 error out-of-range: replicas of `peter` must be at least 1, not 0 | use 1 or more",
				"p.yaml:27:14 error bad-duration: timeout must be longer than 0 | leave timeout out for the default 1m0s",
				"p.yaml:28:20 error out-of-range: a test cannot expect exit 2 | exit 2 means an invalid file or bad usage, and `pcrun test` runs only valid files; write 0 or ok, 1 or failed, 3 or deadlock, 130 or interrupted",
				"p.yaml:28:32 error wrong-type: each line of stdout must be a string, not a mapping | quote the line: a `: ` inside it makes YAML read a mapping, e.g. - \"a: b\"",
				"p.yaml:28:38 error wrong-type: each line of stdout must be a string, not a list | write one string per line",
				"p.yaml:28:43 error wrong-type: a line of stdout has no value | write an empty line as \"\"",
				"p.yaml:28:62 error out-of-range: ledger.done must not be negative, not -1 | a total counts items: use 0 or more",
			}},
		{"exit words", "tests:\n  - name: x\n    expect: {exit: deadlok}\n  - name: y\n    expect: {exit: 4}\n", false,
			[]string{
				"p.yaml:25:20 error bad-value: unknown exit \"deadlok\" | did you mean `deadlock`? (write 0 or ok, 1 or failed, 3 or deadlock, 130 or interrupted)",
				"p.yaml:27:20 error out-of-range: pcrun never exits 4 | write 0 or ok, 1 or failed, 3 or deadlock, 130 or interrupted",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ds Diagnostics
			if c.sibling {
				pl, pds := Parse("p.yaml", []byte(testedPipeline+"tests:\n  - name: inline\n"))
				if len(pds) > 0 {
					t.Fatal(pds)
				}
				ds = ParseTests("p.test.yaml", []byte(c.cases), pl)
			} else {
				_, ds = Parse("p.yaml", []byte(testedPipeline+c.cases))
			}
			var got []string
			for _, d := range ds {
				got = append(got, diag(d))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestParseTestsFileShape(t *testing.T) {
	pl, _ := Parse("p.yaml", []byte(testedPipeline))
	for _, c := range []struct{ src, want string }{
		{"", "p.test.yaml:1:1 error missing-field: the test file is empty"},
		{"# only a comment\n", "p.test.yaml:1:1 error missing-field: the test file is empty"},
		{"tests: []\nproducers: []\n", "p.test.yaml:2:1 error unknown-field: unknown key `producers` in the test file"},
	} {
		ds := ParseTests("p.test.yaml", []byte(c.src), pl)
		if len(ds) != 1 || !strings.HasPrefix(diag(ds[0]), c.want) {
			t.Errorf("%q: got %v, want %s", c.src, ds, c.want)
		}
	}
}

func TestTestFileNames(t *testing.T) {
	if got := TestFile("examples/fruit.yaml"); got != "examples/fruit.test.yaml" {
		t.Errorf("TestFile: %q", got)
	}
	if got := TestFile("a.yml"); got != "a.test.yml" {
		t.Errorf("TestFile: %q", got)
	}
	for in, want := range map[string]string{
		"examples/fruit.test.yaml": "examples/fruit.yaml",
		"a.test.yml":               "a.yml",
		"examples/fruit.yaml":      "",
		"dir/.test.yaml":           "",
		"a.test.json":              "",
	} {
		got, ok := PipelineOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("PipelineOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestWithTest(t *testing.T) {
	pl, ds := Parse("p.yaml", []byte(testedPipeline+testedCases))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	before := *pl
	varsBefore := append([]Var(nil), pl.Vars...)
	out := pl.WithTest(&pl.Tests[0])
	checks(t, [][3]any{
		{"food", out.Vars[0].Value, 42},
		{"n", out.Vars[1].Value, []any{1, 2}},
		{"count", out.Producers[0].Count, 0},
		{"kelly replicas", out.Producers[0].Replicas, 1},
		{"peter replicas", out.Consumers[0].Replicas, 1},
		{"sink replicas", out.Consumers[1].Replicas, 2},
		// pl itself is unchanged.
		{"vars unchanged", pl.Vars, varsBefore},
		{"count unchanged", pl.Producers[0].Count, 3},
		{"replicas unchanged", pl.Consumers[0].Replicas, 3},
		{"same pipeline", reflect.DeepEqual(before.Queues, out.Queues), true},
	})
}
