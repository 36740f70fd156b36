package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// StdinPath is the path of a path source (`lines`, `jsonl`) that names
// standard input.
const StdinPath = "-"

// Source is a producer's source key, one of the registered kinds
// (sourcekind.go): the producer makes an item per record instead of
// `count` items from a template. Path or Argv is set, as the kind's
// SourceValue says.
type Source struct {
	Kind     SourceKind
	Pos      Pos      // the key
	ValuePos Pos      // its value
	Path     string   // PathValue: as written, relative to the pipeline file's directory; StdinPath for stdin
	Argv     []string // ArgvValue: the program and its arguments, run without a shell; nil for a path
}

// Stdin reports whether the source reads standard input.
func (s *Source) Stdin() bool { return s != nil && s.Argv == nil && s.Path == StdinPath }

// sourceFields are the producer keys that name a source, one per
// registered kind; the kind's value shape parses it.
func (p *parser) sourceFields(pr *Producer) []field {
	var fields []field
	for _, spec := range sourceSpecs {
		f := field{name: string(spec.Kind), doc: spec.Doc}
		switch spec.Value {
		case PathValue:
			f.schema = func() *Schema { return &Schema{Type: "string", MinLength: ptr(1)} }
			f.parse = p.sourcePath(pr, spec)
		case ArgvValue:
			f.schema = func() *Schema {
				return &Schema{Type: "array", MinItems: ptr(1), Items: &Schema{Type: []string{"string", "number", "boolean"}}}
			}
			f.parse = p.sourceArgv(pr, spec)
		}
		fields = append(fields, f)
	}
	return fields
}

// sourcePath is the parse of a PathValue source such as `lines`: a file
// name, or StdinPath.
func (p *parser) sourcePath(pr *Producer, spec SourceSpec) func(k, v *yaml.Node) {
	kind, hint := spec.Kind, "name a file, e.g. "+spec.Example+", or - for stdin"
	return func(k, v *yaml.Node) {
		pr.sourceKey = true
		r := resolve(v)
		if r.Kind != yaml.ScalarNode {
			p.diags.Errorf(p.pos(v), CodeType, hint, "%s must be a file name, not %s", kind, describe(r))
			return
		}
		if r.Value == "" {
			p.diags.Errorf(p.pos(v), CodeSource, hint, "%s must name a file", kind)
			return
		}
		p.setSource(pr, &Source{Kind: kind, Pos: p.pos(k), ValuePos: p.pos(v), Path: r.Value})
	}
}

// sourceArgv is the parse of an ArgvValue source such as `command`: the
// program and its arguments.
func (p *parser) sourceArgv(pr *Producer, spec SourceSpec) func(k, v *yaml.Node) {
	kind := spec.Kind
	listHint := "write the program and its arguments as a list, e.g. " + spec.Example + "; no shell runs it"
	progHint := fmt.Sprintf("name the program to run, e.g. %s: [seq, 1, 10]", kind)
	return func(k, v *yaml.Node) {
		pr.sourceKey = true
		r := resolve(v)
		if r.Kind != yaml.SequenceNode {
			p.diags.Errorf(p.pos(v), CodeType, listHint, "%s must be a list, not %s", kind, describe(r))
			return
		}
		if len(r.Content) == 0 {
			p.diags.Errorf(p.pos(v), CodeSource, progHint, "%s is an empty list", kind)
			return
		}
		src := &Source{Kind: kind, Pos: p.pos(k), ValuePos: p.pos(v)}
		for i, e := range r.Content {
			s, ok := p.str(e, fmt.Sprintf("%s argument %d", kind, i+1))
			if !ok {
				return
			}
			if i == 0 && s == "" {
				p.diags.Errorf(p.pos(e), CodeSource, progHint, "%s names no program", kind)
				return
			}
			src.Argv = append(src.Argv, s)
		}
		p.setSource(pr, src)
	}
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
	for _, k := range SourceKinds() {
		sources = append(sources, &Schema{Required: []string{k}})
	}
	template := &Schema{Required: []string{"count", "item"}, Not: &Schema{AnyOf: sources}}
	s.OneOf = append([]*Schema{template}, sources...)
	return s
}
