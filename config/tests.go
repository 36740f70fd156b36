package config

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A pipeline's tests are cases that `pcrun test` runs against it: each
// overrides some vars, counts or replicas, runs the pipeline without its
// delays, and compares what came out (exit code, stdout lines, the items
// put into queues, the ledger) with what it expects. They are written under
// a top-level `tests:` key of the pipeline file, or of a sibling test file
// NAME.test.yaml that holds nothing else (see TestFile and ParseTests).

// ParseTests parses the contents of a test file: a mapping with only
// `tests:`, the cases of pipeline pl. It appends them to pl.Tests and
// checks them against pl as Parse checks the cases of the pipeline file
// (references to vars, producers, stages and queues; case names unique
// across both files). file names it in diagnostics.
func ParseTests(file string, src []byte, pl *Pipeline) Diagnostics {
	p := &parser{file: file, lines: splitLines(decodeText(src))}
	var probe yaml.Node
	if yaml.Unmarshal(src, &probe) == nil && len(probe.Content) == 0 {
		p.diags.Errorf(Pos{File: file, Line: 1, Col: 1}, CodeMissing,
			"write the cases under `tests:`, e.g.\n\ttests:\n\t  - name: runs\n\t    expect: {exit: ok}", "the test file is empty")
		return p.diags
	}
	root, ok := p.decode(src)
	if !ok {
		return p.diags
	}
	from := len(pl.Tests)
	p.mapping(root, "the test file", []field{p.testsField(pl)})
	p.checkTests(pl, from)
	p.diags.Sort()
	return p.diags
}

// testsField is the top-level `tests` key, of a pipeline file or a test file.
func (p *parser) testsField(pl *Pipeline) field {
	return field{name: "tests",
		doc: "Test cases that `pcrun test` runs against this pipeline, without its delays: each may override vars, " +
			"counts and replicas and says what it expects (exit code, stdout lines, items put into queues, the ledger). " +
			"See docs/testing.md. They may also live in a sibling file NAME.test.yaml.",
		schema: func() *Schema { return &Schema{Type: "array", Items: object(p.testFields(&Test{}))} },
		parse: func(_, v *yaml.Node) {
			p.list(v, "tests", "name: ...", func(i int, n *yaml.Node) { pl.Tests = append(pl.Tests, p.test(n, i)) })
		}}
}

func (p *parser) test(n *yaml.Node, i int) Test {
	t := Test{Pos: p.pos(n), Timeout: DefaultTestTimeout}
	what := fmt.Sprintf("test #%d", i+1)
	if r := resolve(n); r.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(r.Content); j += 2 {
			if r.Content[j].Value == "name" && resolve(r.Content[j+1]).Kind == yaml.ScalarNode {
				what = fmt.Sprintf("test %q", resolve(r.Content[j+1]).Value)
			}
		}
	}
	p.mapping(n, what, p.testFields(&t))
	return t
}

func (p *parser) testFields(t *Test) []field {
	return []field{
		{name: "name", required: true,
			doc:    "The case's name, unique among the pipeline's tests; `pcrun test --run REGEXP` selects cases by it.",
			schema: func() *Schema { return &Schema{Type: "string", Pattern: `\S`} },
			parse:  func(_, v *yaml.Node) { p.testName(v, t) }},
		{name: "set",
			doc:    "Vars to override for this case, e.g. `food: banana`, as `pcrun run --set` does; values keep their YAML types. Each must be a declared var.",
			schema: func() *Schema { return &Schema{Type: "object", PropertyNames: &Schema{Pattern: identifierRE.String()}} },
			parse:  func(_, v *yaml.Node) { t.Set = p.testVars(v) }},
		{name: "count",
			doc: "Producer counts to override for this case, e.g. `kelly: 1`: how many items each replica makes (0 or more).",
			schema: func() *Schema {
				return &Schema{Type: "object", PropertyNames: nameSchema(), AdditionalProperties: &Schema{Type: "integer", Minimum: ptr(0)}}
			},
			parse: func(_, v *yaml.Node) { t.Count = p.testCounts(v, "count", 0) }},
		{name: "replicas",
			doc: "Stage replicas to override for this case, e.g. `peter: 1`, so that lines naming `${worker}` come out the same on every run.",
			schema: func() *Schema {
				return &Schema{Type: "object", PropertyNames: nameSchema(),
					AdditionalProperties: &Schema{Type: "integer", Minimum: ptr(1), Maximum: ptr(MaxReplicas)}}
			},
			parse: func(_, v *yaml.Node) { t.Replicas = p.testCounts(v, "replicas", 1) }},
		{name: "stdin",
			doc:    "The input of a producer that reads stdin (`lines: -` or `jsonl: -`) in this case, e.g. a block scalar `|` of lines. Default: empty.",
			schema: func() *Schema { return &Schema{Type: "string"} },
			parse: func(_, v *yaml.Node) {
				if s, ok := p.str(v, "stdin"); ok {
					t.Stdin = s
				}
			}},
		{name: "timeout", def: DefaultTestTimeout.String(),
			doc:    "How long the case may run before it fails, a Go duration such as 10s. The pipeline's own deadline and grace still apply.",
			schema: positiveDurationSchema,
			parse: func(_, v *yaml.Node) {
				if d, ok := p.positiveDuration(v, "timeout", "leave timeout out for the default "+DefaultTestTimeout.String()); ok {
					t.Timeout = d
				}
			}},
		{name: "expect",
			doc:    "What the run must give. Only what is written is checked, except `exit`, which is 0 (ok) unless given.",
			schema: func() *Schema { return object(p.expectFields(&t.Expect)) },
			parse:  func(_, v *yaml.Node) { p.mapping(v, "expect", p.expectFields(&t.Expect)) }},
	}
}

