package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/internal/cli"
)

// The files in testdata/invalid carry their expected diagnostics as
// comments:
//
//	# want LINE:COL SEVERITY "REGEX"
//	# want-hint LINE:COL "REGEX"
//
// SEVERITY is error or warning. REGEX is a Go regexp, taken as written
// between the first and the last double quote of the comment (no escapes
// are decoded), matched against the diagnostic's message; a want-hint's
// against the hint of a diagnostic at LINE:COL. Every diagnostic must match
// exactly one want and every want exactly one diagnostic.

const invalidTestDir = "testdata/invalid"

var (
	diagWantRE        = regexp.MustCompile(`#\s*want\s+(\d+):(\d+)\s+(error|warning)\s+"(.*)"\s*$`)
	diagWantHintRE    = regexp.MustCompile(`#\s*want-hint\s+(\d+):(\d+)\s+"(.*)"\s*$`)
	diagAnyWantRE     = regexp.MustCompile(`#\s*want`)
	quoteLineRE       = regexp.MustCompile(`^ +\d* \| `)
	diagLineRE        = regexp.MustCompile(`^(.*):(\d+):(\d+): (error|warning): (.*)$`)
	validateSummaryRE = regexp.MustCompile(`^pcrun: \d+ file\(s\): (\d+) error\(s\), (\d+) warning\(s\)$`)
)

// diagWant is one expected diagnostic (or, with hint set, one expected hint).
type diagWant struct {
	src       int // line of the comment in the test file
	line, col int
	severity  string
	re        *regexp.Regexp
	hint      bool
}

func (w diagWant) String() string {
	if w.hint {
		return fmt.Sprintf("%d:%d hint %q (want-hint at line %d)", w.line, w.col, w.re, w.src)
	}
	return fmt.Sprintf("%d:%d %s %q (want at line %d)", w.line, w.col, w.severity, w.re, w.src)
}

// printedDiag is one diagnostic printed by pcrun.
type printedDiag struct {
	file      string
	line, col int
	severity  string
	message   string
	hint      string
}

func (d printedDiag) String() string {
	s := fmt.Sprintf("%d:%d %s: %s", d.line, d.col, d.severity, d.message)
	if d.hint != "" {
		s += " (hint: " + strings.ReplaceAll(d.hint, "\n", `\n`) + ")"
	}
	return s
}

func readDiagWants(t *testing.T, path string) []diagWant {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wants []diagWant
	for i, text := range strings.Split(string(src), "\n") {
		if !diagAnyWantRE.MatchString(text) {
			continue
		}
		w := diagWant{src: i + 1}
		var reText string
		if m := diagWantHintRE.FindStringSubmatch(text); m != nil {
			w.line, _ = strconv.Atoi(m[1])
			w.col, _ = strconv.Atoi(m[2])
			w.hint, reText = true, m[3]
		} else if m := diagWantRE.FindStringSubmatch(text); m != nil {
			w.line, _ = strconv.Atoi(m[1])
			w.col, _ = strconv.Atoi(m[2])
			w.severity, reText = m[3], m[4]
		} else {
			t.Fatalf("%s:%d: malformed want comment: %s", path, i+1, text)
		}
		re, err := regexp.Compile(reText)
		if err != nil {
			t.Fatalf("%s:%d: bad regexp: %v", path, i+1, err)
		}
		w.re = re
		wants = append(wants, w)
	}
	return wants
}

// parseDiagOutput parses pcrun's diagnostic output for file: one
// "FILE:LINE:COL: SEVERITY: MESSAGE" line per diagnostic, its hint on the
// next line as "\thint: ..." (after the quoted source line and caret), continued on further tab-indented lines. It
// returns every other line in rest.
func parseDiagOutput(out string) (diags []printedDiag, rest []string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	inHint := false
	for sc.Scan() {
		text := sc.Text()
		switch {
		case strings.HasPrefix(text, "\thint: ") && len(diags) > 0 && !inHint:
			diags[len(diags)-1].hint = strings.TrimPrefix(text, "\thint: ")
			inHint = true
		case strings.HasPrefix(text, "\t") && inHint:
			d := &diags[len(diags)-1]
			d.hint += "\n" + strings.TrimPrefix(text, "\t")
		case quoteLineRE.MatchString(text) && len(diags) > 0:
			inHint = false // the source line and its caret, under a diagnostic
		default:
			inHint = false
			m := diagLineRE.FindStringSubmatch(text)
			if m == nil {
				rest = append(rest, text)
				continue
			}
			line, _ := strconv.Atoi(m[2])
			col, _ := strconv.Atoi(m[3])
			diags = append(diags, printedDiag{file: m[1], line: line, col: col, severity: m[4], message: m[5]})
		}
	}
	return diags, rest
}

