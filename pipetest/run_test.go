package pipetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeFiles creates files (name -> content) under a new temp dir and
// returns the dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// counter is a pipeline whose cases tests append; it prints "ate 0".."ate 2"
// in order (one consumer) after delays that a test run skips.
const counter = `producers:
  - name: p
    count: 3
    delay: 1h
    item: "${i}"
consumers:
  - name: c
    do:
      - sleep: 1h
      - print: "ate ${item}"
`

// runTests runs the cases of paths, selected by filter ("": all), and
// returns the report, the exit code of Run's error and the lines written.
func runTests(t *testing.T, ctx context.Context, filter string, paths ...string) (rep Report, code int, out []string) {
	t.Helper()
	var b strings.Builder
	opts := Options{Out: &b}
	if filter != "" {
		opts.Run = regexp.MustCompile(filter)
	}
	rep, err := Run(ctx, paths, opts)
	code = exitcode.Of(err)
	t.Logf("Run(%q): %+v, error %v (exit %d)\n%s", paths, rep, err, code, b.String())
	if s := b.String(); s != "" {
		if !strings.HasSuffix(s, "\n") {
			t.Errorf("the report does not end with a whole line: %q", s)
		}
		out = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	return rep, code, out
}

func TestTestOutcomes(t *testing.T) {
	for _, c := range []struct {
		name   string
		cases  string
		code   int
		want   []string // regexps, each matching some line of stdout
		absent []string // regexps matching no line
	}{
		{"stdout passes", `
  - name: in order
    expect: {stdout: [ate 0, ate 1, ate 2], ledger: {produced: 3, done: 3}}`,
			exitcode.OK, []string{`^ok   \S+/p\.yaml: in order \(<1ms\)$`, `^1 passed, 0 failed$`}, []string{`FAIL`}},
		{"wrong stdout line shows a diff", `
  - name: wrong line
    expect: {stdout: [ate 0, ate 9, ate 2]}`,
			exitcode.Failed, []string{`^FAIL \S+/p\.yaml: wrong line$`, `^    \S+/p\.yaml:\d+:\d+: stdout: lines differ \(-want \+got\):$`,
				`^        -ate 9$`, `^        \+ate 1$`, `^         ate 0$`, `^0 passed, 1 failed$`}, nil},
		{"wrong ledger", `
  - name: ledger
    expect: {ledger: {done: 2}}`,
			exitcode.Failed, []string{`^    \S+:\d+:\d+: ledger\.done: want 2, got 3$`}, nil},
		{"unexpected exit", `
  - name: fails
    set: {n: 0}
    expect: {stdout_contains: [ate 0]}`,
			exitcode.Failed, []string{`exit: want 0 \(ok\), got 1 \(failed\)$`, `divide by zero`, `stdout_contains: 1 line\(s\) not in stdout`}, nil},
		{"expected failure passes", `
  - name: fails
    set: {n: 0}
    expect: {exit: failed, ledger: {done: 0}}`,
			exitcode.OK, []string{`^ok   `}, nil},
		{"empty output", `
  - name: none
    count: {p: 0}
    expect: {stdout: [], queues: {main: []}, ledger: {produced: 0}}`,
			exitcode.OK, []string{`^ok   `}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"p.yaml": "vars: {n: 1}\n" +
				strings.Replace(counter, `"ate ${item}"`, `"ate ${item + 0 * (1 % n)}"`, 1) + "tests:" + c.cases + "\n"})
			synctest.Test(t, func(t *testing.T) {
				rep, code, ls := runTests(t, t.Context(), "", filepath.Join(dir, "p.yaml"))
				if code != c.code {
					t.Errorf("exit %d, want %d", code, c.code)
				}
				if rep.Passed+rep.Failed != 1 || (rep.Failed == 0) != (c.code == exitcode.OK) {
					t.Errorf("report %+v, want one case, failed when the exit is not 0", rep)
				}
				for _, w := range c.want {
					if !anyMatch(ls, w) {
						t.Errorf("no line of stdout matches %q", w)
					}
				}
				for _, a := range c.absent {
					if anyMatch(ls, a) {
						t.Errorf("a line of stdout matches %q", a)
					}
				}
			})
		})
	}
}

func anyMatch(lines []string, re string) bool {
	r := regexp.MustCompile(re)
	for _, l := range lines {
		if r.MatchString(l) {
			return true
		}
	}
	return false
}

