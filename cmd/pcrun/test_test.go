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
