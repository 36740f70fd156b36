package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/config"
)

// goldenInputs are validated in every format; their output is golden.
var goldenInputs = []string{"testdata/invalid/unknown_keys.yaml", "testdata/invalid/expr_type.yaml"}

func TestValidateFormatsGolden(t *testing.T) {
	for _, tc := range []struct{ format, file string }{
		{"text", "validate.txt"}, {"json", "validate.json"}, {"github", "validate.github"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			code, stdout, stderr := runPcrun(append([]string{"validate", "--format", tc.format}, goldenInputs...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			got := stdout
			if tc.format == "text" {
				if stdout != "" {
					t.Errorf("text format wrote to stdout: %q", stdout)
				}
				got = stderr
			} else if !strings.HasPrefix(stderr, "pcrun: 2 file(s): ") {
				t.Errorf("stderr should hold only the summary, got %q", stderr)
			}
			golden(t, tc.file, got)
		})
	}
}

func TestValidateJSONShape(t *testing.T) {
	_, stdout, _ := runPcrun("validate", "-f", "json", "testdata/invalid/unknown_keys.yaml")
	var got []map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(got) == 0 {
		t.Fatal("no diagnostics")
	}
	keys := []string{"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "hint"}
	for _, d := range got {
		if len(d) != len(keys) {
			t.Errorf("diagnostic has %d keys, want %d: %v", len(d), len(keys), d)
		}
		for _, k := range keys {
			if _, ok := d[k]; !ok {
				t.Errorf("diagnostic lacks %q: %v", k, d)
			}
		}
	}
	// A clean file gives an empty array, not null.
	code, stdout, _ := runPcrun("validate", "-f", "json", "../../examples/fruit.yaml")
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("clean file: exit %d, stdout %q; want 0 and []", code, stdout)
	}
}

func TestWriteGitHubEscapes(t *testing.T) {
	var b strings.Builder
	ds := config.Diagnostics{{
		Pos: config.Pos{File: "a,b:c.yaml", Line: 3, Col: 5}, End: config.Pos{File: "a,b:c.yaml", Line: 3, Col: 9},
		Severity: config.Warning, Code: "x", Message: "50% done\nsecond line", Hint: "fix it",
	}}
	if err := config.WriteGitHub(&b, ds); err != nil {
		t.Fatal(err)
	}
	want := "::warning file=a%2Cb%3Ac.yaml,line=3,col=5,endColumn=9,title=pcrun x::50%25 done%0Asecond line%0Ahint: fix it\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

func TestValidateStrict(t *testing.T) {
	// hang.yaml is valid but warns that it will deadlock.
	if code, _, stderr := runPcrun("validate", "../../examples/hang.yaml"); code != 0 || !strings.Contains(stderr, "1 warning(s)") {
		t.Errorf("without --strict: exit %d, want 0 and one warning:\n%s", code, stderr)
	}
	if code, _, stderr := runPcrun("validate", "--strict", "../../examples/hang.yaml"); code != 1 {
		t.Errorf("with --strict: exit %d, want 1:\n%s", code, stderr)
	}
}

func TestValidatePaths(t *testing.T) {
	examples, _ := filepath.Glob("../../examples/*.yaml")
	var pipelines int
	for _, f := range examples {
		if !strings.HasSuffix(f, ".test.yaml") {
			pipelines++
		}
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, ".hidden"), 0o755))
	fruit, err := os.ReadFile("../../examples/fruit.yaml")
	must(err)
	for _, f := range []string{"top.yaml", "a/one.yml", "a/b/two.yaml", ".hidden/skip.yaml"} {
		must(os.WriteFile(filepath.Join(dir, f), fruit, 0o644))
	}
	must(os.WriteFile(filepath.Join(dir, "a/b/two.test.yaml"), []byte("tests: [{name: runs}]\n"), 0o644)) // two.yaml's test file
	must(os.WriteFile(filepath.Join(dir, "a", "notes.txt"), []byte("not yaml"), 0o644))

	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		files int
		msg   string
	}{
		{"dir", []string{"../../examples"}, 0, pipelines, ""},
		{"nested dir skips hidden and tests", []string{dir}, 0, 3, ""},
		{"glob", []string{"../../examples/*.yaml"}, 0, len(examples), ""},
		{"double star", []string{filepath.Join(dir, "**", "*.yaml")}, 0, 4, ""}, // an explicit glob takes what it matches, hidden and tests too
		{"dir and file overlap", []string{dir, filepath.Join(dir, "top.yaml")}, 0, 3, ""},
		{"glob matches nothing", []string{filepath.Join(dir, "*.json")}, 2, 0, "no files match"},
		{"empty dir", []string{t.TempDir()}, 2, 0, "no pipeline files"},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, 2, 1, "cannot read pipeline file"},
		{"bad format", []string{"--format", "xml", dir}, 2, 0, "unknown format \"xml\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runPcrun(append([]string{"validate"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, stderr)
			}
			if tc.msg != "" && !strings.Contains(stderr, tc.msg) {
				t.Errorf("stderr lacks %q:\n%s", tc.msg, stderr)
			}
			if tc.files > 0 && !strings.Contains(stderr, "pcrun: "+itoa(tc.files)+" file(s)") {
				t.Errorf("want %d file(s):\n%s", tc.files, stderr)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTextQuoteAndColor(t *testing.T) {
	src := config.Sources{"f.yaml": []byte("a: 1\n\tcunt: 3\n")}
	ds := config.Diagnostics{{
		Pos: config.Pos{File: "f.yaml", Line: 2, Col: 2}, End: config.Pos{File: "f.yaml", Line: 2, Col: 6},
		Severity: config.Error, Code: "unknown-field", Message: "unknown key `cunt`", Hint: "did you mean `count`?",
	}}
	var plain, color strings.Builder
	config.WriteText(&plain, ds, src, false)
	want := "f.yaml:2:2: error: unknown key `cunt`\n 2 | \tcunt: 3\n   | \t^~~~\n\thint: did you mean `count`?\n"
	if plain.String() != want {
		t.Errorf("got  %q\nwant %q", plain.String(), want)
	}
	config.WriteText(&color, ds, src, true)
	if !strings.Contains(color.String(), "\x1b[1;31merror\x1b[0m") {
		t.Errorf("no colour in %q", color.String())
	}
}

// TestEveryCodeExercised: the testdata and examples trigger every
// diagnostic code (read is tested by TestValidatePaths; bad-selection,
// a problem of `run --only` rather than of a file, by TestRunOnlyErrors
// and pipeline's TestOnly tests), and nothing outside config.Codes.
func TestEveryCodeExercised(t *testing.T) {
	_, stdout, _ := runPcrun("validate", "-f", "json", "testdata/invalid", "../../examples")
	var ds []config.JSONDiagnostic
	if err := json.Unmarshal([]byte(stdout), &ds); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{config.CodeRead: true, config.CodeSelection: true}
	for _, d := range ds {
		seen[d.Code] = true
		if !slices.Contains(config.Codes, d.Code) {
			t.Errorf("%s:%d:%d: code %q is not in config.Codes", d.File, d.Line, d.Column, d.Code)
		}
	}
	for _, c := range config.Codes {
		if !seen[c] {
			t.Errorf("no file under testdata/invalid triggers code %q; add one with its # want comments", c)
		}
	}
}