// testName reads a test's `name`: any string that is not blank.
func (p *parser) testName(v *yaml.Node, t *Test) {
	s, ok := p.str(v, "a test name")
	if ok && strings.TrimSpace(s) == "" {
		p.diags.Errorf(p.pos(v), CodeMissing, "name the case, e.g. name: eats every fruit", "a test name must not be blank")
		return
	}
	if ok {
		t.Name, t.Pos = s, p.pos(v)
	}
}

func (p *parser) expectFields(e *Expect) []field {
	var words, codes []any
	for _, w := range exitWords {
		words, codes = append(words, w.word), append(codes, w.code)
	}
	lines := func() *Schema { return &Schema{Type: "array", Items: scalarSchema()} }
	return []field{
		{name: "exit", def: 0,
			doc: "The exit code `pcrun run` would give: 0 or ok, 1 or failed (items failed or abandoned), 3 or deadlock, 130 or interrupted.",
			schema: func() *Schema {
				return &Schema{AnyOf: []*Schema{{Type: "integer", Enum: codes}, {Type: "string", Enum: words}}}
			},
			parse: func(_, v *yaml.Node) { p.exit(v, e) }},
		{name: "stdout",
			doc:    "Every line printed to stdout, in order: the whole output.",
			schema: lines,
			parse:  func(_, v *yaml.Node) { e.Stdout = p.lineList(v, "stdout") }},
		{name: "stdout_unordered",
			doc:    "Every line printed to stdout, in any order: the same lines as often as listed, the whole output.",
			schema: lines,
			parse:  func(_, v *yaml.Node) { e.StdoutUnordered = p.lineList(v, "stdout_unordered") }},
		{name: "stdout_contains",
			doc:    "Lines that must each be printed to stdout (as often as listed), among any others.",
			schema: lines,
			parse:  func(_, v *yaml.Node) { e.StdoutContains = p.lineList(v, "stdout_contains") }},
		{name: "queues",
			doc: "For each queue named, every item put into it during the run, in any order. An item that is a string is compared " +
				"with the item's text as `print` would show it; a mapping or list is compared key by key and element by element.",
			schema: func() *Schema {
				return &Schema{Type: "object", PropertyNames: nameSchema(), AdditionalProperties: &Schema{Type: "array"}}
			},
			parse: func(_, v *yaml.Node) { e.Queues = p.queueItems(v) }},
		{name: "ledger",
			doc:    "End-of-run totals over every stage; only the totals given are checked.",
			schema: func() *Schema { return object(p.ledgerFields(e)) },
			parse:  func(_, v *yaml.Node) { p.mapping(v, "ledger", p.ledgerFields(e)) }},
	}
}

func (p *parser) ledgerFields(e *Expect) []field {
	docs := map[string]string{
		"produced":      "Items put into a queue by producers, `emit` steps, dead letters and replay.",
		"done":          "Items whose consumer's steps all ran.",
		"filtered":      "Items a consumer's `when` turned away.",
		"failed":        "Items whose `item` template, delay or consumer step failed after every attempt.",
		"skipped":       "Failed items a consumer's `on_error: skip` passed over.",
		"dead_lettered": "Failed items put into a dead-letter queue.",
		"abandoned":     "Items produced but never finished: left in a queue, or interrupted.",
	}
	var fs []field
	for _, k := range LedgerKeys {
		fs = append(fs, field{name: k, doc: docs[k],
			schema: func() *Schema { return &Schema{Type: "integer", Minimum: ptr(0)} },
			parse: func(_, v *yaml.Node) {
				n, ok := p.integer(v, "ledger."+k)
				if ok && n < 0 {
					p.diags.Errorf(p.pos(v), CodeRange, "a total counts items: use 0 or more", "ledger.%s must not be negative, not %d", k, n)
					return
				}
				if ok {
					e.Ledger = append(e.Ledger, Total{Key: k, Pos: p.pos(v), N: int64(n)})
				}
			}})
	}
	return fs
}

