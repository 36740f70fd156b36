package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// MaxReplicas bounds replicas: each replica is a goroutine.
const MaxReplicas = 10000

// countHint is the hint for a `count` or `replicas` that is not an integer.
const countHint = "write a whole number, e.g. 3, or a template of vars and env that gives one, e.g. \"${workers}\""

// defaultReplicas is a stage's replicas when the file does not say.
const defaultReplicas = 1

func (p *parser) stageFields(st *Stage) []field {
	return []field{
		{name: "name", required: true,
			doc:    "Name of the stage, unique among all producers and consumers; letters, digits, _ and -, starting with a letter or _.",
			schema: nameSchema,
			parse: func(_, v *yaml.Node) {
				if s, pos, ok := p.name(v, "stage name"); ok {
					st.Name, st.Pos = s, pos
				}
			}},
		{name: "replicas", def: defaultReplicas,
			doc: fmt.Sprintf("How many workers run this stage concurrently (1 to %d). Each has its own `replica` (1-based) and `worker` name. "+
				"May be a template of vars and env, evaluated once before the run, e.g. \"${workers}\" (`--set workers=5` then changes it).", MaxReplicas),
			schema: func() *Schema { return countSchema(1, MaxReplicas) },
			parse: func(_, v *yaml.Node) {
				st.ReplicasPos = p.pos(v)
				if isTemplate(v) {
					st.ReplicasTemplate = p.value(v, "replicas") // stages evaluate it (count.go)
					return
				}
				n, ok := p.integerHint(v, "replicas", countHint)
				if msg, hint := ReplicasProblem(n); ok && msg != "" {
					p.diags.Errorf(p.pos(v), CodeRange, hint, "%s", msg)
				} else if ok {
					st.Replicas = n
				}
			}},
	}
}

// ReplicasProblem says what is wrong with n as a stage's replicas, with a
// hint; "" when nothing is. The parser checks a number written in the
// file, stages a template's value.
func ReplicasProblem(n int) (msg, hint string) {
	switch {
	case n < 1:
		return fmt.Sprintf("replicas must be at least 1, not %d", n), "replicas is how many workers run this stage; use 1 or more"
	case n > MaxReplicas:
		return fmt.Sprintf("replicas %d is too many", n), fmt.Sprintf("use at most %d", MaxReplicas)
	}
	return "", ""
}

// CountProblem says what is wrong with n as a producer's count, with a
// hint; "" when nothing is.
func CountProblem(n int) (msg, hint string) {
	if n < 0 {
		return fmt.Sprintf("count must not be negative, not %d", n), "count is how many items each replica makes; use 0 or more"
	}
	return "", ""
}

func (p *parser) ref(r *Ref, what string) func(_, v *yaml.Node) {
	return func(_, v *yaml.Node) {
		if s, pos, ok := p.name(v, what); ok {
			*r = Ref{Name: s, Pos: pos, Set: true}
		}
	}
}

func (p *parser) producer(n *yaml.Node, i int) Producer {
	pr := Producer{Stage: Stage{Replicas: defaultReplicas, Pos: p.pos(n)}, CountPos: p.pos(n)}
	p.mapping(n, p.peekName(n, "producer", i), p.producerFields(&pr))
	return pr
}

func (p *parser) producerFields(pr *Producer) []field {
	return append(append(p.stageFields(&pr.Stage),
		field{name: "to", doc: "The queue this producer puts items into; may be left out when the file has exactly one queue.",
			schema: nameSchema, parse: p.ref(&pr.To, "queue name")},
		field{name: "count", neededIf: func() bool { return !pr.sourceKey },
			doc: "How many items each replica makes (0 or more). In expressions, `i` is the 0-based index of the item and `count` this number. " +
				"Required unless the producer reads a source (" + SourceKindList() + "); then at most this many records are read (default: all). " +
				"May be a template of vars and env, evaluated once before the run, e.g. \"${n}\" or \"${n * 2}\".",
			schema: func() *Schema { return countSchema(0, 0) },
			parse: func(_, v *yaml.Node) {
				pr.CountPos = p.pos(v)
				if isTemplate(v) {
					pr.CountTemplate, pr.CountSet = p.value(v, "count"), true // stages evaluate it (count.go)
					return
				}
				n, ok := p.integerHint(v, "count", countHint)
				if msg, hint := CountProblem(n); ok && msg != "" {
					p.diags.Errorf(p.pos(v), CodeRange, hint, "%s", msg)
				} else if ok {
					pr.Count, pr.CountSet = n, true
				}
			}},
		field{name: "delay", def: "0s",
			doc:    "How long to wait before each item: a Go duration such as 250ms or 1m30s, or a template giving a duration or a number of seconds, e.g. \"${i * 0.1}\".",
			schema: templateDurationSchema,
			parse:  func(_, v *yaml.Node) { pr.Delay = p.value(v, "delay") }},
		field{name: "item", neededIf: func() bool { return !pr.sourceKey },
			doc: "Template for each item, e.g. \"${food} ${i}\". A value that is exactly one ${...} keeps the expression's type; " +
				"maps and lists are templates of their values. `$${` is a literal `${`. Required unless the producer reads a source; " +
				"then `line` is the record, and the default item.",
			parse: func(_, v *yaml.Node) { pr.Item = p.value(v, "item") }},
		field{name: "print", doc: "A line template written to stdout after each item is put, e.g. \"${name} Produced ${item}\".",
			schema: scalarSchema,
			parse:  func(_, v *yaml.Node) { pr.Print = p.scalarText(v, "print") }},
	), p.sourceFields(pr)...) // source.go
}

