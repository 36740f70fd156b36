package stages

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

func TestDurationLiterals(t *testing.T) {
	tests := []struct {
		code string
		want string
		lits map[int]time.Duration
	}{
		{code: `200ms`, want: `_____`, lits: map[int]time.Duration{0: 200 * time.Millisecond}},
		{code: `exponential(200ms)`, want: `exponential(_____)`, lits: map[int]time.Duration{12: 200 * time.Millisecond}},
		{code: `1m30s + 1.5h`, want: `_____ + ____`, lits: map[int]time.Duration{0: 90 * time.Second, 8: 90 * time.Minute}},
		{code: `1µs+2μs+3us+4ns`, want: `___+___+___+___`, lits: map[int]time.Duration{0: time.Microsecond, 4: 2 * time.Microsecond, 8: 3 * time.Microsecond, 12: 4}},
		{code: `"é" + 2s`, want: `"é" + __`, lits: map[int]time.Duration{6: 2 * time.Second}},
		{code: "x\n  + 10m", want: "x\n  + ___", lits: map[int]time.Duration{6: 10 * time.Minute}},
		// unchanged: not literals, or not valid ones
		{code: `s1 + x.s + x.ms + $1s`},
		{code: `0x1f + 0x1s + 1e3 + 1e3s + 0b1 + 0o7`},
		{code: `1.5 + 1..3 + 2`},
		{code: `"200ms" + '2s' + ` + "`3h`"},
		{code: `"a\"2s" + 'b\'1s'`},
		{code: "x // 2s\n + /* 3m */ y"},
		{code: `1mo + 2hs + 3s4 + 1_000ms + 1h2`},
		{code: `99999999999999h`}, // out of range: expr reports "bad number syntax"
		{code: `x.1s`},
		{code: `unclosed "2s`},
	}
	for _, tt := range tests {
		got, lits := durationLiterals(tt.code)
		want := tt.want
		if want == "" {
			want = tt.code
		}
		if got != want || len(lits) != len(tt.lits) {
			t.Errorf("durationLiterals(%q) = %q, %v; want %q, %v", tt.code, got, lits, want, tt.lits)
			continue
		}
		for at, d := range tt.lits {
			if lits[at] != d {
				t.Errorf("durationLiterals(%q): at %d got %v, want %v", tt.code, at, lits[at], d)
			}
		}
		if runeLen(got) != runeLen(tt.code) {
			t.Errorf("durationLiterals(%q) changed the length in runes", tt.code)
		}
	}
}

// producerDelay is a file whose producer p has the given delay line.
func producerDelay(delay string) string {
	return yamlLines("producers:", "  - name: p", "    count: 1", "    delay: "+delay, "    item: x",
		"consumers:", "  - name: c", "    do:", "      - print: x")
}

// TestDurationExpressions evaluates expressions with duration literals and
// the random functions in a producer's delay.
func TestDurationExpressions(t *testing.T) {
	tests := []struct {
		delay string
		want  time.Duration
	}{
		{`"${200ms}"`, 200 * time.Millisecond},
		{`"${200ms * 2}"`, 400 * time.Millisecond},
		{`"${2 * 200ms + 1s}"`, 1400 * time.Millisecond},
		{`"${200ms * 1.5}"`, 300 * time.Millisecond}, // expr alone gives 3e8 as a float (seconds, to a delay)
		{`"${1.5 * 200ms}"`, 300 * time.Millisecond},
		{`"${1m30s - 30s}"`, time.Minute},
		{`"${i < 5 ? 1s : 2s}"`, time.Second},
		{`"${max(1s, 2s)}"`, 2 * time.Second},
		{`"${1s > 999ms ? 3s : 0s}"`, 3 * time.Second},
		{`"${uniform(1s, 1s)}"`, time.Second},
		{`"${exponential(0s)}"`, 0},
		{`"${normal(1s, 0s)}"`, time.Second},
		{`"${normal(1s, 0s) + exponential(0s) * 2}"`, time.Second},
		{`"${exponential(duration(\"0s\"))}"`, 0},
		{`"${normal(200ms, 0s) * 1.5}"`, 300 * time.Millisecond},
		{`"${1s * float(count)}"`, time.Second},
		{`"${10µs * 100}"`, time.Millisecond},
		{`"${2.0 * uniform(1s, 1s) * 1.5}"`, 3 * time.Second},
	}
	for _, tt := range tests {
		g := mustCompile(t, producerDelay(tt.delay))
		got, err := g.Producers[0].Worker(1).Delay(0)
		if err != nil || got != tt.want {
			t.Errorf("delay %s = %v, %v; want %v", tt.delay, got, err, tt.want)
		}
	}
}

