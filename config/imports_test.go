package config

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/pcrun/pcrun"

// dep is one package in `go list -deps` output.
type dep struct {
	path     string
	standard bool
	module   string // "" for the standard library
}

// importRule says which packages a package of this module may not depend on.
type importRule struct {
	pkg       string   // relative to the module root, e.g. "./config"
	forbidden []string // import paths; a path forbids its subpackages too
	// thirdParty lists the only modules outside this one it may use; nil
	// means any.
	thirdParty []string
}

// The import direction of DESIGN.md ("Architecture"): config <- stages <-
// the runtime (pipeline) <- the CLI, with the parts that plug into the
// runtime (queue backends, observers, summary formats, IO effects) beside
// it: they import the interfaces they implement, never the runtime. Only
// the NATS backend may link nats-io.
var importRules = []importRule{
	{
		pkg:        "./config",
		forbidden:  []string{module + "/stages", module + "/pipeline", module + "/cmd", module + "/queue", module + "/observe"},
		thirdParty: []string{"gopkg.in/yaml.v3"},
	},
	{
		pkg:       "./stages",
		forbidden: []string{module + "/pipeline", module + "/cmd", module + "/queue", module + "/observe", nats},
	},
	{
		pkg:       "./observe",
		forbidden: []string{module + "/config", module + "/stages", module + "/pipeline", module + "/queue", module + "/cmd"},
	},
	{
		pkg:       "./queue",
		forbidden: []string{module + "/pipeline", module + "/cmd", module + "/queue/memory", module + "/queue/nats", nats},
	},
	{
		pkg:       "./queue/memory",
		forbidden: []string{module + "/pipeline", module + "/cmd", module + "/queue/nats", nats},
	},
	{
		pkg:       "./queue/nats",
		forbidden: []string{module + "/pipeline", module + "/cmd", module + "/queue/memory"},
	},
	{
		pkg:       "./report",
		forbidden: []string{module + "/pipeline", module + "/cmd", module + "/queue/memory", module + "/queue/nats", nats},
	},
	{
		// The runtime: it never names a backend but the embedded default.
		pkg:       "./pipeline",
		forbidden: []string{module + "/cmd", module + "/report", module + "/queue/nats", module + "/sim", nats},
	},
	{
		// The simulator is the runtime on a virtual clock: it imports the
		// runtime, which never imports it.
		pkg:       "./sim",
		forbidden: []string{module + "/cmd", module + "/internal/cli", module + "/queue/nats", nats},
	},
	// The IO effects of steps and sources: the runtime plugs them in,
	// they know only what stages compiled.
	{
		pkg:       "./effects",
		forbidden: []string{module + "/pipeline", module + "/queue", module + "/cmd", module + "/internal/cli"},
	},
	// What watches a run knows it only through its events: the timeline
	// imports no part of the runtime, which imports observe.
	{
		pkg:       "./observe/timeline",
		forbidden: []string{module + "/stages", module + "/pipeline", module + "/cmd"},
	},
}

// nats is the NATS client and server's module path prefix.
const nats = "github.com/nats-io"

// violations returns one message per dependency that breaks r.
func (r importRule) violations(deps []dep) []string {
	var out []string
	for _, d := range deps {
		for _, f := range r.forbidden {
			if d.path == f || strings.HasPrefix(d.path, f+"/") {
				out = append(out, fmt.Sprintf("%s depends on %s: imports must point one way (config <- stages <- pipeline <- cmd; backends and observers beside the runtime, never importing it)", r.pkg, d.path))
			}
		}
		if r.thirdParty == nil || d.standard || d.module == module {
			continue
		}
		allowed := false
		for _, m := range r.thirdParty {
			allowed = allowed || d.module == m
		}
		if !allowed {
			out = append(out, fmt.Sprintf("%s depends on %s (module %q): only the standard library and %s are allowed",
				r.pkg, d.path, d.module, strings.Join(r.thirdParty, ", ")))
		}
	}
	return out
}

