package config

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// The registry of source kinds: the producer keys that name where a
// producer's records come from. The file format's own kinds are
// registered here; another kind registers itself from its own file in
// package effects (effects.RegisterSource), which also gives its reader.
// The loader, `pcrun schema` and the hints read the registry, so a kind
// needs no edit to this package.

// SourceKind names where a producer's records come from: its key in a
// producer, e.g. `lines`.
type SourceKind string

// The file format's own source kinds; see docs/sources.md.
const (
	// LinesSource: a record per line of a file or of stdin.
	LinesSource SourceKind = "lines"
	// JSONLSource: a record per JSON value of a file or of stdin.
	JSONLSource SourceKind = "jsonl"
	// CommandSource: a record per line of a program's stdout.
	CommandSource SourceKind = "command"
)

// SourceValue is the shape of a source key's value. It decides how the
// loader reads the value and the schema describes it, and how stages
// compiles the source (a path is resolved beside the pipeline file).
type SourceValue int

const (
	// PathValue: a file name, relative to the pipeline file's directory,
	// or StdinPath for stdin; the source's Path.
	PathValue SourceValue = iota + 1
	// ArgvValue: a non-empty list, a program then its arguments, run
	// without a shell; the source's Argv.
	ArgvValue
)

// SourceSpec describes a source kind to the loader, the schema and the
// docs.
type SourceSpec struct {
	// Kind is the producer key, e.g. "csv"; it must not be another
	// producer key.
	Kind SourceKind
	// Value is the shape of the key's value.
	Value SourceValue
	// Doc is the key's description in `pcrun schema`.
	Doc string
	// Example is the key with a value, for hints: "lines: app.log" for a
	// path; for an argv, a command line with arguments, e.g.
	// "command: [grep, -v, DEBUG, app.log]".
	Example string
}

// sourceSpecs are the registered kinds in documentation order: the file
// format's own, then the others in the order they register.
var sourceSpecs = []SourceSpec{
	{Kind: LinesSource, Value: PathValue, Example: "lines: app.log",
		Doc: "Read items from a file, a record per line (without its line ending, `\\n` or `\\r\\n`; an empty line is a record too); " +
			"`-` reads stdin. Relative to the pipeline file's directory. In `item`, `print` and `delay`, `line` is the record " +
			"(the default item) and `i` its 0-based index. Instead of a template producer's `count` and `item`."},
	{Kind: JSONLSource, Value: PathValue, Example: "jsonl: orders.jsonl",
		Doc: "Read items from a file of JSON values (JSON Lines), a record per value, maps and lists keeping their structure; " +
			"`-` reads stdin. Relative to the pipeline file's directory. `line` is the decoded value (the default item)."},
	{Kind: CommandSource, Value: ArgvValue, Example: "command: [grep, -v, DEBUG, app.log]",
		Doc: "Run a program, without a shell, and make a record of each line of its stdout: a list, the program then its " +
			"arguments, e.g. [journalctl, -f, -o, cat]. Its stdin is empty; it is stopped (its whole process group) when the producer stops."},
}

// sourcesSealed is set when a file is first parsed or the schema built:
// from then on RegisterSource panics, so every file is read against the
// same kinds, and the registry is never written while it is read.
var sourcesSealed atomic.Bool

// RegisterSource adds a source kind to the file format. Call it from an
// init function (effects.RegisterSource does, with the kind's reader):
// it panics once a file has been parsed or the schema built, and on a
// spec that is incomplete, names a kind already registered or another
// producer key.
func RegisterSource(s SourceSpec) {
	if sourcesSealed.Load() {
		panic(fmt.Sprintf("config: source kind %s registered after parsing started; register from an init function", s.Kind))
	}
	switch {
	case s.Kind == "" || s.Doc == "" || s.Example == "":
		panic(fmt.Sprintf("config: source kind %q needs a Kind, a Doc and an Example", s.Kind))
	case s.Value != PathValue && s.Value != ArgvValue:
		panic(fmt.Sprintf("config: source kind %s has no value shape (PathValue or ArgvValue)", s.Kind))
	case slices.Contains(producerKeyNames(), string(s.Kind)):
		panic(fmt.Sprintf("config: source kind %s registered twice, or names a producer key", s.Kind))
	}
	sourceSpecs = append(sourceSpecs, s)
}

// LookupSource returns the spec of a registered kind.
func LookupSource(kind SourceKind) (SourceSpec, bool) {
	i := slices.IndexFunc(sourceSpecs, func(s SourceSpec) bool { return s.Kind == kind })
	if i < 0 {
		return SourceSpec{}, false
	}
	return sourceSpecs[i], true
}

// SourceKinds returns the source keys in documentation order.
func SourceKinds() []string {
	out := make([]string, len(sourceSpecs))
	for i, s := range sourceSpecs {
		out[i] = string(s.Kind)
	}
	return out
}

// SourceKindList is the source keys quoted for a message, in
// documentation order: "`lines`, `jsonl`, `command`".
func SourceKindList() string {
	return "`" + strings.Join(SourceKinds(), "`, `") + "`"
}

// sealSources ends registration: Parse and FileSchema call it before
// they read the registry.
func sealSources() { sourcesSealed.Store(true) }

// producerKeyNames are the keys of a producer, its source kinds included.
func producerKeyNames() []string {
	var keys []string
	for _, f := range (&parser{}).producerFields(&Producer{}) {
		keys = append(keys, f.name)
	}
	return keys
}