// TestTestDiscovery runs a directory: pipelines with inline tests, with a
// sibling test file, with none, in a subdirectory; test files stand for
// their pipelines; Options.Run filters cases by name.
func TestTestDiscovery(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"inline.yaml":          counter + "tests:\n  - name: inline one\n    expect: {stdout_unordered: [ate 2, ate 1, ate 0]}\n  - name: inline two\n",
		"sibling.yaml":         counter,
		"sibling.test.yaml":    "# cases for sibling.yaml\ntests:\n  - name: from the sibling\n    count: {p: 1}\n    expect: {stdout: [ate 0]}\n",
		"untested.yaml":        counter,
		"sub/deeper.yml":       counter + "tests:\n  - name: deeper\n",
		".hidden/ignored.yaml": "not: [a pipeline",
	})
	rel := func(name string) string { return filepath.Join(dir, name) }
	for _, c := range []struct {
		name   string
		filter string
		args   []string
		want   []string // lines of the report, in order
	}{
		{"dir", "", []string{dir}, []string{
			"ok   " + rel("inline.yaml") + ": inline one (<1ms)",
			"ok   " + rel("inline.yaml") + ": inline two (<1ms)",
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"ok   " + rel("sub/deeper.yml") + ": deeper (<1ms)",
			"?    " + rel("untested.yaml") + ": no tests",
			"1 file(s) without tests",
			"4 passed, 0 failed",
		}},
		{"sibling file named", "", []string{rel("sibling.test.yaml")}, []string{
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"1 passed, 0 failed",
		}},
		{"pipeline and its test file named", "", []string{rel("sibling.yaml"), rel("sibling.test.yaml")}, []string{
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"1 passed, 0 failed",
		}},
		{"filtered", "^inline t|sib", []string{dir}, []string{
			"ok   " + rel("inline.yaml") + ": inline two (<1ms)",
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"?    " + rel("untested.yaml") + ": no tests",
			"1 file(s) without tests",
			"2 passed, 0 failed, 2 skipped",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, code, got := runTests(t, t.Context(), c.filter, c.args...)
				if code != exitcode.OK {
					t.Errorf("exit %d, want 0", code)
				}
				if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
					t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
				}
			})
		})
	}
}

func TestTestTimeout(t *testing.T) {
	dir := writeFiles(t, map[string]string{"loop.yaml": loopForever})
	_, code, out := runTests(t, t.Context(), "", dir)
	if code != exitcode.Failed {
		t.Errorf("exit %d, want 1", code)
	}
	if stdout := strings.Join(out, "\n") + "\n"; !strings.Contains(stdout, "loops\n") || !strings.Contains(stdout, ": timed out after 50ms (a case may set `timeout:`)") {
		t.Errorf("the report does not say the case timed out:\n%s", stdout)
	}
}

// A case of a pipeline that does nothing outside pcrun runs on the
// virtual clock: its hour-long delays and its deadline take their time
// exactly, and it ends at once.
func TestTestSimulatedTime(t *testing.T) {
	dir := writeFiles(t, map[string]string{"clock.yaml": `version: 1
name: clock
shutdown: {deadline: 3h30m, grace: 0s}
producers:
  - name: p
    count: 10
    delay: 1h
    item: "${i}"
consumers:
  - name: c
    do:
      - print: "ate ${item}"
tests:
  - name: three hours of items
    expect:
      stdout: [ate 0, ate 1, ate 2]
      ledger: {produced: 3, done: 3, abandoned: 0}
`})
	rep, code, out := runTests(t, t.Context(), "", dir)
	if code != exitcode.OK || rep.Passed != 1 || !slices.Contains(out, "1 passed, 0 failed") {
		t.Errorf("exit %d, report %+v %q; want the case to pass", code, rep, out)
	}
}

// loopForever never ends by itself: c feeds its own queue, which therefore
// never closes, and the item keeps moving (no deadlock). It runs outside
// synctest bubbles: a busy loop never lets fake time advance.
const loopForever = `queues:
  q: {}
producers:
  - name: p
    to: q
    count: 1
    item: x
consumers:
  - name: c
    from: q
    to: q
    do:
      - emit: "${item}"
tests:
  - name: loops
    timeout: 50ms
`

// TestRunInterrupted: when the context ends, the running case is cut
// short and reported, no further case starts, and the error carries the
// context's cause (exit 130 for pipeline.ErrInterrupted).
func TestRunInterrupted(t *testing.T) {
	dir := writeFiles(t, map[string]string{"loop.yaml": strings.Replace(loopForever, "50ms", "1h", 1) + "  - name: never runs\n"})
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	stop := time.AfterFunc(50*time.Millisecond, func() { cancel(pipeline.ErrInterrupted) })
	defer stop.Stop()
	rep, code, out := runTests(t, ctx, "", dir)
	if code != exitcode.Interrupted || !rep.Interrupted || rep.Passed+rep.Failed != 0 {
		t.Errorf("exit %d, report %+v; want 130, interrupted, no case counted", code, rep)
	}
	want := []string{"INTR " + filepath.Join(dir, "loop.yaml") + ": loops", "0 passed, 0 failed"}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("report %q, want %q", out, want)
	}
}

