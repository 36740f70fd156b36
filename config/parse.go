package config

import (
	"fmt"
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"
)

// Every mapping of the file is walked against a field table built by one
// of the *Fields methods below. A table only builds closures and touches no
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

func (p *parser) list(n *yaml.Node, what, entry string, each func(int, *yaml.Node)) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.diags.Errorf(p.pos(n), CodeType, fmt.Sprintf("write %s as a list: each entry starts with `- %s`", what, entry),
			"%s must be a list, not %s", what, describe(n))
		return
	}
	for i, e := range n.Content {
		each(i, e)
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

func (p *parser) queues(n *yaml.Node) []Queue {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.diags.Errorf(p.pos(n), CodeType, "e.g. queues: {main: {capacity: 10}}", "queues must be a mapping of queue names to settings, not %s", describe(n))
		return nil
	}
	var qs []Queue
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, pos, ok := p.name(k, "queue name")
		if !ok {
			continue
		}
		if seen[name] {
			p.diags.Errorf(pos, CodeDuplicateKey, "remove one of them", "queue `%s` is declared twice", name)
			continue
		}
		seen[name] = true
		q := newQueue(name, pos)
		if resolve(v).Tag != "!!null" {
			p.mapping(v, fmt.Sprintf("queue `%s`", name), p.queueFields(&q))
		}
		if q.Backend != NATS {
			for _, k := range q.natsKeys {
				p.diags.Errorf(k.pos, CodeConflict, fmt.Sprintf("add `backend: nats` to queue `%s`, or remove `%s`", name, k.key),
					"`%s` is a NATS setting, but queue `%s` uses the memory backend", k.key, name)
			}
		}
		qs = append(qs, q)
	}
	return qs
}

// newQueue is a queue with the default settings. The zero Backend,
// MaxDeliver and AckWait mean their defaults; stages fills them in.
func newQueue(name string, pos Pos) Queue {
	return Queue{Name: name, Pos: pos, Capacity: DefaultCapacity}
}

func (p *parser) queueFields(q *Queue) []field {
	return []field{
		{name: "capacity", def: DefaultCapacity,
			doc: "How many items may wait in the queue: a whole number, at least 1 (a put blocks while the queue is full), or `unbounded` for no limit.",
			schema: func() *Schema {
				return &Schema{AnyOf: []*Schema{{Type: "integer", Minimum: ptr(1)}, {Type: "string", Const: "unbounded"}}}
			},
			parse: func(_, v *yaml.Node) { p.capacity(v, q) }},
		{name: "backend", def: string(Memory),
			doc: "Where the items wait: `memory`, inside the pcrun process, or `nats`, a NATS JetStream stream on a broker " +
				"(`pcrun broker` starts one), which stages in other pcrun processes may share (`pcrun run --only`).",
			schema: func() *Schema { return &Schema{Type: "string", Enum: anys(Backends)} },
			parse: func(_, v *yaml.Node) {
				str, ok := p.str(v, "backend")
				if !ok {
					return
				}
				q.BackendPos = p.pos(v)
				for _, b := range Backends {
					if str == b {
						q.Backend = Backend(str)
						return
					}
				}
				p.diags.Errorf(p.pos(v), CodeEnum, DidYouMean(str, Backends)+" (memory or nats)", "unknown queue backend %q", str)
			}},
		{name: "url", def: DefaultNatsURL,
			doc: "NATS only: the broker's URL, `nats://` or `tls://`, several separated by commas. A template evaluated once before the run, " +
				"with vars and `env`, so credentials can stay out of the file: \"nats://${env.NATS_USER}:${env.NATS_PASS}@broker:4222\".",
			schema: func() *Schema { return &Schema{Type: "string"} },
			parse: func(k, v *yaml.Node) {
				q.natsKeys = append(q.natsKeys, keyAt{"url", p.pos(k)})
				if r := resolve(v); r.Kind != yaml.ScalarNode || r.ShortTag() != "!!str" {
					p.diags.Errorf(p.pos(v), CodeType, "e.g. url: nats://127.0.0.1:4222", "url must be a string, not %s", describe(r))
					return
				}
				q.URL = p.value(v, "url")
			}},
		{name: "stream",
			doc: "NATS only: the JetStream stream holding the queue. Default: `PCRUN_<pipeline>_<queue>`, with characters other than " +
				"letters, digits, _ and - replaced by _. Letters, digits, _ and - only.",
			schema: func() *Schema { return &Schema{Type: "string", Pattern: streamNameRE.String()} },
			parse: func(k, v *yaml.Node) {
				q.natsKeys = append(q.natsKeys, keyAt{"stream", p.pos(k)})
				if str, ok := p.str(v, "stream"); ok {
					if !streamNameRE.MatchString(str) {
						p.diags.Errorf(p.pos(v), CodeBadName, "a stream name has letters, digits, _ and - only, e.g. PCRUN_orders",
							"stream name %q is not valid", str)
						return
					}
					q.Stream, q.StreamPos = str, p.pos(v)
				}
			}},
		{name: "subject",
			doc: "NATS only: the subject items are published on. Default: `pcrun.<pipeline>.<queue>`. Tokens separated by dots, " +
				"without spaces or the wildcards * and >.",
			schema: func() *Schema { return &Schema{Type: "string", Pattern: subjectRE.String()} },
			parse: func(k, v *yaml.Node) {
				q.natsKeys = append(q.natsKeys, keyAt{"subject", p.pos(k)})
				if str, ok := p.str(v, "subject"); ok {
					if !subjectRE.MatchString(str) {
						p.diags.Errorf(p.pos(v), CodeBadName, "write tokens separated by dots, without spaces, * or >, e.g. pcrun.orders.main",
							"subject %q is not a valid NATS subject for publishing", str)
						return
					}
					q.Subject, q.SubjectPos = str, p.pos(v)
				}
			}},
		{name: "max_deliver", def: DefaultMaxDeliver,
			doc: "NATS only: how many times an item may be delivered to readers that never finish it (they died, or held it past " +
				"`ack_wait`) before it counts as failed, as the consumer's `on_error` says (stop, skip or dead_letter), and is removed. At least 1.",
			schema: func() *Schema { return &Schema{Type: "integer", Minimum: ptr(1)} },
			parse: func(k, v *yaml.Node) {
				q.natsKeys = append(q.natsKeys, keyAt{"max_deliver", p.pos(k)})
				n, ok := p.integer(v, "max_deliver")
				switch {
				case !ok:
				case n < 1:
					p.diags.Errorf(p.pos(v), CodeRange, "max_deliver counts deliveries; use 1 or more", "max_deliver must be at least 1, not %d", n)
				default:
					q.MaxDeliver, q.MaxDeliverPos = n, p.pos(v)
				}
			}},
		{name: "ack_wait", def: DefaultAckWait.String(),
			doc: "NATS only: how long the broker waits for word from a reader holding an item before it delivers the item again. " +
				"pcrun tells the broker it is still working every half of this while a step runs. A Go duration such as 30s, longer than 0.",
			schema: positiveDurationSchema,
			parse: func(k, v *yaml.Node) {
				q.natsKeys = append(q.natsKeys, keyAt{"ack_wait", p.pos(k)})
				if d, ok := p.duration(v, "ack_wait"); ok {
					if d == 0 {
						p.diags.Errorf(p.pos(v), CodeDuration, "write a duration such as 30s", "ack_wait must be longer than 0")
						return
					}
					q.AckWait, q.AckWaitPos = d, p.pos(v)
				}
			}},
	}
}

