package config

import (
	"slices"
	"testing"
)

func TestParseSources(t *testing.T) {
	src := `producers:
  - name: logs
    lines: logs/app.log
  - name: orders
    jsonl: "-"
    count: 5
    item: "${line.id}"
  - name: gen
    command: [seq, 1, 10]
`
	pl, ds := Parse("dir/p.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatalf("diagnostics: %v", ds)
	}
	logs, orders, gen := pl.Producers[0], pl.Producers[1], pl.Producers[2]
	if s := logs.Source; s == nil || s.Kind != LinesSource || s.Path != "logs/app.log" || s.Stdin() ||
		s.Pos != (Pos{File: "dir/p.yaml", Line: 3, Col: 5}) || s.ValuePos.Col != 12 || logs.CountSet || logs.Item != nil {
		t.Errorf("logs: %+v, source %+v", logs, logs.Source)
	}
	if s := orders.Source; s == nil || s.Kind != JSONLSource || !s.Stdin() || orders.Count != 5 || !orders.CountSet || orders.Item == nil {
		t.Errorf("orders: %+v, source %+v", orders, orders.Source)
	}
	if s := gen.Source; s == nil || s.Kind != CommandSource || !slices.Equal(s.Argv, []string{"seq", "1", "10"}) || s.Stdin() {
		t.Errorf("gen: source %+v", gen.Source)
	}
}

func TestSourceDiagnostics(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"two sources", "producers:\n  - {name: p, lines: a, command: [ls]}\n",
			"p.yaml:2:25 error conflicting-fields: `lines` and `command` given together | a producer reads one source; use one producer per source"},
		{"replicas", "producers:\n  - {name: p, lines: a, replicas: 3}\n",
			"p.yaml:2:35 error conflicting-fields: producer `p` reads `lines` with 3 replicas | remove `replicas`: a source is read in order by one worker; give consumers replicas instead"},
		{"stdin twice", "producers:\n  - {name: a, lines: \"-\"}\n  - {name: b, jsonl: \"-\"}\n",
			"p.yaml:3:22 error bad-source: producer `b` reads stdin, which producer `a` reads already | only one producer may read stdin; producer `a` does (line 2)"},
		{"empty command", "producers:\n  - {name: p, command: []}\n",
			"p.yaml:2:24 error bad-source: command is an empty list | name the program to run, e.g. command: [seq, 1, 10]"},
		{"no source no count", "producers:\n  - {name: p, item: x}\n",
			"p.yaml:2:5 error missing-field: producer `p` is missing required key `count` | add `count:` to producer `p`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := Parse("p.yaml", []byte(tt.src))
			var got []string
			for _, d := range ds {
				got = append(got, diag(d))
			}
			if !slices.Contains(got, tt.want) || len(got) != 1 {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