// TestRandomDiagnostics checks that validate type-checks the functions
// and the literals, with positions in the file.
func TestRandomDiagnostics(t *testing.T) {
	tests := []struct {
		delay string
		code  string
		col   int // 1-based, on line 4: `    delay: "${...}"`, the expression starts at col 15
		msg   string
		hint  string
	}{
		{`"${exponential(200)}"`, config.CodeExprType, 27, "cannot use int as argument (type time.Duration) to call exponential", randomUsage["exponential"]},
		{`"${exponential(\"200ms\")}"`, config.CodeExprType, 27, "cannot use string", randomUsage["exponential"]},
		{`"${uniform(1s)}"`, config.CodeExprType, 0, "not enough arguments to call uniform", randomUsage["uniform"]},
		{`"${normal(1s, 2s, 3s)}"`, config.CodeExprType, 0, "too many arguments to call normal", randomUsage["normal"]},
		{`"${exponental(1s)}"`, config.CodeUnknownName, 15, "unknown function `exponental`", "did you mean `exponential`?"},
		// a position after a literal is right: `1s + "x"` fails at `+`
		{`"${1s + 20ms + \"x\"}"`, config.CodeExprType, 25, "mismatched types time.Duration and string", ""},
		{`"${{1s: 2}}"`, config.CodeExprSyntax, 16, "a duration cannot be written here", ""},
		{`"${200mx}"`, config.CodeExprSyntax, 18, "bad number syntax", ""},
	}
	for _, tt := range tests {
		_, ds := compileSrc(t, producerDelay(tt.delay), noEnv, nil)
		errs := errorsOf(ds)
		if len(errs) != 1 {
			t.Errorf("delay %s: want one error, got:\n%v", tt.delay, ds)
			continue
		}
		d := errs[0]
		if d.Code != tt.code || !strings.Contains(d.Message, tt.msg) || d.Pos.Line != 4 ||
			tt.col != 0 && d.Pos.Col != tt.col || tt.hint != "" && d.Hint != tt.hint {
			t.Errorf("delay %s:\n got %v: %s %q hint %q\nwant 4:%d: %s %q hint %q", tt.delay, d.Pos, d.Code, d.Message, d.Hint, tt.col, tt.code, tt.msg, tt.hint)
		}
	}
}

func TestRandomRuntimeErrors(t *testing.T) {
	for delay, msg := range map[string]string{
		`"${uniform(2s, 1s)}"`:      "min is greater than max",
		`"${exponential(0s - 1s)}"`: "the mean is negative",
		`"${normal(1s, 0s - 1s)}"`:  "the standard deviation is negative",
	} {
		g := mustCompile(t, producerDelay(delay))
		_, err := g.Producers[0].Worker(1).Delay(0)
		re, ok := err.(*RuntimeError)
		if !ok || !strings.Contains(re.Msg, msg) || re.Pos.Line != 4 {
			t.Errorf("delay %s: got %v, want a RuntimeError on line 4 containing %q", delay, err, msg)
		}
	}
}