func (p *parser) consumer(n *yaml.Node, i int) Consumer {
	c := Consumer{Stage: Stage{Replicas: defaultReplicas, Pos: p.pos(n)}}
	p.mapping(n, p.peekName(n, "consumer", i), p.consumerFields(&c))
	return c
}

func (p *parser) consumerFields(c *Consumer) []field {
	return append(p.stageFields(&c.Stage),
		field{name: "from", doc: "The queue this consumer takes items from; may be left out when the file has exactly one queue.",
			schema: nameSchema, parse: p.ref(&c.From, "queue name")},
		field{name: "to", doc: "The queue that `emit` steps put items into; required when a step emits.",
			schema: nameSchema, parse: p.ref(&c.To, "queue name")},
		field{name: "when", doc: "A bare expression (no ${ }), e.g. 'item != \"\"'; an item for which it is false is done without running the steps.",
			schema: func() *Schema { return &Schema{Type: []string{"string", "boolean"}} },
			parse:  func(_, v *yaml.Node) { c.When = p.scalarText(v, "when") }},
		field{name: "do", doc: "The steps run on each item, in order. Each step is a mapping with exactly one action key, e.g. `- print: \"${item}\"`.",
			schema: func() *Schema { return &Schema{Type: "array", Items: stepSchema(p.actions)} },
			parse: func(_, v *yaml.Node) {
				p.list(v, "do", "action: argument`, e.g. `- print: \"${item}\"", func(_ int, s *yaml.Node) {
					if st, ok := p.step(s); ok {
						c.Steps = append(c.Steps, st)
					}
				})
			}},
		p.onErrorField(c), // onerror.go
	)
}

// peekName names the i-th stage of a kind for messages before its fields
// are walked: by its name, by its number when it has none, or by its kind
// alone when it is not a mapping.
func (p *parser) peekName(n *yaml.Node, kind string, i int) string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return kind
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == "name" && resolve(n.Content[j+1]).Kind == yaml.ScalarNode {
			return fmt.Sprintf("%s `%s`", kind, resolve(n.Content[j+1]).Value)
		}
	}
	return fmt.Sprintf("%s #%d", kind, i+1)
}

func (p *parser) scalarText(v *yaml.Node, what string) *Value {
	if r := resolve(v); r.Kind != yaml.ScalarNode {
		p.diags.Errorf(p.pos(v), CodeType, "quote it if it contains `: ` or starts with `{` or `[`", "%s must be a string, not %s", what, describe(r))
		return nil
	}
	return p.value(v, what)
}

func (p *parser) step(n *yaml.Node) (Step, bool) {
	r := resolve(n)
	if r.Kind != yaml.MappingNode || len(r.Content) != 2 {
		hint := "write each step as `- action: argument`, e.g. `- print: \"${item}\"`"
		if r.Kind == yaml.MappingNode && len(r.Content) > 2 {
			keys := []string{}
			for i := 0; i < len(r.Content); i += 2 {
				keys = append(keys, r.Content[i].Value)
			}
			p.diags.Errorf(p.pos(n), CodeStep, "split it into one step per action, each starting with `-`",
				"a step must have exactly one action, this one has %d: %s", len(keys), Quoted(keys))
			return Step{}, false
		}
		p.diags.Errorf(p.pos(n), CodeStep, hint, "a step must be a mapping with one action, not %s", describe(r))
		return Step{}, false
	}
	k, v := r.Content[0], r.Content[1]
	return Step{Action: k.Value, ActionPos: p.pos(k), Arg: p.value(v, "`"+k.Value+"`")}, true
}