func (p *parser) exit(v *yaml.Node, e *Expect) {
	r := resolve(v)
	hint := "write 0 or ok, 1 or failed, 3 or deadlock, 130 or interrupted"
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
		var words []string
		for _, w := range exitWords {
			if w.word == r.Value {
				e.Exit, e.ExitPos = w.code, p.pos(v)
				return
			}
			words = append(words, w.word)
		}
		p.diags.Errorf(p.pos(v), CodeEnum, DidYouMean(r.Value, words)+" ("+hint+")", "unknown exit %q", r.Value)
		return
	}
	n, ok := p.integer(v, "exit")
	if !ok {
		return
	}
	if n == 2 {
		p.diags.Errorf(p.pos(v), CodeRange, "exit 2 means an invalid file or bad usage, and `pcrun test` runs only valid files; "+hint,
			"a test cannot expect exit 2")
		return
	}
	if ExitWord(n) == "" {
		p.diags.Errorf(p.pos(v), CodeRange, hint, "pcrun never exits %d", n)
		return
	}
	e.Exit, e.ExitPos = n, p.pos(v)
}

// lineList reads a list of expected stdout lines. Numbers and booleans are
// taken as written; a mapping is almost always a line with an unquoted
// `: `.
func (p *parser) lineList(v *yaml.Node, what string) *Lines {
	ls := &Lines{Pos: p.pos(v), Lines: []Line{}}
	ok := true
	p.list(v, what, `line`, func(_ int, n *yaml.Node) {
		r := resolve(n)
		switch {
		case r.Kind == yaml.MappingNode:
			p.diags.Errorf(p.pos(n), CodeType, "quote the line: a `: ` inside it makes YAML read a mapping, e.g. - \"a: b\"",
				"each line of %s must be a string, not a mapping", what)
			ok = false
		case r.Kind != yaml.ScalarNode:
			p.diags.Errorf(p.pos(n), CodeType, "write one string per line", "each line of %s must be a string, not %s", what, describe(r))
			ok = false
		case r.ShortTag() == "!!null":
			p.diags.Errorf(p.pos(n), CodeType, `write an empty line as ""`, "a line of %s has no value", what)
			ok = false
		default:
			ls.Lines = append(ls.Lines, Line{Text: r.Value, Pos: p.pos(n)})
		}
	})
	if !ok || resolve(v).Kind != yaml.SequenceNode {
		return nil
	}
	return ls
}

// testVars reads `set`: var names to values.
func (p *parser) testVars(n *yaml.Node) []TestVar {
	var out []TestVar
	p.entries(n, "e.g. set: {food: banana}", "set must be a mapping of var names to values, not %s", "var `%s` is set twice", func(k, v *yaml.Node) {
		var val any
		if err := resolve(v).Decode(&val); err != nil {
			p.diags.Errorf(p.pos(v), CodeType, "", "set `%s`: %v", k.Value, err)
			return
		}
		out = append(out, TestVar{Name: k.Value, Pos: p.pos(k), Value: val})
	})
	return out
}

// testCounts reads `count` or `replicas`: stage names to whole numbers of
// at least least.
func (p *parser) testCounts(n *yaml.Node, what string, least int) []TestCount {
	var out []TestCount
	p.entries(n, fmt.Sprintf("e.g. %s: {kelly: 1}", what), what+" must be a mapping of stage names to numbers, not %s",
		"`%s` is given twice in "+what, func(k, v *yaml.Node) {
			c, ok := p.integer(v, fmt.Sprintf("%s of `%s`", what, k.Value))
			switch {
			case !ok:
			case c < least:
				p.diags.Errorf(p.pos(v), CodeRange, fmt.Sprintf("use %d or more", least), "%s of `%s` must be at least %d, not %d", what, k.Value, least, c)
			case what == "replicas" && c > MaxReplicas:
				p.diags.Errorf(p.pos(v), CodeRange, fmt.Sprintf("use at most %d", MaxReplicas), "replicas %d is too many", c)
			default:
				out = append(out, TestCount{Stage: k.Value, Pos: p.pos(k), N: c})
			}
		})
	return out
}