// streamNameRE is what `stream` may look like; subjectRE what `subject`
// may look like (no wildcards: pcrun publishes on it).
var (
	streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	subjectRE    = regexp.MustCompile(`^[^.\s*>]+(\.[^.\s*>]+)*$`)
)

const capacityHint = "capacity is the number of items that may wait in the queue (at least 1); write `capacity: unbounded` for no limit"

func (p *parser) capacity(v *yaml.Node, q *Queue) {
	v = resolve(v)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		if v.Value == "unbounded" {
			q.Unbounded = true
			return
		}
		p.diags.Errorf(p.pos(v), CodeCapacity, capacityHint, "capacity must be a whole number or `unbounded`, not %q", v.Value)
		return
	}
	n, ok := p.integer(v, "capacity")
	if !ok {
		return
	}
	if n < 1 {
		p.diags.Errorf(p.pos(v), CodeCapacity, capacityHint, "capacity %d is less than 1", n)
		return
	}
	q.Capacity = n
}

func (p *parser) shutdown(n *yaml.Node, s *Shutdown) {
	p.mapping(n, "shutdown", p.shutdownFields(s))
}

func (p *parser) shutdownFields(s *Shutdown) []field {
	return []field{
		{name: "strategy", def: string(Close),
			doc: "How the readers of a queue learn to stop: `close` closes a queue when all its writers finish; " +
				"`sentinel` puts one end marker per reader replica; `join` waits until every item is done (JoinableQueue), " +
				"consumers are daemons; `none` never tells readers to stop (pcrun reports the deadlock).",
			schema: func() *Schema { return &Schema{Type: "string", Enum: anys(Strategies)} },
			parse: func(_, v *yaml.Node) {
				str, ok := p.str(v, "strategy")
				if !ok {
					return
				}
				s.StrategyPos = p.pos(v)
				for _, name := range Strategies {
					if str == name {
						s.Strategy = Strategy(str)
						return
					}
				}
				p.diags.Errorf(p.pos(v), CodeEnum, DidYouMean(str, Strategies)+" (close, sentinel, join or none)",
					"unknown shutdown strategy %q", str)
			}},
		{name: "deadline",
			doc:    "Stop producing after this long, then drain for at most `grace`. A Go duration such as 30s or 1m30s, longer than 0. Default: no deadline.",
			schema: positiveDurationSchema,
			parse: func(_, v *yaml.Node) {
				if d, ok := p.duration(v, "deadline"); ok {
					if d == 0 {
						p.diags.Errorf(p.pos(v), CodeDuration, "leave deadline out to run until the producers finish", "deadline must be longer than 0")
					}
					s.Deadline, s.DeadlinePos = d, p.pos(v)
				}
			}},
		{name: "grace", def: DefaultGrace.String(),
			doc:    "How long queues may drain after the deadline or a first signal before readers are cancelled. A Go duration such as 10s.",
			schema: durationSchema,
			parse: func(_, v *yaml.Node) {
				if d, ok := p.duration(v, "grace"); ok {
					s.Grace, s.GracePos = d, p.pos(v)
				}
			}},
		{name: "spill",
			doc: "A file that receives, as JSON lines, every item the run abandons (deadline, signal, stop) and where each producer stopped; " +
				"`pcrun run --resume FILE` finishes the job from it. Relative to the pipeline file's directory. `--spill FILE` overrides it.",
			schema: func() *Schema { return &Schema{Type: "string"} },
			parse: func(_, v *yaml.Node) {
				if str, ok := p.str(v, "spill"); ok {
					if str == "" {
						p.diags.Errorf(p.pos(v), CodeType, "name a file, e.g. spill: abandoned.jsonl", "spill must name a file")
						return
					}
					s.Spill, s.SpillPos = str, p.pos(v)
				}
			}},
	}
}

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
	what := "producer"
	if resolve(n).Kind == yaml.MappingNode {
		what = p.peekName(n, "producer", i)
	}
	p.mapping(n, what, p.producerFields(&pr))
	return pr
}

