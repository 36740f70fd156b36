package effects_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// A source kind is one file and one registration call: these two toy
// kinds are registered from this test file alone, as a kind's own file
// in package effects would, and the tests below read them through
// `validate`'s parsing, the schema and whole runs. `upper: FILE` (a
// path) makes a record of each line upper-cased; `words: [A, B]` (an
// argv) makes a record of each of its words, running nothing.
func init() {
	effects.RegisterSource(effects.Source{Spec: config.SourceSpec{Kind: "upper", Value: config.PathValue,
		Doc: "Read a file, a record per line, upper-cased; - reads stdin.", Example: "upper: words.txt"}, Open: openUpper})
	effects.RegisterSource(effects.Source{Spec: config.SourceSpec{Kind: "words", Value: config.ArgvValue,
		Doc: "A record per word of the list.", Example: "words: [echo, a, b]"}, Open: openWords})
}

func openUpper(s *stages.Source, env effects.SourceEnv) (effects.Reader, error) {
	if s.Stdin() {
		return &upperReader{sc: bufio.NewScanner(env.Stdin), where: "stdin"}, nil
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, err
	}
	return &upperReader{sc: bufio.NewScanner(f), where: s.Shown, file: f}, nil
}

// upperReader reads a file or stdin that never blocks: Stop has nothing
// to interrupt.
type upperReader struct {
	sc    *bufio.Scanner
	where string
	file  *os.File // nil for stdin, which it never closes
}

func (r *upperReader) Next() (any, error) {
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	return strings.ToUpper(r.sc.Text()), nil
}

func (r *upperReader) Stop()         {}
func (r *upperReader) Where() string { return r.where }

func (r *upperReader) Finish(bool) error {
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

func openWords(s *stages.Source, _ effects.SourceEnv) (effects.Reader, error) {
	return &wordsReader{words: s.Argv, where: s.String()}, nil
}

// wordsReader returns its words; Stop ends it early, from any goroutine.
type wordsReader struct {
	mu      sync.Mutex
	words   []string
	stopped bool
	where   string
}

func (r *wordsReader) Next() (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || len(r.words) == 0 {
		return nil, io.EOF
	}
	w := r.words[0]
	r.words = r.words[1:]
	return w, nil
}

func (r *wordsReader) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
}

func (r *wordsReader) Finish(bool) error { return nil }
func (r *wordsReader) Where() string     { return r.where }

// TestRegisteredKindParses: the loader (what `pcrun validate` runs)
// accepts the new keys with no diagnostic, and reads their values by
// their shape; the schema and the kinds list have them after the file
// format's own.
func TestRegisteredKindParses(t *testing.T) {
	src := "producers:\n  - {name: u, upper: in.txt, count: 2}\n  - {name: w, words: [a, b, 3]}\n" +
		"consumers:\n  - name: sink\n"
	pl, ds := config.Parse("dir/p.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	u, w := pl.Producers[0].Source, pl.Producers[1].Source
	if u == nil || u.Kind != "upper" || u.Path != "in.txt" || u.Argv != nil {
		t.Errorf("upper: %+v", u)
	}
	if w == nil || w.Kind != "words" || !slices.Equal(w.Argv, []string{"a", "b", "3"}) || w.Stdin() {
		t.Errorf("words: %+v", w)
	}
	if got, want := config.SourceKinds(), []string{"lines", "jsonl", "command", "upper", "words"}; !slices.Equal(got, want) {
		t.Errorf("SourceKinds %q, want %q", got, want)
	}
	b, err := json.Marshal(config.FileSchema(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"upper":{"description":"Read a file, a record per line, upper-cased; - reads stdin.","type":"string","minLength":1}`, `{"required":["words"]}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("schema lacks %s", want)
		}
	}
}

// TestRegisteredKindDiagnostics: the value shape's checks speak of the
// new kind, with its example.
func TestRegisteredKindDiagnostics(t *testing.T) {
	for src, want := range map[string]string{
		"producers:\n  - {name: p, upper: [a]}\n":         "upper must be a file name, not a list | name a file, e.g. upper: words.txt, or - for stdin",
		"producers:\n  - {name: p, words: a}\n":           `words must be a list, not the string "a" | write the program and its arguments as a list, e.g. words: [echo, a, b]; no shell runs it`,
		"producers:\n  - {name: p, words: [\"\"]}\n":      "words names no program | name the program to run, e.g. words: [seq, 1, 10]",
		"producers:\n  - {name: p, upper: a, lines: b}\n": "`upper` and `lines` given together | a producer reads one source; use one producer per source",
	} {
		_, ds := config.Parse("p.yaml", []byte(src+"consumers:\n  - name: sink\n"))
		var got []string
		for _, d := range ds {
			got = append(got, d.Message+" | "+d.Hint)
		}
		if !slices.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", src, got, want)
		}
	}
}

