package stages

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

func TestErrorPolicyWait(t *testing.T) {
	base := ErrorPolicy{Attempts: 10, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2, Jitter: 0.2}
	below1 := math.Nextafter(1, 0) // the largest u there is
	with := func(edit func(*ErrorPolicy)) ErrorPolicy { p := base; edit(&p); return p }
	tests := []struct {
		name string
		p    ErrorPolicy
		n    int
		u    float64
		want time.Duration
	}{
		// u = 0.5 is the wait without jitter: 100ms × 2^(n-1), capped at 1s.
		{"first retry", base, 1, 0.5, 100 * time.Millisecond},
		{"second retry", base, 2, 0.5, 200 * time.Millisecond},
		{"third retry", base, 3, 0.5, 400 * time.Millisecond},
		{"fourth retry", base, 4, 0.5, 800 * time.Millisecond},
		{"capped", base, 5, 0.5, time.Second},
		{"capped far out", base, 1000, 0.5, time.Second},
		{"shortest", base, 1, 0, 80 * time.Millisecond},
		{"a quarter", base, 2, 0.25, 180 * time.Millisecond},
		{"three quarters", base, 2, 0.75, 220 * time.Millisecond},
		{"jitter on the cap", base, 9, 0, 800 * time.Millisecond},
		{"no jitter", with(func(p *ErrorPolicy) { p.Jitter = 0 }), 3, 0, 400 * time.Millisecond},
		{"full jitter, lowest", with(func(p *ErrorPolicy) { p.Jitter = 1 }), 2, 0, 0},
		{"full jitter, middle", with(func(p *ErrorPolicy) { p.Jitter = 1 }), 2, 0.5, 200 * time.Millisecond},
		{"multiplier 1", with(func(p *ErrorPolicy) { p.Multiplier = 1 }), 7, 0.5, 100 * time.Millisecond},
		{"multiplier 3", with(func(p *ErrorPolicy) { p.Multiplier = 3 }), 3, 0.5, 900 * time.Millisecond},
		{"backoff 0", with(func(p *ErrorPolicy) { p.Backoff = 0 }), 4, below1, 0},
		{"max_backoff 0", with(func(p *ErrorPolicy) { p.MaxBackoff = 0 }), 1, below1, 0},
		{"max below backoff", with(func(p *ErrorPolicy) { p.Backoff, p.MaxBackoff = 2*time.Second, time.Second }), 1, 0.5, time.Second},
		{"huge growth stays capped", with(func(p *ErrorPolicy) { p.Multiplier, p.MaxBackoff = 1e6, time.Hour }), 1000, 0.5, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Wait(tt.n, tt.u); got != tt.want {
				t.Errorf("Wait(%d, %v) = %v, want %v", tt.n, tt.u, got, tt.want)
			}
		})
	}
	// The longest wait, u just below 1, approaches 1.2 × the wait.
	if got := base.Wait(1, below1); got > 120*time.Millisecond || got < 120*time.Millisecond-time.Microsecond {
		t.Errorf("Wait(1, 1-ε) = %v, want 120ms or just under", got)
	}
}

// TestCompileOnError checks the compiled policy: the defaults without
// on_error, and what each form of on_error gives.
func TestCompileOnError(t *testing.T) {
	file := func(onError string) string {
		return yamlLines(
			"queues: {main: {}, failed: {}}",
			"producers: [{name: p, to: main, count: 1, item: x}]",
			"consumers:",
			"  - {name: f, from: failed}",
			"  - name: c",
			"    from: main",
			onError, // line 7
		)
	}
	tests := []struct {
		name    string
		onError string
		want    ErrorPolicy
		dlPos   config.Pos
	}{
		{name: "none", onError: "", want: ErrorPolicy{Attempts: 1, Then: config.Stop}},
		{name: "skip", onError: "    on_error: skip", want: ErrorPolicy{Attempts: 1, Then: config.Skip}},
		{name: "retry count", onError: "    on_error: {retry: 4}",
			want: ErrorPolicy{Attempts: 4, Backoff: config.DefaultBackoff, MaxBackoff: config.DefaultMaxBackoff,
				Multiplier: config.DefaultMultiplier, Jitter: config.DefaultJitter, Then: config.Stop}},
		{name: "retry mapping", onError: "    on_error: {retry: {attempts: 5, backoff: 1s, max_backoff: 1m, multiplier: 1.5, jitter: 0}, then: skip}",
			want: ErrorPolicy{Attempts: 5, Backoff: time.Second, MaxBackoff: time.Minute, Multiplier: 1.5, Then: config.Skip}},
		{name: "dead letter", onError: "    on_error: {dead_letter: failed}",
			want: ErrorPolicy{Attempts: 1, Then: config.DeadLetter, DeadLetter: "failed"}, dlPos: fpos(7, 29)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, file(tt.onError), noEnv, nil)
			if g == nil {
				t.Fatalf("Compile: %v", ds)
			}
			c := g.Consumers[1]
			if !reflect.DeepEqual(c.OnError, tt.want) || c.DeadLetterPos != tt.dlPos {
				t.Errorf("OnError = %+v at %v,\n     want %+v at %v", c.OnError, c.DeadLetterPos, tt.want, tt.dlPos)
			}
		})
	}
}

