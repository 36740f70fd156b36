package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// SourceKind names where a producer's records come from.
type SourceKind string

// The producer sources; see docs/sources.md.
const (
	// LinesSource: a record per line of a file or of stdin.
	LinesSource SourceKind = "lines"
	// JSONLSource: a record per JSON value of a file or of stdin.
	JSONLSource SourceKind = "jsonl"
	// CommandSource: a record per line of a program's stdout.
	CommandSource SourceKind = "command"
)

// SourceKinds lists the source keys in documentation order.
var SourceKinds = []string{string(LinesSource), string(JSONLSource), string(CommandSource)}

// StdinPath is the path of `lines` or `jsonl` that names standard input.
const StdinPath = "-"

// Source is a producer's `lines`, `jsonl` or `command`: the producer makes
// an item per record instead of `count` items from a template.
type Source struct {
	Kind     SourceKind
	Pos      Pos      // the key
	ValuePos Pos      // its value
	Path     string   // lines, jsonl: as written, relative to the pipeline file's directory; StdinPath for stdin
	Argv     []string // command: the program and its arguments, run without a shell
}

// Stdin reports whether the source reads standard input.
func (s *Source) Stdin() bool { return s != nil && s.Kind != CommandSource && s.Path == StdinPath }

const sourceHint = "a producer makes items from a template (`count` and `item`) or reads one source: `lines`, `jsonl` or `command`"

// sourceFields are the producer keys that name a source.
func (p *parser) sourceFields(pr *Producer) []field {
	return []field{
		{name: string(LinesSource),
			doc: "Read items from a file, a record per line (without its line ending, `\\n` or `\\r\\n`; an empty line is a record too); " +
				"`-` reads stdin. Relative to the pipeline file's directory. In `item`, `print` and `delay`, `line` is the record " +
				"(the default item) and `i` its 0-based index. Instead of a template producer's `count` and `item`.",
			schema: func() *Schema { return &Schema{Type: "string", MinLength: ptr(1)} },
			parse:  p.sourcePath(pr, LinesSource, "lines: app.log")},
		{name: string(JSONLSource),
			doc: "Read items from a file of JSON values (JSON Lines), a record per value, maps and lists keeping their structure; " +
				"`-` reads stdin. Relative to the pipeline file's directory. `line` is the decoded value (the default item).",
			schema: func() *Schema { return &Schema{Type: "string", MinLength: ptr(1)} },
			parse:  p.sourcePath(pr, JSONLSource, "jsonl: orders.jsonl")},
		{name: string(CommandSource),
			doc: "Run a program, without a shell, and make a record of each line of its stdout: a list, the program then its " +
				"arguments, e.g. [journalctl, -f, -o, cat]. Its stdin is empty; it is stopped (its whole process group) when the producer stops.",
			schema: func() *Schema {
				return &Schema{Type: "array", MinItems: ptr(1), Items: &Schema{Type: []string{"string", "number", "boolean"}}}
			},
			parse: func(k, v *yaml.Node) { p.command(k, v, pr) }},
	}
}

// sourcePath is the parse of a producer's `lines` or `jsonl`: a file name,
// or StdinPath; example shows one in hints.
func (p *parser) sourcePath(pr *Producer, kind SourceKind, example string) func(k, v *yaml.Node) {
	return func(k, v *yaml.Node) {
		pr.sourceKey = true
		r := resolve(v)
		if r.Kind != yaml.ScalarNode {
			p.diags.Errorf(p.pos(v), CodeType, "name a file, e.g. "+example+", or - for stdin", "%s must be a file name, not %s", kind, describe(r))
			return
		}
		if r.Value == "" {
			p.diags.Errorf(p.pos(v), CodeSource, "name a file, e.g. "+example+", or - for stdin", "%s must name a file", kind)
			return
		}
		p.setSource(pr, &Source{Kind: kind, Pos: p.pos(k), ValuePos: p.pos(v), Path: r.Value})
	}
}

// command reads a producer's `command`: the program and its arguments.
func (p *parser) command(k, v *yaml.Node, pr *Producer) {
	pr.sourceKey = true
	r := resolve(v)
	if r.Kind != yaml.SequenceNode {
		p.diags.Errorf(p.pos(v), CodeType, "write the program and its arguments as a list, e.g. command: [grep, -v, DEBUG, app.log]; no shell runs it",
			"command must be a list, not %s", describe(r))
		return
	}
	if len(r.Content) == 0 {
		p.diags.Errorf(p.pos(v), CodeSource, "name the program to run, e.g. command: [seq, 1, 10]", "command is an empty list")
		return
	}
	src := &Source{Kind: CommandSource, Pos: p.pos(k), ValuePos: p.pos(v)}
	for i, e := range r.Content {
		s, ok := p.str(e, fmt.Sprintf("command argument %d", i+1))
		if !ok {
			return
		}
		if i == 0 && s == "" {
			p.diags.Errorf(p.pos(e), CodeSource, "name the program to run, e.g. command: [seq, 1, 10]", "command names no program")
			return
		}
		src.Argv = append(src.Argv, s)
	}
	p.setSource(pr, src)
}

// setSource records a producer's source; a second one is an error.
func (p *parser) setSource(pr *Producer, s *Source) {
	if pr.Source != nil {
		p.diags.Errorf(s.Pos, CodeConflict, "a producer reads one source; use one producer per source",
			"`%s` and `%s` given together", pr.Source.Kind, s.Kind)
		return
	}
	pr.Source = s
}

// checkSources runs the source checks that need the whole producer or the
// whole file: one replica, one reader of stdin, no var hiding `line`.
func (p *parser) checkSources(pl *Pipeline) {
	var stdin *Producer
	sources := false
	for i := range pl.Producers {
		pr := &pl.Producers[i]
		if pr.Source == nil {
			continue
		}
		sources = true
		if pr.Replicas > 1 {
			p.diags.Errorf(pr.ReplicasPos, CodeConflict, "remove `replicas`: a source is read in order by one worker; give consumers replicas instead",
				"producer `%s` reads `%s` with %d replicas", pr.Name, pr.Source.Kind, pr.Replicas)
		}
		if pr.Source.Stdin() {
			if stdin != nil {
				p.diags.Errorf(pr.Source.ValuePos, CodeSource, fmt.Sprintf("only one producer may read stdin; producer `%s` does (line %d)", stdin.Name, stdin.Source.ValuePos.Line),
					"producer `%s` reads stdin, which producer `%s` reads already", pr.Name, stdin.Name)
			} else {
				stdin = pr
			}
		}
	}
	if !sources {
		return
	}
	for _, v := range pl.Vars {
		if v.Name == "line" {
			p.diags.Errorf(v.Pos, CodeVar, "rename the var: in a producer that reads a source, `line` is the record",
				"var `line` would hide the record of the producers that read a source")
		}
	}
}

// producerSchema is the schema of a producer: a template producer needs
// `count` and `item`; a source producer has exactly one source key.
func (p *parser) producerSchema() *Schema {
	s := object(p.producerFields(&Producer{}))
	var sources []*Schema
	for _, k := range SourceKinds {
		sources = append(sources, &Schema{Required: []string{k}})
	}
	template := &Schema{Required: []string{"count", "item"}, Not: &Schema{AnyOf: sources}}
	s.OneOf = append([]*Schema{template}, sources...)
	return s
}