// matchDiagWants matches the diagnostics of the file at path against wants one
// to one and returns every mismatch.
func matchDiagWants(path string, diags []printedDiag, wants []diagWant) []string {
	var problems []string
	used := make([]int, len(wants)) // diagnostics matched by each want
	for _, d := range diags {
		if d.file != path {
			problems = append(problems, fmt.Sprintf("diagnostic names file %q, want %q: %s", d.file, path, d))
		}
		var matched []int
		for i, w := range wants {
			if !w.hint && w.line == d.line && w.col == d.col && w.severity == d.severity && w.re.MatchString(d.message) {
				matched = append(matched, i)
			}
		}
		switch len(matched) {
		case 0:
			problems = append(problems, "unexpected diagnostic: "+d.String())
		case 1:
			used[matched[0]]++
		default:
			var ws []string
			for _, i := range matched {
				ws = append(ws, wants[i].String())
				used[i]++
			}
			problems = append(problems, fmt.Sprintf("diagnostic %s matches %d wants: %s", d, len(matched), strings.Join(ws, "; ")))
		}
	}
	for i, w := range wants {
		if w.hint {
			var hints []string
			found := false
			for _, d := range diags {
				if d.line == w.line && d.col == w.col {
					hints = append(hints, fmt.Sprintf("%q", d.hint))
					found = found || w.re.MatchString(d.hint)
				}
			}
			switch {
			case found:
			case len(hints) == 0:
				problems = append(problems, fmt.Sprintf("no diagnostic at %d:%d for %s", w.line, w.col, w))
			default:
				problems = append(problems, fmt.Sprintf("no hint matches %s; hints at %d:%d: %s", w, w.line, w.col, strings.Join(hints, ", ")))
			}
			continue
		}
		switch used[i] {
		case 0:
			var near []string
			for _, d := range diags {
				if d.line == w.line {
					near = append(near, d.String())
				}
			}
			msg := "missing diagnostic: " + w.String()
			if len(near) > 0 {
				msg += "; on that line: " + strings.Join(near, "; ")
			}
			problems = append(problems, msg)
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("%s matches %d diagnostics", w, used[i]))
		}
	}
	sort.Strings(problems)
	return problems
}

func invalidTestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(invalidTestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no test files in %s", invalidTestDir)
	}
	return files
}

func runPcrun(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(append([]string{"pcrun"}, args...), nil, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestValidateTestdata checks every diagnostic of every file in
// testdata/invalid against the file's want comments, and the exit code.
func TestValidateTestdata(t *testing.T) {
	for _, path := range invalidTestFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			wants := readDiagWants(t, path)
			if len(wants) == 0 {
				t.Fatalf("%s has no want comments", path)
			}
			code, stdout, stderr := runPcrun("validate", path)
			if stdout != "" {
				t.Errorf("validate wrote to stdout:\n%s", stdout)
			}
			diags, rest := parseDiagOutput(stderr)
			if problems := matchDiagWants(path, diags, wants); len(problems) > 0 {
				t.Errorf("%d problem(s):\n\t%s", len(problems), strings.Join(problems, "\n\t"))
			}

			wantErrors, wantWarnings := 0, 0
			for _, w := range wants {
				switch w.severity {
				case "error":
					wantErrors++
				case "warning":
					wantWarnings++
				}
			}
			if len(rest) != 1 || !validateSummaryRE.MatchString(rest[0]) {
				t.Errorf("want one summary line besides the diagnostics, got %q", rest)
			} else if m := validateSummaryRE.FindStringSubmatch(rest[0]); m[1] != strconv.Itoa(wantErrors) || m[2] != strconv.Itoa(wantWarnings) {
				t.Errorf("summary %q, want %d error(s), %d warning(s)", rest[0], wantErrors, wantWarnings)
			}
			wantCode := 0
			if wantErrors > 0 {
				wantCode = 1
			}
			if code != wantCode {
				t.Errorf("exit code %d, want %d", code, wantCode)
			}
			if t.Failed() {
				t.Logf("output of pcrun validate %s:\n%s", path, stderr)
			}
		})
	}
}