// failFile has a consumer whose second step is `fail: ARG`.
func failFile(arg string) string {
	return yamlLines(
		"producers: [{name: p, count: 1, item: x}]",
		"consumers:",
		"  - name: c",
		"    do:",
		"      - print: \"try ${attempt}\"", // 5
		"      - fail: "+arg,                // 6: the argument at column 15
		"      - print: passed",
	)
}

func TestFailStep(t *testing.T) {
	failAt := fpos(6, 15)
	tests := []struct {
		name string
		arg  string
		item any
		msg  string // "": the item passes
	}{
		{name: "nil passes", arg: `"${item}"`, item: nil},
		{name: "false passes", arg: `"${item}"`, item: false},
		{name: "empty string passes", arg: `"${item}"`, item: ""},
		{name: "true fails", arg: `"${item}"`, item: true, msg: "failed by the `fail` step"},
		{name: "string is the message", arg: `"${item}"`, item: "no good", msg: "no good"},
		{name: "number is formatted", arg: `"${item}"`, item: 42, msg: "42"},
		{name: "map is formatted", arg: `"${item}"`, item: map[string]any{"a": 1}, msg: `{"a":1}`},
		{name: "constant true", arg: "true", item: 1, msg: "failed by the `fail` step"},
		{name: "constant false", arg: "false", item: 1},
		{name: "no value", arg: "", item: 1},
		{name: "constant message", arg: "always", item: 1, msg: "always"},
		{name: "template text", arg: `"bad ${item}"`, item: 7, msg: "bad 7"},
		{name: "condition passes", arg: `"${item % 7 == 0 ? 'unlucky ' + string(item) : ''}"`, item: 8},
		{name: "condition fails", arg: `"${item % 7 == 0 ? 'unlucky ' + string(item) : ''}"`, item: 14, msg: "unlucky 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, failFile(tt.arg))
			fx := &fakeFx{}
			o, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), tt.item)
			if tt.msg == "" {
				if err != nil || o != Done {
					t.Fatalf("Handle = %v, %v; want Done, nil", o, err)
				}
				if want := []string{"print try 1", "print passed"}; !reflect.DeepEqual(fx.calls, want) {
					t.Errorf("calls %q, want %q", fx.calls, want)
				}
				return
			}
			var se *StepError
			var re *RuntimeError
			if !errors.As(err, &se) || !errors.As(err, &re) {
				t.Fatalf("Handle = %v, %v; want a *StepError wrapping a *RuntimeError", o, err)
			}
			if se.Step != 1 || re.Pos != failAt || re.Msg != tt.msg {
				t.Errorf("step %d, %v: %q; want step 1, %v: %q", se.Step, re.Pos, re.Msg, failAt, tt.msg)
			}
			if want := "c: item " + Quote(tt.item) + ": f.yaml:6:15: " + tt.msg; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if want := []string{"print try 1"}; !reflect.DeepEqual(fx.calls, want) {
				t.Errorf("calls %q, want %q", fx.calls, want)
			}
		})
	}
}

