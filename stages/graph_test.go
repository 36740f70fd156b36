package stages

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

func TestGraphShape(t *testing.T) {
	src := yamlLines(
		"name: kitchen",
		"queues:",
		"  raw: {capacity: 5}",
		"  cooked: {capacity: unbounded}",
		"shutdown: {strategy: sentinel, deadline: 1m, grace: 3s}",
		"producers:",
		"  - {name: p1, to: raw, replicas: 2, count: 1, item: x}",
		"  - {name: p2, to: raw, count: 1, item: y}",
		"consumers:",
		"  - {name: cook, from: raw, to: cooked, replicas: 3, do: [emit: \"${item}!\"]}",
		"  - {name: eat, from: cooked, do: [print: \"${item}\"]}",
	)
	g, ds := compileSrc(t, src, noEnv, nil)
	if g == nil || len(ds) != 0 {
		t.Fatalf("Compile: want a graph and no diagnostics, got:\n%v", ds)
	}
	if g.Name != "kitchen" || g.File != testFile || g.Strategy != config.Sentinel || g.Deadline != time.Minute || g.Grace != 3*time.Second {
		t.Errorf("graph header = {%q %q %q %v %v}", g.Name, g.File, g.Strategy, g.Deadline, g.Grace)
	}
	wantQueues := []*Queue{
		{Name: "raw", Capacity: 5, Writers: []string{"p1", "p2"}, Readers: []string{"cook"}, WriterReplicas: 3, ReaderReplicas: 3},
		{Name: "cooked", Capacity: config.DefaultCapacity, Unbounded: true, Writers: []string{"cook"}, Readers: []string{"eat"}, WriterReplicas: 3, ReaderReplicas: 1},
	}
	if !reflect.DeepEqual(g.Queues, wantQueues) {
		for _, q := range g.Queues {
			t.Logf("%+v", *q)
		}
		t.Errorf("queues differ")
	}
	if g.Queue("cooked") != g.Queues[1] || g.Queue("nope") != nil {
		t.Errorf("Queue lookup wrong")
	}
	if got, want := g.Stages(), []string{"p1", "p2", "cook", "eat"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Stages() = %q, want %q", got, want)
	}
}

func TestConsumerOutputsAndDownstreamOrder(t *testing.T) {
	src := yamlLines(
		"queues: {failed: {}, out: {}, in: {}, done: {}}",
		"producers:",
		"  - {name: p, to: in, count: 1, item: x}",
		"consumers:",
		"  - {name: work, from: in, to: out, do: [emit: \"${item}\"], on_error: {dead_letter: failed}}",
		"  - {name: same, from: out, to: done, do: [emit: \"${item}\"], on_error: {dead_letter: done}}",
		"  - {name: dead, from: failed, do: [print: \"${item}\"]}",
		"  - {name: last, from: done, do: [print: \"${item}\"]}",
	)
	g := mustCompile(t, src)
	for _, tc := range []struct {
		stage   string
		dl      bool
		outputs []string
	}{
		{"work", true, []string{"out", "failed"}},
		{"same", false, []string{"done"}}, // dead letters go into the queue it emits into
		{"dead", false, nil},
	} {
		var cs *Consumer
		for _, c := range g.Consumers {
			if c.Name == tc.stage {
				cs = c
			}
		}
		if got := cs.WritesDeadLetter(); got != tc.dl {
			t.Errorf("%s: WritesDeadLetter() = %v, want %v", tc.stage, got, tc.dl)
		}
		if got := cs.Outputs(); !reflect.DeepEqual(got, tc.outputs) {
			t.Errorf("%s: Outputs() = %q, want %q", tc.stage, got, tc.outputs)
		}
	}
	if got, want := g.DownstreamOrder(), []string{"in", "out", "failed", "done"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DownstreamOrder() = %q, want %q", got, want)
	}
}

func TestGraphDefaults(t *testing.T) {
	g := mustCompile(t, producerFile(nil, "x"))
	if g.Name != "f" || g.Strategy != config.Close || g.Deadline != 0 || g.Grace != config.DefaultGrace {
		t.Errorf("graph header = {%q %q %v %v}", g.Name, g.Strategy, g.Deadline, g.Grace)
	}
	want := []*Queue{{Name: "main", Capacity: config.DefaultCapacity, Writers: []string{"p"}, Readers: []string{"c"}, WriterReplicas: 1, ReaderReplicas: 1}}
	if !reflect.DeepEqual(g.Queues, want) {
		t.Errorf("queues = %+v, want the implicit main queue %+v", *g.Queues[0], *want[0])
	}
}

