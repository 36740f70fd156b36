package stages

import (
	"errors"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// delayFile is a valid file whose producer `p` (count 3) has the given
// vars and `delay:` value, as written, on line 5 when there are no vars.
func delayFile(vars []string, delay string) string {
	var ls []string
	if len(vars) > 0 {
		ls = append(ls, "vars:")
		for _, v := range vars {
			ls = append(ls, "  "+v)
		}
	}
	ls = append(ls,
		"producers:",
		"  - name: p",
		"    count: 3",
		"    item: x",
		"    delay: "+delay,
		"consumers:",
		"  - name: c",
		"    do:",
		"      - print: x",
	)
	return yamlLines(ls...)
}

func TestDurationValues(t *testing.T) {
	tests := []struct {
		name  string
		vars  []string
		delay string
		want  [3]time.Duration // for i = 0, 1, 2
	}{
		{"milliseconds", nil, "250ms", [3]time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{"minutes and seconds", nil, "1m30s", [3]time.Duration{90 * time.Second, 90 * time.Second, 90 * time.Second}},
		{"quoted", nil, `"2h"`, [3]time.Duration{2 * time.Hour, 2 * time.Hour, 2 * time.Hour}},
		{"zero without unit", nil, "0", [3]time.Duration{}},
		{"float seconds", nil, `"${ 1.5 }"`, [3]time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond}},
		{"int seconds from i", nil, `"${ i + 1 }"`, [3]time.Duration{time.Second, 2 * time.Second, 3 * time.Second}},
		{"fraction from i", nil, `"${ i / 4 }"`, [3]time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond}},
		{"text with unit", nil, `"${ i * 100 }ms"`, [3]time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}},
		{"duration builtin", nil, `"${ duration('1m') * (i + 1) }"`, [3]time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}},
		{"string var", []string{"pause: 750ms"}, `"${pause}"`, [3]time.Duration{750 * time.Millisecond, 750 * time.Millisecond, 750 * time.Millisecond}},
		{"number var", []string{"secs: 2"}, `"${ secs * i }"`, [3]time.Duration{0, 2 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, delayFile(tt.vars, tt.delay))
			w := g.Producers[0].Worker(1)
			for i, want := range tt.want {
				got, err := w.Delay(i)
				if err != nil || got != want {
					t.Errorf("delay %s: Delay(%d) = %v, %v; want %v", tt.delay, i, got, err, want)
				}
			}
		})
	}
}

func TestDurationNone(t *testing.T) {
	g := mustCompile(t, producerFile(nil, "x"))
	d, err := g.Producers[0].Worker(1).Delay(0)
	if d != 0 || err != nil {
		t.Errorf("Delay without delay = %v, %v; want 0, nil", d, err)
	}
	var nilD *Duration
	if d, err := nilD.Eval(nil, nil); d != 0 || err != nil {
		t.Errorf("(*Duration)(nil).Eval = %v, %v; want 0, nil", d, err)
	}
}

// TestDurationRuntimeErrors checks templates whose value is not a usable
// duration: each error is a *RuntimeError at the delay's value (line 5,
// column 12: `    delay: "...`).
func TestDurationRuntimeErrors(t *testing.T) {
	tests := []struct {
		name  string
		delay string
		msg   string
	}{
		{"negative int", `"${ -1 }"`, "duration -1s is negative"},
		{"negative float", `"${ -0.5 }"`, "duration -500ms is negative"},
		{"negative duration", `"${ duration('1s') - duration('2s') }"`, "duration -1s is negative"},
		{"negative text", `"${ -5 }ms"`, `"-5ms" is negative`},
		{"no unit in text", `"${ 5 } "`, `"5 " has no unit`},
		{"not a duration", `"${ 'soon' }"`, `"soon" is not a duration`},
		{"infinite", `"${ 1/0 }"`, "duration +Inf is out of range"},
		{"too large", `"${ 1e12 }"`, "duration 1e+12 is out of range"},
		// An int number of seconds must not wrap around time.Duration.
		{"too large int", `"${ 20000000000 }"`, "duration 20000000000 is out of range"},
		// MaxInt64/1e9 rounds to 2^63 ns, one past the largest Duration.
		{"float at the limit", `"${ 9.223372036854776e9 }"`, "duration 9.223372036854776e+09 is out of range"},
		{"negative int past the limit", `"${ -20000000000 }"`, "duration -20000000000 is out of range"},
		{"bool", `"${ true }"`, "a duration template must give a duration, a number of seconds or a string like 250ms, not true"},
		{"map", `"${ {'a': 1} }"`, `a duration template must give a duration, a number of seconds or a string like 250ms, not {"a":1}`},
		{"nil", `"${ nil }"`, "a duration template must give a duration, a number of seconds or a string like 250ms, not null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, delayFile(nil, tt.delay))
			d, err := g.Producers[0].Worker(1).Delay(0)
			var re *RuntimeError
			if !errors.As(err, &re) {
				t.Fatalf("delay %s: Delay(0) = %v, %v; want a *RuntimeError", tt.delay, d, err)
			}
			if d != 0 {
				t.Errorf("delay %s: Delay(0) returned %v with its error", tt.delay, d)
			}
			if re.Pos != fpos(5, 12) || re.Msg != tt.msg {
				t.Errorf("delay %s: error %v: %q; want %v: %q", tt.delay, re.Pos, re.Msg, fpos(5, 12), tt.msg)
			}
		})
	}
}