func (p *parser) producerFields(pr *Producer) []field {
	return append(append(p.stageFields(&pr.Stage),
		field{name: "to", doc: "The queue this producer puts items into; may be left out when the file has exactly one queue.",
			schema: nameSchema, parse: p.ref(&pr.To, "queue name")},
		field{name: "count", neededIf: func() bool { return !pr.sourceKey },
			doc: "How many items each replica makes (0 or more). In expressions, `i` is the 0-based index of the item and `count` this number. " +
				"Required unless the producer reads a source (`lines`, `jsonl`, `command`); then at most this many records are read (default: all). " +
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
	what := "consumer"
	if resolve(n).Kind == yaml.MappingNode {
		what = p.peekName(n, "consumer", i)
	}
	p.mapping(n, what, p.consumerFields(&c))
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

// peekName names a stage for messages before its fields are walked.
func (p *parser) peekName(n *yaml.Node, kind string, i int) string {
	n = resolve(n)
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

// check runs the checks that need the whole file: names, queue references
// and the shape of the graph.
func (p *parser) check(pl *Pipeline) {
	if len(pl.Producers) == 0 && len(pl.Consumers) == 0 && !p.diags.HasErrors() {
		p.diags.Errorf(Pos{File: p.file, Line: 1, Col: 1}, CodeNoStages, "add a `producers:` list", "the pipeline has no stages")
	}
	names := map[string]Pos{}
	dup := func(st Stage) {
		if st.Name == "" {
			return
		}
		if prev, ok := names[st.Name]; ok {
			p.diags.Errorf(st.Pos, CodeDuplicateName, fmt.Sprintf("stage names must be unique; the other `%s` is at line %d", st.Name, prev.Line),
				"duplicate stage name `%s`", st.Name)
			return
		}
		names[st.Name] = st.Pos
	}
	for _, pr := range pl.Producers {
		dup(pr.Stage)
	}
	for _, c := range pl.Consumers {
		dup(c.Stage)
	}
	qnames := make([]string, len(pl.Queues))
	for i, q := range pl.Queues {
		qnames[i] = q.Name
	}
	resolveRef := func(r *Ref, st Stage, key string) {
		if !r.Set {
			if len(pl.Queues) == 1 {
				r.Name = pl.Queues[0].Name
			} else if len(pl.Queues) > 1 {
				p.diags.Errorf(st.Pos, CodeAmbiguousQueue, "name one of "+Quoted(qnames),
					"stage `%s` needs `%s:`: the file declares %d queues", st.Name, key, len(pl.Queues))
			}
			return
		}
		for _, q := range qnames {
			if q == r.Name {
				return
			}
		}
		hint := DidYouMean(r.Name, qnames)
		if len(qnames) == 0 || (len(pl.Queues) == 1 && pl.Queues[0].Implicit && Suggest(r.Name, qnames) == "") {
			hint = fmt.Sprintf("declare it under `queues:`, e.g. queues: {%s: {capacity: 100}}", r.Name)
		}
		p.diags.Errorf(r.Pos, CodeUndefinedQueue, hint, "undefined queue `%s`", r.Name)
		r.Name = ""
	}
	for i := range pl.Producers {
		resolveRef(&pl.Producers[i].To, pl.Producers[i].Stage, "to")
	}
	for i := range pl.Consumers {
		c := &pl.Consumers[i]
		resolveRef(&c.From, c.Stage, "from")
		if c.To.Set {
			resolveRef(&c.To, c.Stage, "to")
		}
		if c.OnError.DeadLetter.Set {
			resolveRef(&c.OnError.DeadLetter, c.Stage, "dead_letter")
			p.checkOnError(c)
		}
	}
	p.checkSources(pl) // source.go
	p.checkTests(pl, 0)
}

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