// TestValidateWantParser makes sure a broken expectation is reported, so
// the table test cannot pass by matching nothing.
func TestValidateWantParser(t *testing.T) {
	out := "f.yaml:3:5: error: unknown key `cunt` in producer `p`\n" +
		"\thint: did you mean `count`?\n" +
		"f.yaml:1:1: error: the pipeline file is empty\n" +
		"\thint: declare at least one producer, e.g.\n" +
		"\tproducers:\n" +
		"\t  - name: p\n" +
		"pcrun: 1 file(s): 2 error(s), 0 warning(s)\n"
	diags, rest := parseDiagOutput(out)
	if len(diags) != 2 || len(rest) != 1 {
		t.Fatalf("parsed %d diagnostics and %q", len(diags), rest)
	}
	if d := diags[0]; d.line != 3 || d.col != 5 || d.severity != "error" || d.hint != "did you mean `count`?" {
		t.Errorf("first diagnostic parsed as %+v", d)
	}
	if h := diags[1].hint; h != "declare at least one producer, e.g.\nproducers:\n  - name: p" {
		t.Errorf("multi-line hint parsed as %q", h)
	}

	mk := func(line, col int, sev, re string) diagWant {
		return diagWant{line: line, col: col, severity: sev, re: regexp.MustCompile(re)}
	}
	for _, tc := range []struct {
		name  string
		path  string
		wants []diagWant
		ok    bool
	}{
		{"exact", "f.yaml", []diagWant{mk(3, 5, "error", "cunt"), mk(1, 1, "error", "empty")}, true},
		{"wrong col", "f.yaml", []diagWant{mk(3, 6, "error", "cunt"), mk(1, 1, "error", "empty")}, false},
		{"wrong severity", "f.yaml", []diagWant{mk(3, 5, "warning", "cunt"), mk(1, 1, "error", "empty")}, false},
		{"missing diagWant", "f.yaml", []diagWant{mk(3, 5, "error", "cunt")}, false},
		{"extra diagWant", "f.yaml", []diagWant{mk(3, 5, "error", "cunt"), mk(1, 1, "error", "empty"), mk(2, 1, "error", "x")}, false},
		{"other file", "g.yaml", []diagWant{mk(3, 5, "error", "cunt"), mk(1, 1, "error", "empty")}, false},
		{"two wants for one", "f.yaml", []diagWant{mk(3, 5, "error", "cunt"), mk(3, 5, "error", "key"), mk(1, 1, "error", "empty")}, false},
		{"hint", "f.yaml", []diagWant{mk(3, 5, "error", "cunt"), mk(1, 1, "error", "empty"), {line: 3, col: 5, hint: true, re: regexp.MustCompile("count")}}, true},
		{"wrong hint", "f.yaml", []diagWant{mk(3, 5, "error", "cunt"), mk(1, 1, "error", "empty"), {line: 3, col: 5, hint: true, re: regexp.MustCompile("name")}}, false},
	} {
		problems := matchDiagWants(tc.path, diags, tc.wants)
		if (len(problems) == 0) != tc.ok {
			t.Errorf("%s: matchDiagWants gave %q, diagWant ok=%v", tc.name, problems, tc.ok)
		}
	}
}

// TestValidateMissingFile checks that an unreadable file is a usage error.
func TestValidateMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	code, _, stderr := runPcrun("validate", path)
	if code != 2 {
		t.Errorf("exit code %d, diagWant 2; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, path+": error: cannot read pipeline file") {
		t.Errorf("stderr does not say the file cannot be read:\n%s", stderr)
	}
}

// TestValidateRunInvalid checks that `pcrun run` refuses invalid files with
// exit code 2, printing the diagnostics validate prints and no panic.
func TestValidateRunInvalid(t *testing.T) {
	for _, name := range []string{
		"syntax_tab.yaml", "unknown_keys.yaml", "wrong_types.yaml", "expr_syntax.yaml",
		"queue_graph.yaml", "undefined_queue.yaml", "empty.yaml", "item_in_producer.yaml",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(invalidTestDir, name)
			_, _, vout := runPcrun("validate", path)
			code, stdout, stderr := runPcrun("run", path)
			if code != 2 {
				t.Errorf("exit code %d, diagWant 2", code)
			}
			if stdout != "" {
				t.Errorf("run wrote to stdout:\n%s", stdout)
			}
			for _, bad := range []string{"panic", "goroutine "} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr contains %q:\n%s", bad, stderr)
				}
			}
			vdiags, _ := parseDiagOutput(vout)
			rdiags, rest := parseDiagOutput(stderr)
			if len(vdiags) == 0 {
				t.Fatalf("validate reported nothing for %s", path)
			}
			if fmt.Sprint(rdiags) != fmt.Sprint(vdiags) {
				t.Errorf("run and validate disagree\nrun:\n%s\nvalidate:\n%s", stderr, vout)
			}
			if len(rest) != 1 || !strings.HasPrefix(rest[0], "pcrun: "+path+": ") || !strings.HasSuffix(rest[0], "nothing was run") {
				t.Errorf("run's last line should say nothing was run, got %q", rest)
			}
		})
	}
}

// TestValidateExamples checks that every example validates (warnings
// allowed).
func TestValidateExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	code, stdout, stderr := runPcrun(append([]string{"validate"}, files...)...)
	if code != 0 {
		t.Errorf("pcrun validate examples exited %d, diagWant 0:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("validate wrote to stdout:\n%s", stdout)
	}
	if diagWant := fmt.Sprintf("pcrun: %d file(s): 0 error(s)", len(files)); !strings.Contains(stderr, diagWant) {
		t.Errorf("stderr does not contain %q:\n%s", diagWant, stderr)
	}
}
