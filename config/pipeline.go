package config

import (
	"fmt"
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"
)

// Every mapping of the file is walked against a field table built by one
// of the *Fields methods (the top-level one below; see walk.go for the
// others). A table only builds closures and touches no
// document, so FileSchema builds the same tables with zero values to derive
// the JSON Schema: a key added to a table is in `pcrun schema` at once. Give
// every field a doc and, unless any value goes, a schema.

// pipeline walks the top-level mapping.
func (p *parser) pipeline(root *yaml.Node) *Pipeline {
	pl := &Pipeline{File: p.file, Name: Base(p.file)}
	pl.Shutdown = Shutdown{Strategy: Close, Grace: DefaultGrace}
	queuesSet := false
	p.mapping(root, "the pipeline", p.pipelineFields(pl, &queuesSet))
	if !queuesSet {
		q := newQueue("main", Pos{File: p.file})
		q.Implicit = true
		pl.Queues = []Queue{q}
	}
	return pl
}

// pipelineFields is the table of top-level keys; queuesSet reports whether
// the file declares its queues.
func (p *parser) pipelineFields(pl *Pipeline, queuesSet *bool) []field {
	return []field{
		{name: "version", def: 1,
			doc:    "Format version of the file. Only 1 exists; leave it out or write 1.",
			schema: func() *Schema { return &Schema{Type: "integer", Const: 1} },
			parse: func(_, v *yaml.Node) {
				if n, ok := p.integer(v, "version"); ok && n != 1 {
					p.diags.Errorf(p.pos(v), CodeVersion, "write `version: 1` or leave it out", "unsupported version %d: this pcrun reads version 1", n)
				}
			}},
		{name: "name",
			doc:    "Name of the pipeline, shown in the summary and events. Default: the file's base name without its extension.",
			schema: nameSchema,
			parse: func(_, v *yaml.Node) {
				if s, _, ok := p.name(v, "pipeline name"); ok {
					pl.Name = s
				}
			}},
		{name: "vars",
			doc:    "Constants visible by name in every expression, e.g. `food: watermelon`; values may be any YAML value. `pcrun run --set NAME=VALUE` overrides one. Names are identifiers and may not hide a built-in name (" + Quoted(reserved) + ").",
			schema: varsSchema,
			parse:  func(_, v *yaml.Node) { pl.Vars = p.vars(v) }},
		{name: "queues", def: map[string]any{"main": map[string]any{"capacity": DefaultCapacity}},
			doc: "Queues between stages, by name. Default: one queue named `main` with default settings. A stage's `to`/`from` may be left out when exactly one queue exists.",
			schema: func() *Schema {
				q := object(p.queueFields(&Queue{}))
				q.Type = []string{"object", "null"} // `main:` alone is a queue with default settings
				q.Description = "A queue; leave the value empty for the defaults."
				return &Schema{Type: "object", PropertyNames: nameSchema(), AdditionalProperties: q}
			},
			parse: func(_, v *yaml.Node) { *queuesSet = true; pl.Queues = p.queues(v) }},
		{name: "shutdown", def: map[string]any{"strategy": string(Close), "grace": DefaultGrace.String()},
			doc:    "How the run ends: the strategy that tells readers to stop, an optional deadline and the grace period for draining.",
			schema: func() *Schema { return object(p.shutdownFields(&Shutdown{})) },
			parse:  func(_, v *yaml.Node) { p.shutdown(v, &pl.Shutdown) }},
		{name: "producers",
			doc:    "Stages that make items, from a template or from the records of a source (a file, stdin, a command), and put them into a queue.",
			schema: func() *Schema { return &Schema{Type: "array", Items: p.producerSchema()} }, // source.go
			parse: func(_, v *yaml.Node) {
				p.list(v, "producers", "name: ...", func(i int, n *yaml.Node) { pl.Producers = append(pl.Producers, p.producer(n, i)) })
			}},
		{name: "consumers",
			doc:    "Stages that take items from a queue and run steps on each; a consumer that emits is a transformer.",
			schema: func() *Schema { return &Schema{Type: "array", Items: object(p.consumerFields(&Consumer{}))} },
			parse: func(_, v *yaml.Node) {
				p.list(v, "consumers", "name: ...", func(i int, n *yaml.Node) { pl.Consumers = append(pl.Consumers, p.consumer(n, i)) })
			}},
		p.testsField(pl), // tests.go
	}
}

// reserved are names expressions already define; a var may not shadow them.
var reserved = []string{"env", "i", "count", "item", "attempt", "name", "replica", "worker", "result"}

func (p *parser) vars(n *yaml.Node) []Var {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.diags.Errorf(p.pos(n), CodeType, "e.g. vars: {food: watermelon}", "vars must be a mapping of names to values, not %s", describe(n))
		return nil
	}
	var vars []Var
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !identifier(k.Value) {
			p.diags.Errorf(p.pos(k), CodeVar, "use letters, digits and _, starting with a letter or _", "var name %q is not an identifier", k.Value)
			continue
		}
		if seen[k.Value] {
			p.diags.Errorf(p.pos(k), CodeDuplicateKey, "remove one of them", "var `%s` is given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		for _, r := range reserved {
			if k.Value == r {
				p.diags.Errorf(p.pos(k), CodeVar, "rename the var; these names are built in: "+Quoted(reserved),
					"var `%s` would hide the built-in name `%s`", k.Value, r)
			}
		}
		var val any
		if err := resolve(v).Decode(&val); err != nil {
			p.diags.Errorf(p.pos(v), CodeType, "", "var `%s`: %v", k.Value, err)
		}
		vars = append(vars, Var{Name: k.Value, Pos: p.pos(k), Value: val})
	}
	return vars
}

// identifierRE is what var names may look like.
var identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func identifier(s string) bool { return identifierRE.MatchString(s) }

// QueueNames returns the declared queue names, sorted.
func (pl *Pipeline) QueueNames() []string {
	var out []string
	for _, q := range pl.Queues {
		out = append(out, q.Name)
	}
	sort.Strings(out)
	return out
}

// Queue returns the queue named name, or nil.
func (pl *Pipeline) Queue(name string) *Queue {
	for i := range pl.Queues {
		if pl.Queues[i].Name == name {
			return &pl.Queues[i]
		}
	}
	return nil
}

// SetVar overrides the value of a declared var (`pcrun run --set
// NAME=VALUE`). A var declared as a string takes value as it is; any other
// var takes value as YAML (so numbers stay numbers).
func (pl *Pipeline) SetVar(name, value string) error {
	names := make([]string, 0, len(pl.Vars))
	for i := range pl.Vars {
		v := &pl.Vars[i]
		names = append(names, v.Name)
		if v.Name != name {
			continue
		}
		if _, isString := v.Value.(string); isString {
			v.Value = value
			return nil
		}
		var x any
		if err := yaml.Unmarshal([]byte(value), &x); err != nil {
			return fmt.Errorf("--set %s: %q is not a YAML value: %v", name, value, err)
		}
		v.Value = x
		return nil
	}
	hint := DidYouMean(name, names)
	if len(names) == 0 {
		hint = "the file declares no vars; add them under `vars:`"
	}
	return fmt.Errorf("--set %s: the pipeline has no var `%s`; %s", name, name, hint)
}