// TestFailStepFlaky retries an item the way the runtime does: each attempt
// resumes at the step that failed, and sees its number as `attempt`.
func TestFailStepFlaky(t *testing.T) {
	g := mustCompile(t, failFile(`"${attempt < 3 ? 'flaky' : ''}"`))
	fx := &fakeFx{}
	w := g.Consumers[0].Worker(1, fx)
	from := -1
	var msgs []string
	for attempt := 1; ; attempt++ {
		_, err := w.Retry(t.Context(), "x", attempt, from)
		if err == nil {
			break
		}
		var se *StepError
		if !errors.As(err, &se) || attempt > 3 {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		from = se.Step
		msgs = append(msgs, err.Error())
	}
	if want := []string{`c: item "x": f.yaml:6:15: flaky`, `c: item "x": f.yaml:6:15: flaky`}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("failures %q, want %q", msgs, want)
	}
	if want := []string{"print try 1", "print passed"}; !reflect.DeepEqual(fx.calls, want) {
		t.Errorf("calls %q, want %q (a retry resumes at the failed step)", fx.calls, want)
	}
}

// TestFailStepExprError checks that an expression error inside `fail`
// fails the item at the expression, like any other step.
func TestFailStepExprError(t *testing.T) {
	// `      - fail: "${ 10 % item }"`: `%` at column 22.
	g := mustCompile(t, failFile(`"${ 10 % item }"`))
	_, err := g.Consumers[0].Worker(1, &fakeFx{}).Handle(t.Context(), 0)
	var re *RuntimeError
	if !errors.As(err, &re) || re.Pos != fpos(6, 22) || !strings.Contains(re.Msg, "divide by zero") {
		t.Errorf("Handle = %v; want a divide-by-zero RuntimeError at 6:22", err)
	}
}

func TestFailCompileErrors(t *testing.T) {
	tests := []struct {
		arg  string
		at   config.Pos
		code string
		msg  string
	}{
		{arg: "{a: 1}", at: fpos(6, 15), code: config.CodeType, msg: "`fail` takes a template giving a message or a boolean, not a mapping or list"},
		{arg: "[x]", at: fpos(6, 15), code: config.CodeType, msg: "`fail` takes a template giving a message or a boolean, not a mapping or list"},
		{arg: `"${ itme }"`, at: fpos(6, 19), code: config.CodeUnknownName, msg: "unknown name `itme`"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			g, ds := compileSrc(t, failFile(tt.arg), noEnv, nil)
			errs := errorsOf(ds)
			if g != nil || len(errs) != 1 || errs[0].Pos != tt.at || errs[0].Code != tt.code || errs[0].Message != tt.msg {
				t.Errorf("got graph %v and\n%v\nwant one %s error at %v: %s", g != nil, ds, tt.code, tt.at, tt.msg)
			}
		})
	}
}

// TestGraphDeadLetter checks that a consumer with a dead-letter queue is
// one of its writers, once even when it also emits there.
func TestGraphDeadLetter(t *testing.T) {
	src := yamlLines(
		"queues: {in: {}, out: {}, failed: {}}",
		"producers: [{name: p, to: in, count: 1, item: x}]",
		"consumers:",
		"  - {name: a, from: in, to: out, replicas: 2, do: [emit: x], on_error: {dead_letter: failed}}",
		"  - {name: b, from: in, to: out, replicas: 3, do: [emit: x], on_error: {dead_letter: out}}",
		"  - {name: c, from: in, replicas: 4, on_error: {retry: 2, dead_letter: out}}",
		"  - {name: d, from: out}",
		"  - {name: e, from: failed}",
	)
	g := mustCompile(t, src)
	want := []*Queue{
		{Name: "in", Capacity: config.DefaultCapacity, Writers: []string{"p"}, Readers: []string{"a", "b", "c"},
			WriterReplicas: 1, ReaderReplicas: 9},
		{Name: "out", Capacity: config.DefaultCapacity, Writers: []string{"a", "b", "c"}, Readers: []string{"d"},
			DeadLetterWriters: []string{"b", "c"}, WriterReplicas: 9, ReaderReplicas: 1},
		{Name: "failed", Capacity: config.DefaultCapacity, Writers: []string{"a"}, Readers: []string{"e"},
			DeadLetterWriters: []string{"a"}, WriterReplicas: 2, ReaderReplicas: 1},
	}
	if !reflect.DeepEqual(g.Queues, want) {
		for i, q := range g.Queues {
			t.Errorf("queue %d:\n got %+v\nwant %+v", i, *q, *want[i])
		}
	}
}

