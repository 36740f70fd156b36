package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// onErrorFile is a file whose consumer `c` (line 7) reads main and has
// the given on_error lines (from line 10 on); `failed` is read by `f`.
func onErrorFile(onError ...string) string {
	return "queues: {main: {}, failed: {}}\n" +
		"producers:\n" +
		"  - {name: p, to: main, count: 1, item: x}\n" +
		"consumers:\n" +
		"  - {name: f, from: failed}\n" +
		"  - name: c\n" +
		"    from: main\n" +
		"    do:\n" +
		"      - print: x\n" +
		strings.Join(onError, "\n") + "\n"
}

func TestParseOnError(t *testing.T) {
	at := func(line, col int) Pos { return Pos{File: "f.yaml", Line: line, Col: col} }
	defaults := func(pos Pos) *Retry {
		return &Retry{Pos: pos, Attempts: DefaultAttempts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff,
			Multiplier: DefaultMultiplier, Jitter: DefaultJitter}
	}
	tests := []struct {
		name    string
		onError []string
		want    OnError
	}{
		{name: "none", want: OnError{}},
		{name: "stop", onError: []string{"    on_error: stop"},
			want: OnError{Pos: at(10, 15), Set: true, Then: Stop, ThenPos: at(10, 15)}},
		{name: "skip", onError: []string{"    on_error: skip"},
			want: OnError{Pos: at(10, 15), Set: true, Then: Skip, ThenPos: at(10, 15)}},
		{name: "empty mapping", onError: []string{"    on_error: {}"},
			want: OnError{Pos: at(10, 15), Set: true, Then: Stop}},
		{name: "retry count", onError: []string{"    on_error: {retry: 5}"},
			want: OnError{Pos: at(10, 15), Set: true, Then: Stop,
				Retry: func() *Retry { r := defaults(at(10, 23)); r.Attempts = 5; return r }()}},
		{name: "retry defaults", onError: []string{"    on_error:", "      retry: {}", "      then: skip"},
			want: OnError{Pos: at(11, 7), Set: true, Then: Skip, ThenPos: at(12, 13), Retry: defaults(at(11, 14))}},
		{name: "retry settings", onError: []string{
			"    on_error:",
			"      retry:",
			"        attempts: 4",
			"        backoff: 0",
			"        max_backoff: 1m",
			"        multiplier: 1",
			"        jitter: 0",
		},
			want: OnError{Pos: at(11, 7), Set: true, Then: Stop, Retry: &Retry{Pos: at(12, 9), Attempts: 4,
				Backoff: 0, MaxBackoff: time.Minute, Multiplier: 1, Jitter: 0}}},
		{name: "fractions", onError: []string{"    on_error: {retry: {backoff: 250ms, multiplier: 1.5, jitter: 1}}"},
			want: OnError{Pos: at(10, 15), Set: true, Then: Stop, Retry: &Retry{Pos: at(10, 23), Attempts: DefaultAttempts,
				Backoff: 250 * time.Millisecond, MaxBackoff: DefaultMaxBackoff, Multiplier: 1.5, Jitter: 1}}},
		{name: "dead letter implies then", onError: []string{"    on_error: {dead_letter: failed}"},
			want: OnError{Pos: at(10, 15), Set: true, Then: DeadLetter,
				DeadLetter: Ref{Name: "failed", Pos: at(10, 29), Set: true}}},
		{name: "dead letter with then", onError: []string{"    on_error: {retry: 2, then: dead_letter, dead_letter: failed}"},
			want: OnError{Pos: at(10, 15), Set: true, Then: DeadLetter, ThenPos: at(10, 32),
				Retry:      func() *Retry { r := defaults(at(10, 23)); r.Attempts = 2; return r }(),
				DeadLetter: Ref{Name: "failed", Pos: at(10, 58), Set: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, ds := Parse("f.yaml", []byte(onErrorFile(tt.onError...)))
			if len(ds) != 0 {
				t.Fatalf("Parse returned diagnostics:\n%v", ds)
			}
			got := pl.Consumers[1].OnError
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("OnError =\n%+v\nwant\n%+v", got, tt.want)
				if got.Retry != nil && tt.want.Retry != nil {
					t.Errorf("Retry = %+v, want %+v", *got.Retry, *tt.want.Retry)
				}
			}
		})
	}
}

func TestParseOnErrorDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		onError string // line 10
		want    []string
	}{
		{name: "dead_letter shorthand", onError: "    on_error: dead_letter",
			want: []string{"f.yaml:10:15 error missing-field: `on_error: dead_letter` needs a queue | name the queue failed items go to: on_error: {dead_letter: QUEUE}"}},
		{name: "misspelt shorthand", onError: "    on_error: skp",
			want: []string{"f.yaml:10:15 error bad-value: unknown on_error \"skp\" | did you mean `skip`? (stop, skip, or a mapping such as {retry: 3, then: skip})"}},
		{name: "number", onError: "    on_error: 3",
			want: []string{"f.yaml:10:15 error wrong-type: on_error must be `stop`, `skip` or a mapping, not the number 3 | to try each item 3 times, write on_error: {retry: 3}"}},
		{name: "list", onError: "    on_error: [skip]",
			want: []string{"f.yaml:10:15 error wrong-type: on_error must be `stop`, `skip` or a mapping, not a list | e.g. on_error: skip, or on_error: {retry: 3, then: skip}"}},
		{name: "unknown key", onError: "    on_error: {retyr: 3}",
			want: []string{"f.yaml:10:16 error unknown-field: unknown key `retyr` in on_error | did you mean `retry`?"}},
		{name: "unknown retry key", onError: "    on_error: {retry: {attempt: 3}}",
			want: []string{"f.yaml:10:24 error unknown-field: unknown key `attempt` in on_error.retry | did you mean `attempts`?"}},
		{name: "retry string", onError: "    on_error: {retry: often}",
			want: []string{"f.yaml:10:23 error wrong-type: on_error.retry must be a number of attempts or a mapping, not the string \"often\" | e.g. retry: 3, or retry: {attempts: 5, backoff: 1s}"}},
		{name: "retry 0", onError: "    on_error: {retry: 0}",
			want: []string{"f.yaml:10:23 error out-of-range: attempts must be at least 1, not 0 | attempts counts every try, the first included; 1 is no retry"}},
		{name: "attempts too many", onError: "    on_error: {retry: {attempts: 1001}}",
			want: []string{"f.yaml:10:34 error out-of-range: attempts 1001 is too many | use at most 1000"}},
		{name: "attempts float", onError: "    on_error: {retry: {attempts: 2.5}}",
			want: []string{"f.yaml:10:34 error wrong-type: attempts must be an integer, not the number 2.5 | write a whole number, e.g. 3"}},
		{name: "negative backoff", onError: "    on_error: {retry: {backoff: -1s}}",
			want: []string{"f.yaml:10:33 error bad-duration: backoff: \"-1s\" is negative | " + DurationHint}},
		{name: "max below backoff", onError: "    on_error: {retry: {backoff: 2s, max_backoff: 1s}}",
			want: []string{"f.yaml:10:50 warning backoff-over-max: max_backoff 1s is shorter than backoff 2s: every wait is 1s | raise max_backoff to at least backoff, or lower backoff"}},
		{name: "backoff above default max", onError: "    on_error: {retry: {backoff: 1m}}",
			want: []string{"f.yaml:10:33 warning backoff-over-max: backoff 1m is longer than max_backoff 10s (the default): every wait is 10s | raise max_backoff to at least backoff, or lower backoff"}},
		{name: "multiplier below 1", onError: "    on_error: {retry: {multiplier: 0.5}}",
			want: []string{"f.yaml:10:36 error out-of-range: multiplier must be at least 1, not 0.5 | each wait is the one before times multiplier; 1 keeps them equal"}},
		{name: "multiplier string", onError: "    on_error: {retry: {multiplier: x2}}",
			want: []string{"f.yaml:10:36 error wrong-type: multiplier must be a number, not the string \"x2\" | write a number, e.g. 2 or 0.5"}},
		{name: "multiplier infinite", onError: "    on_error: {retry: {multiplier: .inf}}",
			want: []string{"f.yaml:10:36 error out-of-range: multiplier: .inf is not a finite number | write a finite number, e.g. 2 or 0.5"}},
		{name: "jitter above 1", onError: "    on_error: {retry: {jitter: 1.5}}",
			want: []string{"f.yaml:10:32 error out-of-range: jitter must be between 0 and 1, not 1.5 | jitter is a fraction of the wait, e.g. 0.2 for ±20%; 0 for none"}},
		{name: "jitter negative", onError: "    on_error: {retry: {jitter: -0.1}}",
			want: []string{"f.yaml:10:32 error out-of-range: jitter must be between 0 and 1, not -0.1 | jitter is a fraction of the wait, e.g. 0.2 for ±20%; 0 for none"}},
		{name: "misspelt then", onError: "    on_error: {then: skipp}",
			want: []string{"f.yaml:10:22 error bad-value: unknown on_error.then \"skipp\" | did you mean `skip`? (stop, skip or dead_letter)"}},
		{name: "then dead_letter without queue", onError: "    on_error: {then: dead_letter}",
			want: []string{"f.yaml:10:22 error missing-field: `then: dead_letter` needs `dead_letter: QUEUE` | name the queue failed items go to, e.g. dead_letter: failed"}},
		{name: "skip and dead_letter", onError: "    on_error: {then: skip, dead_letter: failed}",
			want: []string{"f.yaml:10:22 error conflicting-fields: `then: skip` conflicts with `dead_letter`: a failed item is either skipped or dead-lettered | remove `then` (beside `dead_letter` it is dead_letter), or remove `dead_letter`"}},
		{name: "stop and dead_letter", onError: "    on_error: {dead_letter: failed, then: stop}",
			want: []string{"f.yaml:10:43 error conflicting-fields: `then: stop` conflicts with `dead_letter`: a failed item either stops the run or is dead-lettered | remove `then` (beside `dead_letter` it is dead_letter), or remove `dead_letter`"}},
		{name: "undefined dead-letter queue", onError: "    on_error: {dead_letter: faild}",
			want: []string{"f.yaml:10:29 error undefined-queue: undefined queue `faild` | did you mean `failed`?"}},
		{name: "bad dead-letter name", onError: "    on_error: {dead_letter: \"a b\"}",
			want: []string{"f.yaml:10:29 error bad-name: queue name \"a b\" is not a valid name | start with a letter or _, then use letters, digits, _ or -"}},
		{name: "dead letter into its own queue", onError: "    on_error: {dead_letter: main}",
			want: []string{"f.yaml:10:29 error dead-letter-loop: `dead_letter: main` is the queue consumer `c` reads: each failed item would come back to it forever | send failed items to another queue, e.g. dead_letter: failed, and read that queue with another consumer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := Parse("f.yaml", []byte(onErrorFile(tt.onError)))
			var got []string
			for _, d := range ds {
				got = append(got, diag(d))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestParseOnErrorImplicitQueue checks dead_letter against the implicit
// queue: the only queue is the one the consumer reads.
func TestParseOnErrorImplicitQueue(t *testing.T) {
	src := "producers: [{name: p, count: 1, item: x}]\nconsumers:\n  - {name: c, on_error: {dead_letter: main}}\n  - {name: d, on_error: {dead_letter: failed}}\n"
	_, ds := Parse("f.yaml", []byte(src))
	var got []string
	for _, d := range ds {
		got = append(got, d.Pos.String()+" "+d.Code)
	}
	want := []string{"f.yaml:3:39 dead-letter-loop", "f.yaml:4:39 undefined-queue"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics %q, want %q\n%v", got, want, ds)
	}
	if h := ds[1].Hint; !strings.Contains(h, "declare it under `queues:`") {
		t.Errorf("hint %q, want one that says to declare the queue", h)
	}
}

// TestAttemptReserved checks that a var cannot hide `attempt`.
func TestAttemptReserved(t *testing.T) {
	_, ds := Parse("f.yaml", []byte("vars: {attempt: 1}\nproducers: [{name: p, count: 1, item: x}]\n"))
	if len(ds) == 0 || ds[0].Code != CodeVar || !strings.Contains(ds[0].Message, "`attempt`") {
		t.Errorf("want a bad-var diagnostic for `attempt`, got:\n%v", ds)
	}
}
