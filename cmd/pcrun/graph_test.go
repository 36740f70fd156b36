package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/internal/exitcode"
)

// graphExamples are the example files drawn against golden files
// testdata/golden/graph_<example>.<mmd|dot>.
var graphExamples = []string{"fruit", "kitchen"}

// graphFormats maps each --format to its golden file extension.
var graphFormats = []struct{ format, ext string }{{"mermaid", "mmd"}, {"dot", "dot"}}

func graphExamplePath(name string) string { return filepath.Join("..", "..", "examples", name+".yaml") }

// TestGraphGolden draws the examples in both formats; refresh with
// go test ./cmd/pcrun -run Graph -update.
func TestGraphGolden(t *testing.T) {
	for _, ex := range graphExamples {
		for _, f := range graphFormats {
			t.Run(ex+"."+f.ext, func(t *testing.T) {
				code, stdout, stderr := runMain(t, "graph", "--format", f.format, graphExamplePath(ex))
				if code != exitcode.OK || stderr != "" {
					t.Fatalf("exit %d, stderr %q; want exit 0 and no diagnostics", code, stderr)
				}
				golden(t, "graph_"+ex+"."+f.ext, stdout)
			})
		}
	}
}

// TestGraphReadmeCurrent keeps the diagram in README.md's "Seeing the
// graph" section equal to the kitchen golden file.
func TestGraphReadmeCurrent(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "graph_kitchen.mmd"))
	if err != nil {
		t.Fatal(err)
	}
	if block := "```mermaid\n" + string(want) + "```\n"; !strings.Contains(string(readme), block) {
		t.Errorf("README.md lacks the current kitchen diagram; paste testdata/golden/graph_kitchen.mmd into its ```mermaid block:\n%s", want)
	}
}

// TestGraphFlagPlacement checks the default format and that --format may
// come before or after the file.
func TestGraphFlagPlacement(t *testing.T) {
	file := graphExamplePath("kitchen")
	_, mermaid, _ := runMain(t, "graph", "--format", "mermaid", file)
	_, dot, _ := runMain(t, "graph", "--format", "dot", file)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"graph", file}, mermaid},
		{[]string{"graph", file, "--format", "dot"}, dot},
		{[]string{"graph", file, "--format=dot"}, dot},
		{[]string{"graph", file, "-f", "dot"}, dot},
		{[]string{"graph", "-f", "dot", file}, dot},
		{[]string{"graph", "--format", "dot", file, "--format", "mermaid"}, mermaid},
	} {
		code, stdout, _ := runMain(t, tc.args...)
		if code != exitcode.OK || stdout != tc.want {
			t.Errorf("pcrun %s: exit %d, stdout:\n%s\nwant exit 0 and:\n%s", strings.Join(tc.args, " "), code, stdout, tc.want)
		}
	}
}

// TestGraphDotRenders feeds the dot output to Graphviz, when it is installed.
func TestGraphDotRenders(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz `dot` is not installed")
	}
	for _, ex := range graphExamples {
		t.Run(ex, func(t *testing.T) {
			code, stdout, _ := runMain(t, "graph", "--format", "dot", graphExamplePath(ex))
			if code != exitcode.OK {
				t.Fatalf("exit %d", code)
			}
			cmd := exec.Command(dot, "-Tsvg")
			cmd.Stdin = strings.NewReader(stdout)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil || errb.Len() > 0 {
				t.Fatalf("dot -Tsvg: %v\n%s", err, errb.String())
			}
			if !strings.Contains(out.String(), "<svg") {
				t.Errorf("dot -Tsvg wrote no SVG:\n%s", out.String())
			}
		})
	}
}

func TestGraphErrors(t *testing.T) {
	kitchen := graphExamplePath("kitchen")
	invalid := filepath.Join("testdata", "invalid", "undefined_queue.yaml")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr []string // substrings, in order
	}{
		{"unknown format", []string{"graph", "--format", "png", kitchen},
			[]string{`pcrun: error: unknown format "png"`, "hint: use one of `mermaid`, `dot`"}},
		{"unknown format after file", []string{"graph", kitchen, "--format", "svg"},
			[]string{`pcrun: error: unknown format "svg"`, "hint: use one of `mermaid`, `dot`"}},
		{"no file", []string{"graph"},
			[]string{"pcrun: error: no pipeline file given", "hint: pcrun graph"}},
		{"two files", []string{"graph", kitchen, kitchen},
			[]string{"pcrun: error: unexpected argument", "graph draws one file"}},
		{"unknown flag after file", []string{"graph", kitchen, "--colour"},
			[]string{"pcrun: error: flag provided but not defined: -colour"}},
		{"invalid file", []string{"graph", invalid},
			[]string{"undefined_queue.yaml:13:9: error: undefined queue `mian`", "pcrun: " + invalid + ": 2 error(s); nothing was drawn"}},
		{"missing file", []string{"graph", "nope.yaml"},
			[]string{"nope.yaml: error: cannot read pipeline file", "pcrun: nope.yaml: 1 error(s); nothing was drawn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tc.args...)
			if code != exitcode.Usage {
				t.Errorf("exit %d, want %d", code, exitcode.Usage)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing drawn", stdout)
			}
			rest := stderr
			for _, want := range tc.stderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order):\n%s", want, stderr)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

// --set reaches replicas written as a template, as in a run; a malformed
// one is a usage error.
func TestGraphSet(t *testing.T) {
	file := filepath.Join("..", "..", "examples", "capacity.yaml")
	code, stdout, _ := runMain(t, "graph", "--set", "servers=6", file)
	if code != exitcode.OK || !strings.Contains(stdout, "consumer · 6 replicas") {
		t.Errorf("graph --set servers=6: exit %d, stdout:\n%s\nwant 6 replicas", code, stdout)
	}
	code, _, stderr := runMain(t, "graph", "--set", "servers", file)
	if code != exitcode.Usage || !strings.Contains(stderr, "expected NAME=VALUE") {
		t.Errorf("graph --set servers: exit %d, stderr %q; want a usage error", code, stderr)
	}
}
