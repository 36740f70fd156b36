package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/internal/exitcode"
)

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

func TestTestExamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, _ := runMain(t, "test", "../../examples/")
		if code != exitcode.OK {
			t.Errorf("exit %d, want 0", code)
		}
		ls := stdoutLines(t, stdout)
		if len(ls) < 2 || !regexp.MustCompile(`^\d+ passed, 0 failed$`).MatchString(ls[len(ls)-1]) {
			t.Fatalf("want a last line `N passed, 0 failed`, got %q", ls)
		}
		files := map[string]bool{}
		for _, l := range ls[:len(ls)-1] {
			m := regexp.MustCompile(`^ok   (\S+): .+ \(<1ms\)$`).FindStringSubmatch(l)
			if m == nil {
				t.Errorf("unexpected line %q", l)
				continue
			}
			files[filepath.Base(m[1])] = true
		}
		// Every example has tests, one of them in a sibling test file.
		for _, f := range []string{"fruit.yaml", "sentinel.yaml", "hang.yaml", "kitchen.test.yaml"} {
			if !files[f] {
				t.Errorf("no case of %s ran", f)
			}
		}
	})
}

// TestTestFailing checks the report of failing cases against a golden
// file: a diff for a wrong line, want/got for the ledger and the exit code
// (with why the run ended), multiset differences, a case that does not
// compile, and an expected deadlock that passes.
func TestTestFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, stderr := runMain(t, "test", "testdata/pipetest/")
		if code != exitcode.Failed {
			t.Errorf("exit %d, want 1", code)
		}
		if stderr != "" {
			t.Errorf("stderr: %q, want nothing", stderr)
		}
		golden(t, "test_failing.txt", stdout)
	})
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
				code, stdout, _ := runMain(t, "test", filepath.Join(dir, "p.yaml"))
				if code != c.code {
					t.Errorf("exit %d, want %d", code, c.code)
				}
				ls := stdoutLines(t, stdout)
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

// TestTestInvalid checks that a problem in a case is reported like `pcrun
// validate` reports it, at file:line:col, with exit 2 and nothing run.
func TestTestInvalid(t *testing.T) {
	for _, c := range []struct {
		name, file, content string
		want                []string
	}{
		{"unknown key", "p.yaml", counter + "tests:\n  - name: x\n    expcet: {exit: 0}\n",
			[]string{`p\.yaml:13:5: error: unknown key .expcet. in test "x"`, "did you mean `expect`?"}},
		{"unknown producer", "p.yaml", counter + "tests:\n  - name: x\n    count: {q: 1}\n",
			[]string{`p\.yaml:13:13: error: count: unknown producer .q.`}},
		{"in a sibling file", "p.test.yaml", "tests:\n  - name: x\n    expect: {queues: {mian: []}}\n",
			[]string{`p\.test\.yaml:3:23: error: expect\.queues: undefined queue .mian.`, "did you mean `main`?"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"p.yaml": counter, c.file: c.content}
			if c.file == "p.yaml" {
				files = map[string]string{"p.yaml": c.content}
			}
			dir := writeFiles(t, files)
			code, stdout, stderr := runMain(t, "test", dir)
			if code != exitcode.Usage {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q: no case should run", stdout)
			}
			for _, w := range c.want {
				if !regexp.MustCompile(w).MatchString(stderr) {
					t.Errorf("stderr does not match %q", w)
				}
			}
			// pcrun validate finds the same problem.
			if code, _, vstderr := runMain(t, "validate", dir); code != exitcode.Failed || !regexp.MustCompile(c.want[0]).MatchString(vstderr) {
				t.Errorf("pcrun validate: exit %d, want 1 and a match for %q", code, c.want[0])
			}
		})
	}
}

// TestTestDiscovery runs a directory: pipelines with inline tests, with a
// sibling test file, with none, in a subdirectory; test files stand for
// their pipelines; --run filters cases by name.
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
		name string
		args []string
		want []string // lines of stdout, in order
	}{
		{"dir", []string{dir}, []string{
			"ok   " + rel("inline.yaml") + ": inline one (<1ms)",
			"ok   " + rel("inline.yaml") + ": inline two (<1ms)",
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"ok   " + rel("sub/deeper.yml") + ": deeper (<1ms)",
			"?    " + rel("untested.yaml") + ": no tests",
			"1 file(s) without tests",
			"4 passed, 0 failed",
		}},
		{"sibling file named", []string{rel("sibling.test.yaml")}, []string{
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"1 passed, 0 failed",
		}},
		{"pipeline and its test file named", []string{rel("sibling.yaml"), rel("sibling.test.yaml")}, []string{
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"1 passed, 0 failed",
		}},
		{"--run", []string{"--run", "^inline t|sib", dir}, []string{
			"ok   " + rel("inline.yaml") + ": inline two (<1ms)",
			"ok   " + rel("sibling.test.yaml") + ": from the sibling (<1ms)",
			"?    " + rel("untested.yaml") + ": no tests",
			"1 file(s) without tests",
			"2 passed, 0 failed, 2 skipped",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				code, stdout, _ := runMain(t, append([]string{"test"}, c.args...)...)
				if code != exitcode.OK {
					t.Errorf("exit %d, want 0", code)
				}
				if got := stdoutLines(t, stdout); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
					t.Errorf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
				}
			})
		})
	}
}

func TestTestUsage(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.yaml":             counter,
		"orphan/x.test.yaml": "tests: []\n",
	})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no files", nil, "no pipeline files given"},
		{"bad regexp", []string{"--run", "(", filepath.Join(dir, "p.yaml")}, `--run "\("`},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, "cannot read pipeline file"},
		{"test file without pipeline", []string{filepath.Join(dir, "orphan")}, `test file without a pipeline`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runMain(t, append([]string{"test"}, c.args...)...)
			if code != exitcode.Usage {
				t.Errorf("exit %d, want 2", code)
			}
			if !regexp.MustCompile(c.want).MatchString(stderr) {
				t.Errorf("stderr does not match %q", c.want)
			}
		})
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

func TestTestTimeout(t *testing.T) {
	dir := writeFiles(t, map[string]string{"loop.yaml": loopForever})
	code, stdout, _ := runMain(t, "test", dir)
	if code != exitcode.Failed {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout, "loops\n") || !strings.Contains(stdout, ": timed out after 50ms (a case may set `timeout:`)") {
		t.Errorf("stdout does not report the timeout:\n%s", stdout)
	}
}

// TestTestInterrupt checks that a signal ends `pcrun test`: the running
// case is cancelled, no further case starts, exit 130.
func TestTestInterrupt(t *testing.T) {
	dir := writeFiles(t, map[string]string{"loop.yaml": strings.Replace(loopForever, "50ms", "1h", 1) + "  - name: never runs\n"})
	sig := make(chan os.Signal, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		sig <- syscall.SIGINT
	}()
	code, stdout, stderr := runMainSignals(t, sig, "test", dir)
	if code != exitcode.Interrupted {
		t.Errorf("exit %d, want 130", code)
	}
	if !strings.Contains(stdout, "INTR "+filepath.Join(dir, "loop.yaml")+": loops\n") || strings.Contains(stdout, "never runs") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.HasSuffix(stdout, "0 passed, 0 failed\n") || !strings.Contains(stderr, "interrupted") {
		t.Errorf("want the totals on stdout and `interrupted` on stderr")
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
	code, stdout, _ := runMain(t, "test", dir)
	if code != exitcode.OK || !strings.Contains(stdout, "1 passed, 0 failed") {
		t.Errorf("exit %d, stdout %q; want the case to pass", code, stdout)
	}
}
