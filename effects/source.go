package effects

import (
	"io"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// Reader reads the records of one producer's source. The runtime opens it
// (an Opener, found by LookupSource) before any worker starts, and owns
// it from then on: one goroutine, the producer's, calls Next, Where and
// Finish; Stop may be called from any goroutine, at any time, more than
// once. Whoever opened a Reader must Finish it exactly once, read or not.
type Reader interface {
	// Next returns the next record: a string for a line, a value decoded
	// by stages.FromJSON for jsonl. It blocks while the source has
	// nothing to read yet (stdin, a quiet command) until Stop is called.
	// It returns io.EOF at the end, a *RecordError for a record that
	// cannot be an item (Next can be called again), or another error,
	// after which the source cannot be read any more.
	Next() (any, error)
	// Stop makes the source end early: a blocked Next returns, and a
	// command's process group gets SIGTERM. It does not block, and after
	// Finish it does nothing.
	Stop()
	// Finish releases the source: closes its file, gives stdin back as
	// it was, waits for a command to exit (bounded: the group is killed
	// when it lingers). ended says the source was read to io.EOF;
	// otherwise it is stopped first. The error is the source failing on
	// its own (a command's non-zero exit pcrun did not cause). It never
	// closes SourceEnv.Stdin.
	Finish(ended bool) error
	// Where names the source in messages: its file as the pipeline file
	// writes it, "stdin", or the command.
	Where() string
}

// SourceEnv is what opening a source may use besides its description.
type SourceEnv struct {
	// Stdin is what `lines: -` and `jsonl: -` read; nil reads nothing.
	Stdin io.Reader
}

// Opener opens a source: opens its file, takes stdin, or starts its
// command; nothing is read yet. The error says why it cannot be read (a
// missing file, a program that cannot start); then there is nothing to
// Finish.
type Opener func(s *stages.Source, env SourceEnv) (Reader, error)

// sources holds the Opener of every source kind; filled by the files of
// the kinds in their init, read-only afterwards.
var sources = map[config.SourceKind]Opener{}

// Source is a source kind that the file format does not know by itself:
// its key as config describes it and the Opener of its reader.
type Source struct {
	Spec config.SourceSpec
	Open Opener
}

// RegisterSource adds a source kind, in one call from the init function
// of the kind's own file (say effects/csv.go):
//
//	func init() {
//		RegisterSource(Source{Spec: config.SourceSpec{Kind: "csv", Value: config.PathValue, Doc: "...", Example: "csv: data.csv"}, Open: openCSV})
//	}
//
// It registers the key with config (config.RegisterSource: the loader,
// `pcrun validate` and `pcrun schema` then accept it) and the Opener
// here. It panics as config.RegisterSource does (a duplicate kind, or a
// call after the first file is parsed), and on a nil Opener.
func RegisterSource(s Source) {
	if s.Open == nil {
		panic("effects: source kind " + string(s.Spec.Kind) + " has no Opener")
	}
	config.RegisterSource(s.Spec)
	RegisterOpener(s.Spec.Kind, s.Open)
}

// RegisterOpener makes open the Opener of kind, a kind config registers
// already: the file format's own (`lines`, `jsonl`, `command`), whose
// keys and documentation config owns. Call it from an init function, once
// per kind; it panics on a kind config does not know or registered twice.
func RegisterOpener(kind config.SourceKind, open Opener) {
	if _, dup := sources[kind]; dup {
		panic("effects: source kind " + string(kind) + " registered twice")
	}
	if _, ok := config.LookupSource(kind); !ok {
		panic("effects: source kind " + string(kind) + " is not in the file format; register it with RegisterSource")
	}
	sources[kind] = open
}

// LookupSource returns the Opener of kind; false when no file registers
// it.
func LookupSource(kind config.SourceKind) (Opener, bool) {
	open, ok := sources[kind]
	return open, ok
}

// RecordError is a record that cannot become an item (bad JSON, a line
// too long): it counts as an item that failed in the producer, and the
// reader can go on with the next record.
type RecordError struct{ msg string }

func (e *RecordError) Error() string { return e.msg }