// TestDurationCompileErrors checks constant durations that cannot work:
// each is reported at the value (line 5, column 12).
func TestDurationCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		delay string
		msg   string
		hint  string
	}{
		{"negative", "-1s", `delay: "-1s" is negative`, config.DurationHint},
		{"negative quoted", `"-250ms"`, `delay: "-250ms" is negative`, config.DurationHint},
		{"no unit", "5", "delay 5 has no unit", config.DurationHint + "; for 5 seconds write 5s"},
		{"float without unit", "1.5", "delay 1.5 has no unit", config.DurationHint + "; for 1.5 seconds write 1.5s"},
		{"word", "soon", `delay: "soon" is not a duration`, config.DurationHint},
		{"number with space", `"5 "`, `delay: "5 " has no unit`, config.DurationHint},
		{"escaped dollar", `"$${x}1s"`, `delay: "${x}1s" is not a duration`, config.DurationHint},
		{"mapping", "{s: 1}", "delay must be a duration, not a mapping or list", config.DurationHint},
		{"list", "[1s]", "delay must be a duration, not a mapping or list", config.DurationHint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ds := compileSrc(t, delayFile(nil, tt.delay), noEnv, nil)
			if g != nil {
				t.Errorf("Compile returned a graph despite errors")
			}
			errs := errorsOf(ds)
			if len(errs) != 1 {
				t.Fatalf("delay %s: want one error, got:\n%v", tt.delay, errs)
			}
			d := errs[0]
			if d.Pos != fpos(5, 12) || d.Code != config.CodeDuration || d.Message != tt.msg || d.Hint != tt.hint {
				t.Errorf("delay %s:\n got %v %s %q hint %q\nwant %v %s %q hint %q",
					tt.delay, d.Pos, d.Code, d.Message, d.Hint, fpos(5, 12), config.CodeDuration, tt.msg, tt.hint)
			}
		})
	}
}

// TestDurationTemplateCompileErrors checks that a duration template's
// expression errors point into the file.
func TestDurationTemplateCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		delay string
		at    config.Pos
		code  string
		msg   string
	}{
		// `    delay: "${ secs }"`: the quote is column 12, `secs` 16.
		{"unknown name", `"${ secs }"`, fpos(5, 16), config.CodeUnknownName, "unknown name `secs`"},
		// `    delay: "${ 1 }${"`: the second `${` is column 19.
		{"unterminated", `"${ 1 }${"`, fpos(5, 19), config.CodeTemplate, "unterminated placeholder: `${` has no matching `}`"},
		// the producer's delay cannot use `item`: `    delay: ${item}` has `item` at 14.
		{"item", "${item}", fpos(5, 14), config.CodeUnknownName, "`item` is not defined here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := compileSrc(t, delayFile(nil, tt.delay), noEnv, nil)
			errs := errorsOf(ds)
			if len(errs) != 1 {
				t.Fatalf("delay %s: want one error, got:\n%v", tt.delay, errs)
			}
			if d := errs[0]; d.Pos != tt.at || d.Code != tt.code || d.Message != tt.msg {
				t.Errorf("delay %s:\n got %v %s %q\nwant %v %s %q", tt.delay, d.Pos, d.Code, d.Message, tt.at, tt.code, tt.msg)
			}
		})
	}
}

func TestDurationSleepStep(t *testing.T) {
	src := yamlLines(
		"producers:",
		"  - name: p",
		"    count: 1",
		"    item: x",
		"consumers:",
		"  - name: c",
		"    do:",
		"      - sleep: 1m30s",
		"      - sleep: \"${ item }\"",
		"      - sleep: \"${ item * 2 }ms\"",
	)
	g := mustCompile(t, src)
	fx := &fakeFx{}
	w := g.Consumers[0].Worker(1, fx)
	for _, item := range []any{1.5, 250} {
		if _, err := w.Handle(t.Context(), item); err != nil {
			t.Fatalf("Handle(%v): %v", item, err)
		}
	}
	want := []time.Duration{90 * time.Second, 1500 * time.Millisecond, 3 * time.Millisecond,
		90 * time.Second, 250 * time.Second, 500 * time.Millisecond}
	if len(fx.sleeps) != len(want) {
		t.Fatalf("slept %v, want %v", fx.sleeps, want)
	}
	for i := range want {
		if fx.sleeps[i] != want[i] {
			t.Errorf("sleep %d = %v, want %v", i, fx.sleeps[i], want[i])
		}
	}
}
