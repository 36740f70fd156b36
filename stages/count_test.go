package stages

import (
	"testing"

	"github.com/pcrun/pcrun/config"
)

// countFile has a producer `p` with the given count (line 5) and replicas
// (line 6), and a consumer `c` with the given replicas (line 10).
func countFile(count, preplicas, creplicas string) string {
	return yamlLines(
		"vars:",
		"  n: 4",
		"producers:",
		"  - name: p",
		"    count: "+count,
		"    replicas: "+preplicas,
		"    item: x",
		"consumers:",
		"  - name: c",
		"    replicas: "+creplicas,
	)
}

// A count or replicas template of vars and env is evaluated once, by
// Compile; a --set (SetVar) before Compile reaches it, and every reader of
// the graph (queue writers and readers) sees the evaluated numbers.
func TestCountTemplates(t *testing.T) {
	src := countFile(`"${n * 2}"`, `"${n}"`, `"${int(env.WORKERS)}"`)
	opts := Options{Environ: []string{"WORKERS=3"}}
	for _, tt := range []struct {
		name                string
		set                 string
		count, preps, creps int
	}{
		{"vars", "", 8, 4, 3},
		{"--set", "5", 10, 5, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, src, opts, func(pl *config.Pipeline) {
				if tt.set != "" {
					if err := pl.SetVar("n", tt.set); err != nil {
						t.Fatal(err)
					}
				}
			})
			if g == nil || len(ds) > 0 {
				t.Fatalf("diagnostics:\n%v", ds)
			}
			p, c := g.Producers[0], g.Consumers[0]
			if p.Count != tt.count || p.Replicas != tt.preps || c.Replicas != tt.creps {
				t.Errorf("count %d, replicas %d and %d; want %d, %d and %d", p.Count, p.Replicas, c.Replicas, tt.count, tt.preps, tt.creps)
			}
			if q := g.Queue(p.To); q.WriterReplicas != tt.preps || q.ReaderReplicas != tt.creps {
				t.Errorf("queue writers %d, readers %d", q.WriterReplicas, q.ReaderReplicas)
			}
		})
	}
}

// A test case's count and replicas override a template.
func TestCountTemplateWithTest(t *testing.T) {
	pl := mustParse(t, countFile(`"${n}"`, `"${n}"`, `"${n}"`))
	out := pl.WithTest(&config.Test{
		Count:    []config.TestCount{{Stage: "p", N: 2}},
		Replicas: []config.TestCount{{Stage: "p", N: 1}, {Stage: "c", N: 7}},
	})
	g, ds := Compile(out, noEnv)
	if g == nil || len(ds) > 0 {
		t.Fatalf("diagnostics:\n%v", ds)
	}
	if p, c := g.Producers[0], g.Consumers[0]; p.Count != 2 || p.Replicas != 1 || c.Replicas != 7 {
		t.Errorf("count %d, replicas %d and %d; want 2, 1 and 7", p.Count, p.Replicas, c.Replicas)
	}
}

// A template that gives no integer in range, or uses a per-item name, is
// one error at the value (or at the name), and no hazard follows from it.
func TestCountTemplateDiagnostics(t *testing.T) {
	for _, tt := range []struct {
		name, count, preps, creps string
		code                      string
		at                        config.Pos
		msg                       string
	}{
		// 5: `    count: "${n / 8}"`: the value at 12.
		{"float", `"${n / 8}"`, "1", "1", config.CodeType, fpos(5, 12),
			"count must be an integer; the template gives the number 0.5"},
		{"negative", `"${-n}"`, "1", "1", config.CodeRange, fpos(5, 12), "count must not be negative, not -4"},
		{"string", `"${n}x"`, "1", "1", config.CodeType, fpos(5, 12),
			`count must be an integer; the template gives the string "4x"`},
		// 6: `    replicas: "${i}"`: `i` at 18.
		{"uses i", "1", `"${i}"`, "1", config.CodeUnknownName, fpos(6, 18), "unknown name `i`"},
		// 10: `    replicas: "${ item }"`: `item` at 19.
		{"uses item", "1", "1", `"${ item }"`, config.CodeUnknownName, fpos(10, 19), "unknown name `item`"},
		{"zero replicas", "1", "1", `"${n - 4}"`, config.CodeRange, fpos(10, 15), "replicas must be at least 1, not 0"},
		{"too many", "1", `"${n * 5000}"`, "1", config.CodeRange, fpos(6, 15), "replicas 20000 is too many"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, countFile(tt.count, tt.preps, tt.creps), noEnv, nil)
			if g != nil || len(ds) != 1 {
				t.Fatalf("want one diagnostic and no graph, got:\n%v", ds)
			}
			if d := ds[0]; d.Code != tt.code || d.Pos != tt.at || d.Message != tt.msg || d.Severity != config.Error {
				t.Errorf("got %v: %s %s: %s\nwant %v: %s: %s", d.Pos, d.Severity, d.Code, d.Message, tt.at, tt.code, tt.msg)
			}
		})
	}
}