// TestRegisteredKindRuns runs whole pipelines that read the new kinds:
// a path beside the pipeline file, stdin, and an argv.
func TestRegisteredKindRuns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("alpha\nbeta\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		producer, stdin string
		source          string // stages.Source.String
		resumable       bool
		want            []any
	}{
		{"{name: p, upper: in.txt, print: \"${i} ${line}\"}", "", "upper in.txt", true, []any{"ALPHA", "BETA"}},
		{"{name: p, upper: \"-\"}", "one\ntwo\n", "upper stdin", false, []any{"ONE", "TWO"}},
		{"{name: p, words: [x, y, z], count: 2}", "", "words x y z", false, []any{"x", "y"}},
	} {
		g := compile(t, dir, "producers:\n  - "+tc.producer+"\nconsumers:\n  - name: sink\n")
		s := g.Producers[0].Source
		if s.String() != tc.source || s.Resumable() != tc.resumable {
			t.Errorf("%s: source %q, resumable %v", tc.producer, s, s.Resumable())
		}
		var mu sync.Mutex
		var got []any
		put := func(_ string, v any) { mu.Lock(); got = append(got, v); mu.Unlock() }
		res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stdin: strings.NewReader(tc.stdin),
			Observers: []observe.Observer{observe.Funcs{OnPut: put}}})
		if err != nil {
			t.Fatalf("%s: %v", tc.producer, err)
		}
		if !reflect.DeepEqual(got, tc.want) || res.Total.Done != int64(len(tc.want)) {
			t.Errorf("%s: items %q, done %d; want %q", tc.producer, got, res.Total.Done, tc.want)
		}
	}
}

// compile writes src as dir/p.yaml and loads and compiles it.
func compile(t *testing.T, dir, src string) *stages.Graph {
	t.Helper()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pl, ds := config.Load(path)
	if ds.HasErrors() {
		t.Fatalf("parse: %v", ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds)
	}
	return g
}

// TestRegisterSourceRejects: a kind registers once, with a whole spec
// and an Opener, and never after parsing started (these tests parsed
// already).
func TestRegisterSourceRejects(t *testing.T) {
	config.Parse("p.yaml", nil)
	open := func(*stages.Source, effects.SourceEnv) (effects.Reader, error) { return nil, nil }
	for name, s := range map[string]effects.Source{
		"built-in":  {Spec: config.SourceSpec{Kind: "lines", Value: config.PathValue, Doc: "d", Example: "lines: a"}, Open: open},
		"again":     {Spec: config.SourceSpec{Kind: "upper", Value: config.PathValue, Doc: "d", Example: "upper: a"}, Open: open},
		"late":      {Spec: config.SourceSpec{Kind: "late", Value: config.PathValue, Doc: "d", Example: "late: a"}, Open: open},
		"no opener": {Spec: config.SourceSpec{Kind: "late", Value: config.PathValue, Doc: "d", Example: "late: a"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			effects.RegisterSource(s)
		}()
	}
	if _, ok := config.LookupSource("late"); ok {
		t.Error("late was registered")
	}
	if _, ok := effects.LookupSource("late"); ok {
		t.Error("late has an Opener")
	}
}
