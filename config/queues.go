package config

import (
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"
)

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
			p.checkNATSAuth(&q)
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

// queueFields is the table of a queue's settings: how many items may wait
// in it, and where, then the settings of NATS queues.
func (p *parser) queueFields(q *Queue) []field {
	return append([]field{
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
				if s, ok := p.oneOf(v, "backend", Backends, &q.BackendPos, "(memory or nats)", "unknown queue backend %q"); ok {
					q.Backend = Backend(s)
				}
			}},
	}, p.natsFields(q)...)
}

// natsFields are the settings of NATS queues. Each records its key in
// q.natsKeys, so that queues can report one given to a memory queue.
func (p *parser) natsFields(q *Queue) []field {
	return p.recordNATSKeys(q, []field{
		{name: "url", def: DefaultNatsURL,
			doc: "NATS only: the broker's URL, `nats://` or `tls://`, several separated by commas. A template evaluated once before the run, " +
				"with vars and `env`, so credentials can stay out of the file: \"nats://${env.NATS_USER}:${env.NATS_PASS}@broker:4222\".",
			schema: func() *Schema { return &Schema{Type: "string"} },
			parse:  func(_, v *yaml.Node) { p.natsURL(v, q) }},
		p.credentialsField(q), p.nkeyField(q), p.tlsField(q),
		{name: "stream",
			doc: "NATS only: the JetStream stream holding the queue. Default: `PCRUN_<pipeline>_<queue>`, with characters other than " +
				"letters, digits, _ and - replaced by _. Letters, digits, _ and - only.",
			schema: func() *Schema { return &Schema{Type: "string", Pattern: streamNameRE.String()} },
			parse: func(_, v *yaml.Node) {
				if s, ok := p.matching(v, "stream", streamNameRE, "a stream name has letters, digits, _ and - only, e.g. PCRUN_orders",
					"stream name %q is not valid"); ok {
					q.Stream, q.StreamPos = s, p.pos(v)
				}
			}},
		{name: "subject",
			doc: "NATS only: the subject items are published on. Default: `pcrun.<pipeline>.<queue>`. Tokens separated by dots, " +
				"without spaces or the wildcards * and >.",
			schema: func() *Schema { return &Schema{Type: "string", Pattern: subjectRE.String()} },
			parse: func(_, v *yaml.Node) {
				if s, ok := p.matching(v, "subject", subjectRE, "write tokens separated by dots, without spaces, * or >, e.g. pcrun.orders.main",
					"subject %q is not a valid NATS subject for publishing"); ok {
					q.Subject, q.SubjectPos = s, p.pos(v)
				}
			}},
		{name: "max_deliver", def: DefaultMaxDeliver,
			doc: "NATS only: how many times an item may be delivered to readers that never finish it (they died, or held it past " +
				"`ack_wait`) before it counts as failed, as the consumer's `on_error` says (stop, skip or dead_letter), and is removed. At least 1.",
			schema: func() *Schema { return &Schema{Type: "integer", Minimum: ptr(1)} },
			parse:  func(_, v *yaml.Node) { p.maxDeliver(v, q) }},
		{name: "replicas", def: 1,
			doc: "NATS only: how many servers of a JetStream cluster keep the queue's stream, from 1 to 5 (3 survives the loss of one). " +
				"Default: the replicas of a stream that exists already, else 1. A stream that exists with other replicas is not changed: the run refuses. " +
				"The pipeline's key-value bucket on the broker is made with the largest replicas of its NATS queues there.",
			schema: func() *Schema { return &Schema{Type: "integer", Minimum: ptr(1), Maximum: ptr(5)} },
			parse:  func(_, v *yaml.Node) { p.streamReplicas(v, q) }},
		{name: "storage", def: "file",
			doc: "NATS only: where the queue's stream keeps its items: `file` (survives a broker restart) or `memory`. " +
				"Default: the storage of a stream that exists already, else file. A stream that exists with other storage is not changed: the run refuses. " +
				"The pipeline's key-value bucket on the broker is on memory only when all its NATS queues there say memory.",
			schema: func() *Schema { return &Schema{Type: "string", Enum: anys(StorageKinds)} },
			parse: func(_, v *yaml.Node) {
				if s, ok := p.oneOf(v, "storage", StorageKinds, &q.StoragePos, "(file or memory)", "unknown storage %q"); ok {
					q.Storage = s
				}
			}},
		{name: "ack_wait", def: DefaultAckWait.String(),
			doc: "NATS only: how long the broker waits for word from a reader holding an item before it delivers the item again. " +
				"pcrun tells the broker it is still working every half of this while a step runs. A Go duration such as 30s, longer than 0.",
			schema: positiveDurationSchema,
			parse: func(_, v *yaml.Node) {
				if d, ok := p.positiveDuration(v, "ack_wait", "write a duration such as 30s"); ok {
					q.AckWait, q.AckWaitPos = d, p.pos(v)
				}
			}},
	})
}

// recordNATSKeys makes each field of fs record its key in q.natsKeys
// before it parses its value.
func (p *parser) recordNATSKeys(q *Queue, fs []field) []field {
	for i := range fs {
		key, parse := fs[i].name, fs[i].parse
		fs[i].parse = func(k, v *yaml.Node) {
			q.natsKeys = append(q.natsKeys, keyAt{key, p.pos(k)})
			parse(k, v)
		}
	}
	return fs
}

// natsURL reads `url`: a string template, evaluated by stages.
func (p *parser) natsURL(v *yaml.Node, q *Queue) {
	if r := resolve(v); r.Kind != yaml.ScalarNode || r.ShortTag() != "!!str" {
		p.diags.Errorf(p.pos(v), CodeType, "e.g. url: nats://127.0.0.1:4222", "url must be a string, not %s", describe(r))
		return
	}
	q.URL = p.value(v, "url")
}

// StorageKinds are the values of a NATS queue's `storage`.
var StorageKinds = []string{"file", "memory"}

// streamReplicas reads `replicas` of a NATS queue: 1 to 5.
func (p *parser) streamReplicas(v *yaml.Node, q *Queue) {
	n, ok := p.integer(v, "replicas")
	switch {
	case !ok:
	case n < 1 || n > 5:
		p.diags.Errorf(p.pos(v), CodeRange, "a JetStream stream has 1 to 5 replicas; 3 survives the loss of one server",
			"replicas must be from 1 to 5, not %d", n)
	default:
		q.Replicas, q.ReplicasPos = n, p.pos(v)
	}
}

// maxDeliver reads `max_deliver`: at least 1.
func (p *parser) maxDeliver(v *yaml.Node, q *Queue) {
	n, ok := p.integer(v, "max_deliver")
	switch {
	case !ok:
	case n < 1:
		p.diags.Errorf(p.pos(v), CodeRange, "max_deliver counts deliveries; use 1 or more", "max_deliver must be at least 1, not %d", n)
	default:
		q.MaxDeliver, q.MaxDeliverPos = n, p.pos(v)
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
