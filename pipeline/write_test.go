//go:build unix

package pipeline_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/pipeline"
)

// readLines reads a file written by write steps: every line must end in
// a newline.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends in a torn line: %q", path, b[max(0, len(b)-80):])
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// wholeLine is a line of TestWrite*: a worker, an item, and padding long
// enough that lines cross the writer's buffer boundaries.
var wholeLine = regexp.MustCompile(`^c(-[1-4])? (\d+) x{200} end$`)

// TestWriteManyWorkers: 4 workers of two consumers write one file; every
// line is whole and each item's line is there exactly once, after lines
// the file already held.
func TestWriteManyWorkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 4000
	line := `"${worker} ${item} ` + strings.Repeat("x", 200) + ` end"`
	res, err, _, _ := runReal(t, fmt.Sprintf(`
queues: {a: {capacity: 10}, b: {capacity: 10}}
producers:
  - {name: p, to: a, count: %d, item: "${i}"}
  - {name: q, to: b, count: %d, item: "${i + %d}"}
consumers:
  - {name: c, from: a, replicas: 4, do: [{write: {path: %s, line: %s}}]}
  - {name: d, from: b, replicas: 2, do: [{write: {path: %s, line: %s}}]}
`, n/2, n/2, n/2, yamlQuote(path), line, yamlQuote(path), strings.Replace(line, "${worker}", "c", 1)), nil)
	if err != nil || res.Total.Done != n {
		t.Fatalf("err %v, ledger %+v", err, res.Total)
	}
	lines := readLines(t, path)
	if len(lines) != n+1 || lines[0] != "before" {
		t.Fatalf("%d lines, first %q", len(lines), lines[0])
	}
	seen := map[string]int{}
	for _, l := range lines[1:] {
		m := wholeLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("torn or mixed line %q", l)
		}
		seen[m[2]]++
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Errorf("item %d written %d times", i, c)
		}
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("an existing file keeps its mode: %v %v", info.Mode(), err)
	}
}

// TestWriteJSONLines: a mapping as `line` is one JSON object a line.
func TestWriteJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	_, err, _, _ := runReal(t, `
producers: [{name: p, count: 1, item: 'say "hi" <b> & é'}]
consumers: [{name: c, do: [{write: {path: `+yamlQuote(path)+`, line: {item: "${item}", n: "${len(item)}", ok: true}}}]}]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := readLines(t, path)
	want := []string{`{"item":"say \"hi\" \u003cb\u003e \u0026 é","n":16,"ok":true}`}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("got %q, want %q", got, want)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("a new file has mode 0644: %v %v", info.Mode(), err)
	}
}

// TestWriteInterrupted: a run cancelled by two signals while workers
// write leaves only whole lines, one per item done.
func TestWriteInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	sig := make(chan os.Signal, 2)
	go func() {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if info, err := os.Stat(path); err == nil && info.Size() > 0 {
				break // lines are flowing
			}
		}
		sig <- os.Interrupt
		sig <- os.Interrupt
	}()
	res, err, _, _ := runReal(t, `
queues: {main: {capacity: 10}}
producers: [{name: p, count: 10000000, item: "${i}"}]
consumers: [{name: c, replicas: 4, do: [{write: {path: `+yamlQuote(path)+`, line: "${worker} ${item} `+strings.Repeat("x", 200)+` end"}}]}]
`, sig)
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	lines := readLines(t, path)
	for _, l := range lines {
		if !wholeLine.MatchString(l) {
			t.Fatalf("torn line %q", l)
		}
	}
	if int64(len(lines)) != res.Total.Done {
		t.Errorf("%d lines, %d items done", len(lines), res.Total.Done)
	}
}

// TestWriteCannotOpen: a file that cannot be opened stops the run before
// anything runs.
func TestWriteCannotOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "out.txt")
	res, err := pipeline.Run(t.Context(), compileEnv(t, `
producers: [{name: p, count: 1, item: x, print: made}]
consumers: [{name: c, do: [{write: {path: `+yamlQuote(path)+`, line: x}}]}]
`), pipeline.Options{})
	var oe *pipeline.OutputError
	if res != nil || !errors.As(err, &oe) || !strings.Contains(err.Error(), "cannot open "+path+" for a write step: no such file or directory") {
		t.Fatalf("res %v, err %v", res, err)
	}
}