// TestGraphHazards checks the diagnostics about the graph's shape: one per
// file, at the position computed by hand in each comment.
func TestGraphHazards(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		sev    config.Severity
		code   string
		at     config.Pos
		msg    string // exact, or a prefix when prefix is set
		prefix bool
		hint   string // "" when not checked
	}{
		{
			// 3: `  b: {}`: the queue name at 3.
			name: "written, never read",
			src: yamlLines("queues:", "  a: {}", "  b: {}", "producers:",
				"  - {name: p, to: a, count: 1, item: x}", "consumers:",
				"  - {name: c, from: a, to: b, do: [emit: x]}"),
			sev: config.Error, code: config.CodeQueueUnread, at: fpos(3, 3),
			msg:  "queue `b` is written by `c` but no consumer reads it",
			hint: "add a consumer with `from: b`; items put there would never be taken",
		},
		{
			// The implicit queue has no place in the file: the error is at
			// the writer's name, 2: `  - name: p` at 11.
			name: "implicit queue never read",
			src:  yamlLines("producers:", "  - name: p", "    count: 1", "    item: x"),
			sev:  config.Error, code: config.CodeQueueUnread, at: fpos(2, 11),
			msg:  "queue `main` is written by `p` but no consumer reads it",
			hint: "add a consumer with `from: main`; items put there would never be taken",
		},
		{
			// 2: `  - {name: p, count: 1, item: x}`: `p` at 12.
			name: "two writers never read",
			src: yamlLines("producers:", "  - {name: p, count: 1, item: x}",
				"  - {name: q, count: 1, item: x}"),
			sev: config.Error, code: config.CodeQueueUnread, at: fpos(2, 12),
			msg:  "queue `main` is written by `p`, `q` but no consumer reads it",
			hint: "add a consumer with `from: main`; items put there would never be taken",
		},
		{
			name: "read, never written",
			src: yamlLines("queues:", "  a: {}", "  b: {}", "producers:",
				"  - {name: p, to: a, count: 1, item: x}", "consumers:",
				"  - {name: c1, from: a, do: [print: x]}",
				"  - {name: c2, from: b, do: [print: x]}"),
			sev: config.Warning, code: config.CodeQueueUnwritten, at: fpos(3, 3),
			msg:  "queue `b` is read by `c2` but no stage writes to it",
			hint: "add a producer with `to: b`, or an `emit` step in a consumer with `to: b`",
		},
		{
			name: "unused queue",
			src: yamlLines("queues:", "  a: {}", "  b: {}", "producers:",
				"  - {name: p, to: a, count: 1, item: x}", "consumers:",
				"  - {name: c, from: a, do: [print: x]}"),
			sev: config.Warning, code: config.CodeQueueUnused, at: fpos(3, 3),
			msg:  "queue `b` is not used by any stage",
			hint: "remove it, or connect a stage to it with `to:` or `from:`",
		},
		{
			// 2: `  strategy: none`: the value at 13.
			name: "strategy none will deadlock",
			src: yamlLines("shutdown:", "  strategy: none", "producers:",
				"  - {name: p, count: 3, item: x}", "consumers:",
				"  - {name: c, do: [print: x]}"),
			sev: config.Warning, code: config.CodeWillDeadlock, at: fpos(2, 13),
			msg:  "strategy `none` never tells consumers to stop: once the producers finish, the run will deadlock (pcrun detects it and exits 3)",
			hint: "use `strategy: close` (readers stop when the queue is closed and empty), `sentinel` or `join`",
		},
		{
			// 8: `  - {name: c2, from: b, to: a, do: [emit: x]}`: `a` of `to` at 29.
			name: "cycle through two queues",
			src: yamlLines("queues:", "  a: {}", "  b: {}", "producers:",
				"  - {name: p, to: a, count: 1, item: x}", "consumers:",
				"  - {name: c1, from: a, to: b, do: [emit: x]}",
				"  - {name: c2, from: b, to: a, do: [emit: x]}"),
			sev: config.Warning, code: config.CodeCycle, at: fpos(8, 29),
			msg: "queues form a cycle: a → c1 → b → c2 → a", prefix: true,
		},
		{
			// 4: `  - {name: c, to: main, do: [emit: x]}`: `main` at 19.
			name: "consumer feeding its own queue",
			src: yamlLines("producers:", "  - {name: p, count: 1, item: x}", "consumers:",
				"  - {name: c, to: main, do: [emit: x]}"),
			sev: config.Warning, code: config.CodeCycle, at: fpos(4, 19),
			msg: "queues form a cycle: main → c → main", prefix: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, tt.src, noEnv, nil)
			got := withCode(ds, tt.code)
			if len(got) != 1 {
				t.Fatalf("want one %s diagnostic, got:\n%v", tt.code, ds)
			}
			d := got[0]
			msgOK := d.Message == tt.msg || (tt.prefix && strings.HasPrefix(d.Message, tt.msg))
			if d.Pos != tt.at || d.Severity != tt.sev || !msgOK || (tt.hint != "" && d.Hint != tt.hint) {
				t.Errorf("\n got %v: %v: %s\n\thint: %s\nwant %v: %v: %s\n\thint: %s",
					d.Pos, d.Severity, d.Message, d.Hint, tt.at, tt.sev, tt.msg, tt.hint)
			}
			if d.Hint == "" {
				t.Errorf("no hint")
			}
			wantErrs := 0
			if tt.sev == config.Error {
				wantErrs = 1
			}
			if errs := errorsOf(ds); len(errs) != wantErrs {
				t.Errorf("want %d error(s), got:\n%v", wantErrs, errs)
			}
			if (g == nil) != (wantErrs > 0) {
				t.Errorf("Compile returned graph %v with %d error(s)", g != nil, wantErrs)
			}
		})
	}
}

// TestGraphNoHazards checks that the other strategies, and a pipeline
// without cycles, give no graph warnings.
func TestGraphNoHazards(t *testing.T) {
	for _, strategy := range []string{"close", "sentinel", "join"} {
		t.Run(strategy, func(t *testing.T) {
			src := yamlLines("shutdown:", "  strategy: "+strategy, "producers:",
				"  - {name: p, count: 3, item: x}", "consumers:",
				"  - {name: c, do: [print: x]}")
			g, ds := compileSrc(t, src, noEnv, nil)
			if g == nil || len(ds) != 0 {
				t.Errorf("want a graph and no diagnostics, got:\n%v", ds)
			}
		})
	}
}