func goListDeps(t *testing.T, pkg string) []dep {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	cmd := exec.Command(gobin, "list", "-e", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{with .Module}}{{.Path}}{{end}}", pkg)
	cmd.Dir = ".." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	var deps []dep
	for _, line := range strings.Split(strings.TrimSpace(string(outb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("unexpected go list line %q", line)
		}
		d := dep{path: f[0], standard: f[1] == "true"}
		if len(f) > 2 {
			d.module = f[2]
		}
		deps = append(deps, d)
	}
	return deps
}

func TestImportDirection(t *testing.T) {
	for _, r := range importRules {
		t.Run(strings.TrimPrefix(r.pkg, "./"), func(t *testing.T) {
			deps := goListDeps(t, r.pkg)
			self := module + "/" + strings.TrimPrefix(r.pkg, "./")
			found := false
			for _, d := range deps {
				found = found || d.path == self
			}
			if !found {
				t.Fatalf("go list -deps %s does not list %s itself; is the module path right?", r.pkg, self)
			}
			for _, v := range r.violations(deps) {
				t.Error(v)
			}
		})
	}
}

// rule returns the rule for pkg.
func rule(t *testing.T, pkg string) importRule {
	for _, r := range importRules {
		if r.pkg == pkg {
			return r
		}
	}
	t.Fatalf("no import rule for %s", pkg)
	return importRule{}
}

// TestImportRules checks that the rules catch what they are meant to catch,
// so TestImportDirection cannot pass vacuously.
func TestImportRules(t *testing.T) {
	config, stages := importRules[0], importRules[1]
	tests := []struct {
		name string
		rule importRule
		dep  dep
		want string // substring of the one violation; "" for none
	}{
		{"config may use the standard library", config, dep{path: "strings", standard: true}, ""},
		{"config may use yaml.v3", config, dep{path: "gopkg.in/yaml.v3", module: "gopkg.in/yaml.v3"}, ""},
		{"config may use itself", config, dep{path: module + "/config", module: module}, ""},
		{"config must not use stages", config, dep{path: module + "/stages", module: module}, "depends on " + module + "/stages"},
		{"config must not use pipeline", config, dep{path: module + "/pipeline", module: module}, "depends on " + module + "/pipeline"},
		{"config must not use cmd/pcrun", config, dep{path: module + "/cmd/pcrun", module: module}, "depends on " + module + "/cmd/pcrun"},
		{"config must not use expr", config, dep{path: "github.com/expr-lang/expr/vm", module: "github.com/expr-lang/expr"}, "depends on github.com/expr-lang/expr/vm"},
		{"config must not use x/ packages", config, dep{path: "golang.org/x/sync/errgroup", module: "golang.org/x/sync"}, "golang.org/x/sync/errgroup"},
		{"a lookalike of a forbidden path is fine", config, dep{path: module + "/stagesutil", module: module}, ""},
		{"stages may use config", stages, dep{path: module + "/config", module: module}, ""},
		{"stages may use expr", stages, dep{path: "github.com/expr-lang/expr", module: "github.com/expr-lang/expr"}, ""},
		{"stages must not use pipeline", stages, dep{path: module + "/pipeline/queue", module: module}, "depends on " + module + "/pipeline/queue"},
		{"stages must not use cmd", stages, dep{path: module + "/cmd/pcrun", module: module}, "depends on " + module + "/cmd/pcrun"},
		{"the runtime must not link NATS", rule(t, "./pipeline"), dep{path: nats + "/nats.go", module: nats + "/nats.go"}, "depends on " + nats + "/nats.go"},
		{"the runtime must not name the NATS backend", rule(t, "./pipeline"), dep{path: module + "/queue/nats", module: module}, "depends on " + module + "/queue/nats"},
		{"the runtime must not know the simulator", rule(t, "./pipeline"), dep{path: module + "/sim", module: module}, "depends on " + module + "/sim"},
		{"the runtime may use the memory backend", rule(t, "./pipeline"), dep{path: module + "/queue/memory", module: module}, ""},
		{"a backend must not use the runtime", rule(t, "./queue/memory"), dep{path: module + "/pipeline", module: module}, "depends on " + module + "/pipeline"},
		{"effects may use stages", rule(t, "./effects"), dep{path: module + "/stages", module: module}, ""},
		{"effects must not use the runtime", rule(t, "./effects"), dep{path: module + "/pipeline", module: module}, "depends on " + module + "/pipeline"},
		{"effects must not use queues", rule(t, "./effects"), dep{path: module + "/queue/memory", module: module}, "depends on " + module + "/queue/memory"},
		{"effects must not use the CLI", rule(t, "./effects"), dep{path: module + "/internal/cli", module: module}, "depends on " + module + "/internal/cli"},
		{"the queue package must not link NATS", rule(t, "./queue"), dep{path: nats + "/nats.go/jetstream", module: nats + "/nats.go"}, "jetstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.violations([]dep{tt.dep})
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("unexpected violations: %q", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("violations = %q, want one containing %q", got, tt.want)
			}
		})
	}
}
