package config

import (
	"gopkg.in/yaml.v3"
)

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
				if str, ok := p.oneOf(v, "strategy", Strategies, &s.StrategyPos, "(close, sentinel, join or none)", "unknown shutdown strategy %q"); ok {
					s.Strategy = Strategy(str)
				}
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