// queueItems reads `expect.queues`: queue names to lists of items.
func (p *parser) queueItems(n *yaml.Node) []QueueItems {
	var out []QueueItems
	p.entries(n, "e.g. queues: {main: [a, b]}", "queues must be a mapping of queue names to lists of items, not %s",
		"queue `%s` is given twice in queues", func(k, v *yaml.Node) {
			q := QueueItems{Queue: k.Value, Pos: p.pos(k), Items: []TestItem{}}
			if resolve(v).Tag == "!!null" {
				p.diags.Errorf(p.pos(v), CodeType, "write [] for a queue that gets no item", "queue `%s` has no list of items", k.Value)
				return
			}
			p.list(v, fmt.Sprintf("the items of queue `%s`", k.Value), "ITEM", func(_ int, e *yaml.Node) {
				var val any
				if err := resolve(e).Decode(&val); err != nil {
					p.diags.Errorf(p.pos(e), CodeType, "", "queue `%s`: %v", k.Value, err)
					return
				}
				q.Items = append(q.Items, TestItem{Value: val, Pos: p.pos(e)})
			})
			out = append(out, q)
		})
	return out
}

// checkTests checks pl.Tests[from:] against the rest of pl: names unique
// among all the pipeline's tests, and every var, producer, stage and queue
// they name declared.
func (p *parser) checkTests(pl *Pipeline, from int) {
	names := declaredNames(pl)
	for i := from; i < len(pl.Tests); i++ {
		p.checkTestName(&pl.Tests[i], pl.Tests[:i])
		p.checkTestRefs(&pl.Tests[i], names)
	}
}

// declared are the names of a pipeline that its tests may refer to.
type declared struct {
	vars, producers, stages, queues []string
}

func declaredNames(pl *Pipeline) declared {
	var d declared
	for _, v := range pl.Vars {
		d.vars = append(d.vars, v.Name)
	}
	for _, pr := range pl.Producers {
		d.producers = append(d.producers, pr.Name)
		d.stages = append(d.stages, pr.Name)
	}
	for _, c := range pl.Consumers {
		d.stages = append(d.stages, c.Name)
	}
	for _, q := range pl.Queues {
		d.queues = append(d.queues, q.Name)
	}
	return d
}

// checkTestName reports a test named as one of before.
func (p *parser) checkTestName(t *Test, before []Test) {
	for _, o := range before {
		if t.Name != "" && o.Name == t.Name {
			where := o.Pos.String()
			if o.Pos.File == t.Pos.File {
				where = fmt.Sprintf("line %d", o.Pos.Line)
			}
			p.diags.Errorf(t.Pos, CodeDuplicateName, fmt.Sprintf("test names must be unique; the other %q is at %s", t.Name, where),
				"duplicate test name %q", t.Name)
			return
		}
	}
}

// checkTestRefs reports the vars, producers, stages and queues t names
// that the pipeline does not declare.
func (p *parser) checkTestRefs(t *Test, d declared) {
	for _, s := range t.Set {
		if !slices.Contains(d.vars, s.Name) {
			hint := DidYouMean(s.Name, d.vars)
			if len(d.vars) == 0 {
				hint = "the pipeline declares no vars; declare it under `vars:`"
			}
			p.diags.Errorf(s.Pos, CodeVar, hint, "set: unknown var `%s`", s.Name)
		}
	}
	for _, c := range t.Count {
		switch {
		case slices.Contains(d.producers, c.Stage):
		case slices.Contains(d.stages, c.Stage):
			p.diags.Errorf(c.Pos, CodeUnknownField, "count is how many items a producer makes; "+DidYouMean(c.Stage, d.producers),
				"count: `%s` is a consumer, not a producer", c.Stage)
		default:
			p.diags.Errorf(c.Pos, CodeUnknownField, DidYouMean(c.Stage, d.producers), "count: unknown producer `%s`", c.Stage)
		}
	}
	for _, c := range t.Replicas {
		if !slices.Contains(d.stages, c.Stage) {
			p.diags.Errorf(c.Pos, CodeUnknownField, DidYouMean(c.Stage, d.stages), "replicas: unknown stage `%s`", c.Stage)
		}
	}
	for _, q := range t.Expect.Queues {
		if !slices.Contains(d.queues, q.Queue) {
			p.diags.Errorf(q.Pos, CodeUndefinedQueue, DidYouMean(q.Queue, d.queues), "expect.queues: undefined queue `%s`", q.Queue)
		}
	}
}