// TestRandomDistributions draws from fixed seeds: deterministic, so the
// tolerances never flake.
func TestRandomDistributions(t *testing.T) {
	const n = 100_000
	meanSD := func(f func() time.Duration) (mean, sd float64, lo, hi time.Duration) {
		lo, hi = math.MaxInt64, math.MinInt64
		var sum, sum2 float64
		for range n {
			d := f()
			lo, hi = min(lo, d), max(hi, d)
			x := float64(d)
			sum += x
			sum2 += x * x
		}
		mean = sum / n
		return mean, math.Sqrt(sum2/n - mean*mean), lo, hi
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*want {
			t.Errorf("%s = %v, want %v within %v%%", what, time.Duration(got), time.Duration(want), tol*100)
		}
	}
	r := NewRand(1, "p", 1)
	mean, sd, lo, _ := meanSD(func() time.Duration { return Exponential(r, 200*time.Millisecond) })
	near("exponential mean", mean, float64(200*time.Millisecond), 0.02)
	near("exponential stddev", sd, float64(200*time.Millisecond), 0.02)
	if lo < 0 {
		t.Errorf("exponential gave %v", lo)
	}

	r = NewRand(2, "p", 1)
	mean, sd, lo, hi := meanSD(func() time.Duration { return Uniform(r, 100*time.Millisecond, 300*time.Millisecond) })
	near("uniform mean", mean, float64(200*time.Millisecond), 0.01)
	near("uniform stddev", sd, float64(200*time.Millisecond)/math.Sqrt(12), 0.02)
	if lo < 100*time.Millisecond || hi > 300*time.Millisecond || lo > 101*time.Millisecond || hi < 299*time.Millisecond {
		t.Errorf("uniform(100ms, 300ms) ranged over [%v, %v]", lo, hi)
	}

	r = NewRand(3, "p", 1)
	mean, sd, _, _ = meanSD(func() time.Duration { return Normal(r, time.Second, 100*time.Millisecond) })
	near("normal mean", mean, float64(time.Second), 0.01)
	near("normal stddev", sd, float64(100*time.Millisecond), 0.02)

	r = NewRand(4, "p", 1)
	_, _, lo, _ = meanSD(func() time.Duration { return Normal(r, 0, time.Second) })
	if lo != 0 {
		t.Errorf("normal(0s, 1s) gave %v: it is clamped at 0", lo)
	}
	if d := Uniform(r, math.MinInt64, math.MaxInt64); d < math.MinInt64 {
		t.Errorf("unreachable: %v", d)
	}
	if d := Exponential(r, math.MaxInt64); d < 0 {
		t.Errorf("exponential of the largest mean gave %v", d)
	}
}

// draws evaluates a consumer's sleep n times on a worker.
func draws(t *testing.T, g *Graph, replica, n int) []time.Duration {
	t.Helper()
	fx := &fakeFx{}
	w := g.Consumers[0].Worker(replica, fx)
	for range n {
		if _, err := w.Handle(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}
	return fx.sleeps
}

func TestRandomSeed(t *testing.T) {
	src := yamlLines("producers:", "  - name: p", "    count: 1", "    item: x",
		"consumers:", "  - name: c", "    replicas: 2", "    do:", "      - sleep: \"${exponential(1s)}\"")
	compile := func(seed uint64) *Graph {
		g, ds := compileSrc(t, src, Options{Environ: []string{}, Seed: seed}, nil)
		if g == nil {
			t.Fatal(ds)
		}
		return g
	}
	a, b := compile(42), compile(42)
	if a.Seed != 42 {
		t.Errorf("Graph.Seed = %d, want 42", a.Seed)
	}
	a1, a2, b1 := draws(t, a, 1, 20), draws(t, a, 2, 20), draws(t, b, 1, 20)
	if !slices.Equal(a1, b1) {
		t.Errorf("same seed, same worker: %v and %v", a1, b1)
	}
	if slices.Equal(a1, a2) {
		t.Errorf("two workers drew the same: %v", a1)
	}
	if c1 := draws(t, compile(43), 1, 20); slices.Equal(a1, c1) {
		t.Errorf("seeds 42 and 43 drew the same: %v", a1)
	}
	// a worker's sequence does not depend on the others having drawn
	if again := draws(t, a, 1, 20); !slices.Equal(a1, again) {
		t.Errorf("a new worker of the same graph drew %v, first %v", again, a1)
	}
	if g := compile(0); g.Seed == 0 {
		t.Errorf("seed 0: Compile picked no seed")
	}
}

// TestRandomWholeEnv: with `$env` the environment is passed by value; the
// generator still is the worker's.
func TestRandomWholeEnv(t *testing.T) {
	src := yamlLines("producers:", "  - name: p", "    count: 1", "    item: x",
		"consumers:", "  - name: c", "    do:", "      - sleep: \"${$env.worker == 'c' ? exponential(1s) : 0s}\"")
	src2 := strings.Replace(src, "$env.worker == 'c'", "true", 1)
	g1, ds := compileSrc(t, src, Options{Environ: []string{}, Seed: 7}, nil)
	g2, ds2 := compileSrc(t, src2, Options{Environ: []string{}, Seed: 7}, nil)
	if g1 == nil || g2 == nil {
		t.Fatal(ds, ds2)
	}
	if a, b := draws(t, g1, 1, 5), draws(t, g2, 1, 5); !slices.Equal(a, b) {
		t.Errorf("with $env %v, without %v", a, b)
	}
}
