package config

import (
	"path/filepath"
	"strings"
	"time"
)

// The spec of a pipeline's test cases (`tests:`); tests.go parses them and
// `pcrun test` runs them.

// DefaultTestTimeout bounds the run of a test case without `timeout`.
const DefaultTestTimeout = 60 * time.Second

// Test is one test case.
type Test struct {
	Name     string
	Pos      Pos         // the `name` value, or the case itself; Pos.File is the file holding the case
	Set      []TestVar   // `set`: var overrides, in file order
	Count    []TestCount // `count`: producer count overrides
	Replicas []TestCount // `replicas`: stage replica overrides
	Timeout  time.Duration
	Stdin    string // `stdin`: what producers with `lines: -` or `jsonl: -` read
	Expect   Expect
}

// TestVar overrides a var for one case.
type TestVar struct {
	Name  string
	Pos   Pos // the key
	Value any // decoded YAML, as in Var
}

// TestCount overrides a number (a count or replicas) of one stage.
type TestCount struct {
	Stage string
	Pos   Pos // the key
	N     int
}

// Exit codes a case may expect, by the words a file may use for them.
var exitWords = []struct {
	word string
	code int
}{{"ok", 0}, {"failed", 1}, {"deadlock", 3}, {"interrupted", 130}}

// ExitWord names an exit code a case can expect: ok, failed, deadlock or
// interrupted, or "" for any other code.
func ExitWord(code int) string {
	for _, w := range exitWords {
		if w.code == code {
			return w.word
		}
	}
	return ""
}

// Expect is what a case checks. Exit is always checked (0 unless given);
// every other check is nil, or empty, when the case does not ask for it.
type Expect struct {
	Exit            int
	ExitPos         Pos    // zero when `exit` is not given
	Stdout          *Lines // exact: the whole output, in order
	StdoutUnordered *Lines // the same lines in any order (a multiset)
	StdoutContains  *Lines // each line appears (as often as it is listed)
	Queues          []QueueItems
	Ledger          []Total // only the totals given
}

// Lines is an expected list of stdout lines.
type Lines struct {
	Pos   Pos // the list
	Lines []Line
}

// Texts returns the lines' text.
func (ls *Lines) Texts() []string {
	out := make([]string, len(ls.Lines))
	for i, l := range ls.Lines {
		out[i] = l.Text
	}
	return out
}

// Line is one expected line of stdout.
type Line struct {
	Text string
	Pos  Pos
}

// QueueItems is the multiset of items a case expects to be put into a queue.
type QueueItems struct {
	Queue string
	Pos   Pos // the key
	Items []TestItem
}

// TestItem is one expected item: decoded YAML, as in Var.
type TestItem struct {
	Value any
	Pos   Pos
}

// Total is one expected total of the ledger.
type Total struct {
	Key string // produced, done, failed or abandoned
	Pos Pos
	N   int64
}

// LedgerKeys are the totals `expect.ledger` may check, in ledger order.
var LedgerKeys = []string{"produced", "done", "filtered", "failed", "skipped", "dead_lettered", "abandoned"}

// TestFile returns the name of the sibling test file of a pipeline file:
// dir/NAME.test.yaml for dir/NAME.yaml (the same extension as the pipeline).
func TestFile(pipeline string) string {
	ext := filepath.Ext(pipeline)
	return strings.TrimSuffix(pipeline, ext) + ".test" + ext
}

// PipelineOf returns the pipeline file a test file NAME.test.yaml (or
// .yml) belongs to, and false when file is not named like a test file.
func PipelineOf(file string) (string, bool) {
	ext := filepath.Ext(file)
	if ext != ".yaml" && ext != ".yml" {
		return "", false
	}
	base := strings.TrimSuffix(file, ext)
	if !strings.HasSuffix(base, ".test") || filepath.Base(base) == ".test" {
		return "", false
	}
	return strings.TrimSuffix(base, ".test") + ext, true
}

// WithTest returns a copy of pl with t's overrides applied: its vars set,
// its producers' counts and its stages' replicas changed (an override
// replaces a `count` or `replicas` template). pl is unchanged.
// The names must be declared (Parse and ParseTests check them); an
// override naming nothing is ignored.
func (pl *Pipeline) WithTest(t *Test) *Pipeline {
	out := *pl
	out.Vars = append([]Var(nil), pl.Vars...)
	out.Producers = append([]Producer(nil), pl.Producers...)
	out.Consumers = append([]Consumer(nil), pl.Consumers...)
	for _, s := range t.Set {
		for i := range out.Vars {
			if out.Vars[i].Name == s.Name {
				out.Vars[i].Value = s.Value
			}
		}
	}
	for _, c := range t.Count {
		for i := range out.Producers {
			if out.Producers[i].Name == c.Stage {
				out.Producers[i].Count, out.Producers[i].CountSet, out.Producers[i].CountTemplate = c.N, true, nil
			}
		}
	}
	for _, c := range t.Replicas {
		for i := range out.Producers {
			if out.Producers[i].Name == c.Stage {
				out.Producers[i].Replicas, out.Producers[i].ReplicasTemplate = c.N, nil
			}
		}
		for i := range out.Consumers {
			if out.Consumers[i].Name == c.Stage {
				out.Consumers[i].Replicas, out.Consumers[i].ReplicasTemplate = c.N, nil
			}
		}
	}
	return &out
}
