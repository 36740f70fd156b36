package config

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/pcrun/pcrun"

// dep is one package in `go list -deps` output.
type dep struct {
	path     string
	standard bool
	module   string // "" for the standard library
	direct   bool   // imported by the package itself, not only by its dependencies
}

// importRule says which packages a package of this module may not depend on.
type importRule struct {
	pkg       string   // relative to the module root, e.g. "./config"
	forbidden []string // import paths; a path forbids its subpackages too
	// indirect lists import paths the package may depend on but not import
	// itself: it must go through the package of this module named with
	// each. A path covers its subpackages too.
	indirect []via
	// thirdParty lists the only modules outside this one it may use; nil
	// means any.
	thirdParty []string
}

// via says that a package may use path only through the package through.
type via struct{ path, through string }

// cliPkg and cmdPkg are the command: no package of the library may depend on them.
const (
	cliPkg = module + "/internal/cli"
	cmdPkg = module + "/cmd"
)

// The import direction of DESIGN.md ("Architecture"): config <- stages <-
// the runtime (pipeline) <- the test engine (pipetest) <- the CLI
// (internal/cli) <- cmd/pcrun, with the parts that plug into the runtime
// (queue backends, observers, summary formats, IO effects) beside it: they
// import the interfaces they implement, never the runtime. Only the NATS
// backend may import nats-io; the CLI links it through that backend.
// TestLibraryImportsNoCommand checks every package for both.
var importRules = []importRule{
	{
		pkg:        "./config",
		forbidden:  []string{module + "/stages", module + "/pipeline", cmdPkg, cliPkg, module + "/queue", module + "/observe"},
		thirdParty: []string{"gopkg.in/yaml.v3"},
	},
	{
		pkg:       "./stages",
		forbidden: []string{module + "/pipeline", cmdPkg, cliPkg, module + "/queue", module + "/observe", nats},
	},
	{
		pkg:       "./observe",
		forbidden: []string{module + "/config", module + "/stages", module + "/pipeline", module + "/queue", cmdPkg, cliPkg},
	},
	{
		pkg:       "./queue",
		forbidden: []string{module + "/pipeline", cmdPkg, cliPkg, module + "/queue/memory", module + "/queue/nats", nats},
	},
	{
		pkg:       "./queue/memory",
		forbidden: []string{module + "/pipeline", cmdPkg, cliPkg, module + "/queue/nats", nats},
	},
	{
		pkg:       "./queue/nats",
		forbidden: []string{module + "/pipeline", cmdPkg, cliPkg, module + "/queue/memory"},
	},
	{
		pkg:       "./report",
		forbidden: []string{module + "/pipeline", cmdPkg, cliPkg, module + "/queue/memory", module + "/queue/nats", nats},
	},
	{
		// The runtime: it never names a backend but the embedded default.
		pkg:       "./pipeline",
		forbidden: []string{cmdPkg, cliPkg, module + "/pipetest", module + "/internal/exitcode", module + "/report", module + "/queue/nats", module + "/sim", nats},
	},
	{
		// The simulator is the runtime on a virtual clock: it imports the
		// runtime, which never imports it.
		pkg:       "./sim",
		forbidden: []string{cmdPkg, cliPkg, module + "/queue/nats", nats},
	},
	// The IO effects of steps and sources: the runtime plugs them in,
	// they know only what stages compiled.
	{
		pkg:       "./effects",
		forbidden: []string{module + "/pipeline", module + "/queue", cmdPkg, cliPkg},
	},
	// What watches a run knows it only through its events: the timeline
	// imports no part of the runtime, which imports observe.
	{
		pkg:       "./observe/timeline",
		forbidden: []string{module + "/stages", module + "/pipeline", cmdPkg, cliPkg},
	},
	// The exit codes of a run's errors, shared by the CLI and the test
	// engine: it knows neither.
	{
		pkg:       "./internal/exitcode",
		forbidden: []string{cmdPkg, cliPkg, module + "/pipetest", module + "/queue/nats", nats},
	},
	// The test engine runs pipelines as the runtime does, naming no
	// backend, and is usable without the command.
	{
		pkg:       "./pipetest",
		forbidden: []string{cmdPkg, cliPkg, module + "/queue/nats", nats},
	},
	// The command: it talks to NATS only through the backend's package.
	{
		pkg:       "./internal/cli",
		forbidden: []string{cmdPkg},
		indirect:  []via{{nats, module + "/queue/nats"}},
	},
}

// nats is the NATS client and server's module path prefix.
const nats = "github.com/nats-io"

