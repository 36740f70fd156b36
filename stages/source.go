package stages

import (
	"strings"

	"github.com/pcrun/pcrun/config"
)

// Unlimited is the Count of a producer that reads every record of its
// Source: it has no `count`. Expressions see it as `count`.
const Unlimited = -1

// Source is where a source producer's records come from: a file or stdin
// (a kind whose value is a path, as `lines` and `jsonl`) or a program's
// stdout (a kind whose value is an argv, as `command`). It is only a
// description; the reader its Kind registers in package effects opens
// and reads it. Nothing here names a kind: what differs between kinds is
// the shape of their value (config.SourceValue), and a Source has Argv
// exactly when its kind's value is an argv.
type Source struct {
	Kind config.SourceKind
	// Path is the file to read, resolved beside the pipeline file, or
	// config.StdinPath for stdin. Empty for an argv.
	Path string
	// Shown is the path as the file writes it, for messages and graphs.
	Shown string
	// Argv is a program and its arguments, run without a shell; nil for
	// a path.
	Argv []string
	// Pos is where the file names the source (its key).
	Pos config.Pos
}

// Stdin reports whether the source reads standard input.
func (s *Source) Stdin() bool {
	return s != nil && s.Argv == nil && s.Path == config.StdinPath
}

// Resumable reports whether a resumed run can skip the records an earlier
// run consumed: a file can be read again; stdin and a program cannot.
func (s *Source) Resumable() bool {
	return s != nil && s.Argv == nil && !s.Stdin()
}

// String describes the source as the file writes it: "lines app.log",
// "jsonl stdin", "command grep -v DEBUG".
func (s *Source) String() string {
	switch {
	case s.Argv != nil:
		return string(s.Kind) + " " + strings.Join(s.Argv, " ")
	case s.Stdin():
		return string(s.Kind) + " stdin"
	}
	return string(s.Kind) + " " + s.Shown
}

// source compiles a producer's source. A path is resolved beside the
// pipeline file but not opened: `pcrun validate` reads nothing.
func (c *compiler) source(p *config.Producer) *Source {
	s := p.Source
	out := &Source{Kind: s.Kind, Shown: s.Path, Argv: s.Argv, Pos: s.Pos}
	if s.Argv == nil {
		out.Path = s.Path
		if !s.Stdin() {
			out.Path = besideFile(c.file, s.Path)
		}
	}
	return out
}

// SetRecord gives the worker the record the next item is made from: the
// value of `line` in `delay`, `item` and `print`, and the item itself when
// the producer has no `item` template.
func (w *ProducerWorker) SetRecord(line any) { w.env.Line = line }

// withLine adds `line` to the names a source producer's expressions may
// use, for hints.
func withLine(e *exprEnv, source bool) {
	if source {
		e.names = append(append([]string(nil), e.names...), "line")
	}
}