// TestGraphDeadLetterHazards checks the graph diagnostics that follow
// dead-letter edges.
func TestGraphDeadLetterHazards(t *testing.T) {
	tests := []struct {
		name string
		src  string
		code string
		at   config.Pos
		msg  string
		hint string
	}{
		{
			// 1: `queues: {main: {}, failed: {}}`: `failed` at 20.
			name: "dead letters nobody reads",
			src: yamlLines("queues: {main: {}, failed: {}}", "producers: [{name: p, count: 1, item: x, to: main}]",
				"consumers: [{name: c, from: main, on_error: {dead_letter: failed}}]"),
			code: config.CodeQueueUnread, at: fpos(1, 20),
			msg:  "queue `failed` is written by `c` (dead letters) but no consumer reads it",
			hint: "add a consumer with `from: failed`; the failed items put there would be lost",
		},
		{
			// 5: `  - {name: b, from: failed, to: main, do: [emit: x]}`: `main` at 33.
			name: "dead letters fed back",
			src: yamlLines("queues: {main: {}, failed: {}}", "producers: [{name: p, count: 1, item: x, to: main}]",
				"consumers:",
				"  - {name: a, from: main, on_error: {dead_letter: failed}}",
				"  - {name: b, from: failed, to: main, do: [emit: x]}"),
			code: config.CodeCycle, at: fpos(5, 33),
			msg: "queues form a cycle: main → a (dead letter) → failed → b → main; every queue in it is bounded (main=1000, failed=1000), " +
				"so once they fill, each stage waits to put into the next and the cycle deadlocks: make one of them `unbounded`",
		},
		{
			// A cycle x → a → y → b → x with no way in dead-letters into
			// dl, so c, the reader of dl, is unreachable too. 7: `  - {name: c, from: dl}`: `c` at 12.
			name: "unreachable through dead letters",
			src: yamlLines("queues: {main: {}, x: {}, y: {}, dl: {}}", "producers: [{name: p, count: 1, item: x, to: main}]",
				"consumers:",
				"  - {name: m, from: main}",
				"  - {name: a, from: x, to: y, do: [emit: x], on_error: {dead_letter: dl}}",
				"  - {name: b, from: y, to: x, do: [emit: x]}",
				"  - {name: c, from: dl}"),
			code: config.CodeUnreachable, at: fpos(7, 12),
			msg: "consumer `c` can never get an item: queue `dl` is written only by `a`, which no producer's items reach",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := compileSrc(t, tt.src, noEnv, nil)
			n := 0
			for _, d := range withCode(ds, tt.code) {
				if d.Pos == tt.at && d.Message == tt.msg && (tt.hint == "" || d.Hint == tt.hint) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("want one %s at %v: %s\n\thint: %s\ngot:\n%v", tt.code, tt.at, tt.msg, tt.hint, ds)
			}
		})
	}
}

// TestGraphDeadLetterReach checks that a consumer fed only by dead letters
// is reachable, and that dead-lettering into a queue others read raises
// no hazard.
func TestGraphDeadLetterReach(t *testing.T) {
	src := yamlLines("queues: {main: {}, failed: {}}", "producers: [{name: p, count: 1, item: x, to: main}]",
		"consumers:",
		"  - {name: a, from: main, on_error: {retry: 3, dead_letter: failed}, do: [fail: \"${item}\"]}",
		"  - {name: b, from: failed, do: [print: \"${item.error}\"]}")
	if _, ds := compileSrc(t, src, noEnv, nil); len(ds) != 0 {
		t.Errorf("want no diagnostics, got:\n%v", ds)
	}
}

func TestRenderDeadLetterCompiled(t *testing.T) {
	g := mustCompile(t, yamlLines("queues: {main: {}, failed: {}}", "producers: [{name: p, count: 1, item: x, to: main}]",
		"consumers:",
		"  - {name: a, from: main, on_error: {dead_letter: failed}}",
		"  - {name: b, from: failed}"))
	mermaid := renderText(t, g, FormatMermaid)
	if want := "    q_main --> c_a\n    c_a -.->|dead letter| q_failed\n    q_failed --> c_b\n"; !strings.HasSuffix(mermaid, want) {
		t.Errorf("mermaid:\n%s\nwant it to end with\n%s", mermaid, want)
	}
	dot := renderText(t, g, FormatDot)
	if want := "  c_a -> q_failed [label=\"dead letter\", style=dashed]\n"; !strings.Contains(dot, want) {
		t.Errorf("dot:\n%s\nwant it to contain %q", dot, want)
	}
	checkDot(t, dot)
}