// TestRunInvalid: a problem in a case is reported like `pcrun validate`
// reports it, at file:line:col, in an *InvalidError (exit 2), with
// nothing run; so is a test file without its pipeline.
func TestRunInvalid(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown key", map[string]string{"p.yaml": counter + "tests:\n  - name: x\n    expcet: {exit: 0}\n"},
			[]string{`p\.yaml:13:5: error: unknown key .expcet. in test "x"`, "did you mean `expect`?"}},
		{"unknown producer", map[string]string{"p.yaml": counter + "tests:\n  - name: x\n    count: {q: 1}\n"},
			[]string{`p\.yaml:13:13: error: count: unknown producer .q.`}},
		{"in a sibling file", map[string]string{"p.yaml": counter, "p.test.yaml": "tests:\n  - name: x\n    expect: {queues: {mian: []}}\n"},
			[]string{`p\.test\.yaml:3:23: error: expect\.queues: undefined queue .mian.`, "did you mean `main`?"}},
		{"test file without its pipeline", map[string]string{"p.yaml": counter, "orphan/x.test.yaml": "tests: []\n"},
			[]string{`x\.test\.yaml: error: test file without a pipeline: \S+x\.yaml does not exist`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			var out strings.Builder
			rep, err := Run(t.Context(), []string{dir}, Options{Out: &out})
			var invalid *InvalidError
			if !errors.As(err, &invalid) || exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("Run: %v (exit %d), want an *InvalidError (exit 2)", err, exitcode.Of(err))
			}
			if out.Len() != 0 || rep != (Report{}) {
				t.Errorf("report %+v, output %q: no case should run", rep, out.String())
			}
			if len(invalid.Diagnostics) != 1 || !invalid.Diagnostics.HasErrors() {
				t.Errorf("diagnostics %v, want the one error", invalid.Diagnostics)
			}
			for _, w := range c.want {
				if !regexp.MustCompile(w).MatchString(invalid.Diagnostics.Error()) {
					t.Errorf("diagnostics do not match %q:\n%s", w, invalid.Diagnostics)
				}
			}
			if invalid.Error() != "1 error(s) in pipeline or test files; no test was run" {
				t.Errorf("Error() = %q", invalid.Error())
			}
			for file := range c.files {
				if path := filepath.Join(dir, file); invalid.Sources[path] == nil && !strings.HasPrefix(file, "orphan") {
					t.Errorf("Sources lacks %s, which diagnostics quote", path)
				}
			}
		})
	}
}

// TestRunPaths: a path that names no file is an error with exit 2, and a
// directory with a test file whose pipeline is missing reports that
// instead.
func TestRunPaths(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.yaml": counter, "empty/README": "no pipelines here\n"})
	for _, c := range []struct {
		name string
		path string
		want string
	}{
		{"glob without match", filepath.Join(dir, "*.yml"), `no files match ".*\*\.yml"`},
		{"directory without pipelines", filepath.Join(dir, "empty"), `no pipeline files \(\*\.yaml, \*\.yml\) under .*empty`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(t.Context(), []string{c.path}, Options{})
			if exitcode.Of(err) != exitcode.Usage || !regexp.MustCompile(c.want).MatchString(fmt.Sprint(err)) {
				t.Errorf("Run: %v (exit %d), want exit 2 and a match for %q", err, exitcode.Of(err), c.want)
			}
			var pe *PathError
			if !errors.As(err, &pe) || pe.Error() != fmt.Sprint(err) {
				t.Errorf("Run: %v, want a *PathError", err)
			}
		})
	}
	// The pipeline file that a missing file stands for cannot be read: a
	// diagnostic, as `pcrun validate` gives it.
	_, err := Run(t.Context(), []string{filepath.Join(dir, "nope.test.yaml")}, Options{})
	var invalid *InvalidError
	if !errors.As(err, &invalid) || !strings.Contains(invalid.Diagnostics.Error(), "cannot read pipeline file") {
		t.Errorf("Run(nope.test.yaml): %v, want the unreadable nope.yaml", err)
	}
}

// TestFiles: directories, globs and files expand in the order given,
// without repeats; test files stand for their pipelines in Pipelines.
func TestFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.yaml": counter, "a.yml": counter, "a.test.yaml": "tests: []\n",
		"sub/c.yaml": counter, ".hidden/d.yaml": counter, "notes.txt": "",
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	files, err := Files([]string{p("b.yaml"), dir, p("**/c.yaml"), p("a.test.yaml"), p("missing.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{p("b.yaml"), p("a.yml"), p("sub/c.yaml"), p("a.test.yaml"), p("missing.yaml")}
	if !slices.Equal(files, want) {
		t.Errorf("Files = %q\nwant    %q", files, want)
	}
	if got, want := Pipelines([]string{p("a.test.yaml"), p("b.yaml"), p("a.yaml")}), []string{p("a.yaml"), p("b.yaml")}; !slices.Equal(got, want) {
		t.Errorf("Pipelines = %q, want %q", got, want)
	}
}