// under reports whether path is prefix or one of its subpackages.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// violations returns one message per dependency that breaks r.
func (r importRule) violations(deps []dep) []string {
	var out []string
	for _, d := range deps {
		for _, f := range r.forbidden {
			if under(d.path, f) {
				out = append(out, fmt.Sprintf("%s depends on %s: imports must point one way (config <- stages <- pipeline <- internal/cli <- cmd; backends and observers beside the runtime, never importing it)", r.pkg, d.path))
			}
		}
		for _, v := range r.indirect {
			if d.direct && under(d.path, v.path) {
				out = append(out, fmt.Sprintf("%s imports %s: it may use it only through %s", r.pkg, d.path, v.through))
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

// goListDeps lists pkg and every package it depends on, marking those it
// imports itself.
func goListDeps(t *testing.T, pkg string) []dep {
	t.Helper()
	direct := goList(t, "-e", "-f", `{{join .Imports "\n"}}`, pkg)
	var deps []dep
	for _, line := range goList(t, "-e", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{with .Module}}{{.Path}}{{end}}", pkg) {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("unexpected go list line %q", line)
		}
		d := dep{path: f[0], standard: f[1] == "true", direct: slices.Contains(direct, f[0])}
		if len(f) > 2 {
			d.module = f[2]
		}
		deps = append(deps, d)
	}
	return deps
}

// goList runs `go list args...` in the module root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	cmd := exec.Command(gobin, append([]string{"list"}, args...)...)
	cmd.Dir = ".." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
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

// listedPkg is one package of this module as `go list ./...` lists it.
type listedPkg struct {
	path, name string
	deps       []string
}

// libraryViolations returns one message per package of the library that
// depends on the command. The library is every package but the
// command's: internal/cli and the main packages (cmd/pcrun, the
// benchmarks' programs).
func libraryViolations(pkgs []listedPkg) []string {
	var out []string
	for _, p := range pkgs {
		if p.name == "main" || under(p.path, cliPkg) {
			continue
		}
		for _, d := range p.deps {
			if under(d, cliPkg) || under(d, cmdPkg) {
				out = append(out, fmt.Sprintf("%s depends on %s: the library must not depend on the command", p.path, d))
			}
		}
	}
	return out
}

// TestLibraryImportsNoCommand: no package of the library, ruled above or
// added since, depends on internal/cli or on cmd.
func TestLibraryImportsNoCommand(t *testing.T) {
	var pkgs []listedPkg
	for _, line := range goList(t, "-e", "-f", `{{.ImportPath}} {{.Name}} {{join .Deps " "}}`, "./...") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("unexpected go list line %q", line)
		}
		pkgs = append(pkgs, listedPkg{path: f[0], name: f[1], deps: f[2:]})
	}
	if !slices.ContainsFunc(pkgs, func(p listedPkg) bool { return p.path == cliPkg }) {
		t.Fatalf("go list ./... does not list %s; is the module path right?", cliPkg)
	}
	for _, v := range libraryViolations(pkgs) {
		t.Error(v)
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
		{"the CLI may link NATS through the backend", rule(t, "./internal/cli"), dep{path: nats + "/nats.go", module: nats + "/nats.go"}, ""},
		{"the CLI may import the NATS backend", rule(t, "./internal/cli"), dep{path: module + "/queue/nats", module: module, direct: true}, ""},
		{"the CLI must not import NATS itself", rule(t, "./internal/cli"), dep{path: nats + "/nats.go/jetstream", module: nats + "/nats.go", direct: true},
			"imports " + nats + "/nats.go/jetstream: it may use it only through " + module + "/queue/nats"},
		{"the CLI must not import the NATS server itself", rule(t, "./internal/cli"), dep{path: nats + "/nats-server/v2/server", module: nats + "/nats-server/v2", direct: true},
			"imports " + nats + "/nats-server/v2/server"},
		{"the CLI must not use cmd/pcrun", rule(t, "./internal/cli"), dep{path: cmdPkg + "/pcrun", module: module}, "depends on " + cmdPkg + "/pcrun"},
		{"pipetest may use exitcode", rule(t, "./pipetest"), dep{path: module + "/internal/exitcode", module: module, direct: true}, ""},
		{"pipetest must not use the CLI", rule(t, "./pipetest"), dep{path: cliPkg, module: module, direct: true}, "depends on " + cliPkg},
		{"pipetest must not use cmd/pcrun", rule(t, "./pipetest"), dep{path: cmdPkg + "/pcrun", module: module}, "depends on " + cmdPkg + "/pcrun"},
		{"pipetest must not link NATS", rule(t, "./pipetest"), dep{path: nats + "/nats.go", module: nats + "/nats.go"}, "depends on " + nats + "/nats.go"},
		{"exitcode may use the runtime", rule(t, "./internal/exitcode"), dep{path: module + "/pipeline", module: module, direct: true}, ""},
		{"exitcode must not use the CLI", rule(t, "./internal/exitcode"), dep{path: cliPkg, module: module}, "depends on " + cliPkg},
		{"exitcode must not use pipetest", rule(t, "./internal/exitcode"), dep{path: module + "/pipetest", module: module}, "depends on " + module + "/pipetest"},
		{"the runtime must not use the CLI", rule(t, "./pipeline"), dep{path: cliPkg, module: module}, "depends on " + cliPkg},
		{"a backend must not use the CLI", rule(t, "./queue/nats"), dep{path: cliPkg, module: module}, "depends on " + cliPkg},
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

// TestLibraryViolations checks that TestLibraryImportsNoCommand catches a
// library package that depends on the command, and only that.
func TestLibraryViolations(t *testing.T) {
	got := libraryViolations([]listedPkg{
		{module + "/cmd/pcrun", "main", []string{cliPkg, module + "/queue/nats"}},
		{module + "/bench/measure", "main", []string{cmdPkg + "/pcrun"}},
		{cliPkg, "cli", []string{module + "/pipetest", nats + "/nats.go"}},
		{module + "/pipetest", "pipetest", []string{module + "/internal/exitcode", cliPkg}},
		{module + "/internal/exitcode", "exitcode", []string{module + "/pipeline", cmdPkg + "/pcrun"}},
		{module + "/queue/nats", "nats", []string{module + "/internal/clix", module + "/cmdline"}},
	})
	want := []string{
		module + "/pipetest depends on " + cliPkg + ":",
		module + "/internal/exitcode depends on " + cmdPkg + "/pcrun:",
	}
	if len(got) != len(want) {
		t.Fatalf("violations %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("violation %q, want one starting %q", got[i], want[i])
		}
	}
}
