package config

import (
	"fmt"
	"math"

	"gopkg.in/yaml.v3"
)

// A consumer's `on_error` says what happens to an item whose steps fail:
// how often it is tried (`retry`) and what happens after the last failed
// attempt (`then`: stop, skip or dead_letter). `on_error: skip` and
// `on_error: stop` are shorthands for `{then: ...}`; `retry: 3` is a
// shorthand for `{attempts: 3}` with the other settings at their defaults.

// MaxAttempts bounds `on_error.retry.attempts`.
const MaxAttempts = 1000

// onErrorExample shows the mapping form in hints.
const onErrorExample = "on_error: {retry: 3, then: skip}"

// onErrorField is the consumer's `on_error` key.
func (p *parser) onErrorField(c *Consumer) field {
	return field{name: "on_error", def: string(Stop),
		doc: "What happens to an item whose steps fail (an expression error, a `fail` step, a panic): `stop` (the default: stop producing, " +
			"drain, exit 1), `skip` (count it as failed and go on), or a mapping that can retry the item first and send it to a " +
			"dead-letter queue, e.g. {retry: 3, then: skip} or {retry: {attempts: 5, backoff: 1s}, dead_letter: failed}.",
		schema: func() *Schema {
			return &Schema{OneOf: []*Schema{
				{Type: "string", Enum: []any{string(Stop), string(Skip)}},
				p.onErrorObject(),
			}}
		},
		parse: func(_, v *yaml.Node) { p.onError(v, c) }}
}

// onErrorObject is the schema of the mapping form: its keys, and the two
// rules between `then` and `dead_letter` the loader checks.
func (p *parser) onErrorObject() *Schema {
	s := object(p.onErrorFields(&OnError{}, new(bool)))
	// `then: stop` or `then: skip` beside `dead_letter` is a conflict ...
	s.Not = &Schema{Required: []string{"then", "dead_letter"},
		Properties: Properties{{Name: "then", Schema: &Schema{Enum: []any{string(Stop), string(Skip)}}}}}
	// ... and `then: dead_letter` needs `dead_letter`.
	s.AnyOf = []*Schema{
		{Required: []string{"dead_letter"}},
		{Not: &Schema{Required: []string{"then"}, Properties: Properties{{Name: "then", Schema: &Schema{Const: string(DeadLetter)}}}}},
	}
	return s
}

// onError reads a consumer's `on_error`: a scalar shorthand or a mapping.
func (p *parser) onError(v *yaml.Node, c *Consumer) {
	oe := &c.OnError
	r := resolve(v)
	*oe = OnError{Pos: p.pos(v), Set: true, Then: Stop}
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
		oe.ThenPos = p.pos(v)
		switch ErrorAction(r.Value) {
		case Stop, Skip:
			oe.Then = ErrorAction(r.Value)
		case DeadLetter:
			p.diags.Errorf(p.pos(v), CodeMissing, "name the queue failed items go to: on_error: {dead_letter: QUEUE}",
				"`on_error: dead_letter` needs a queue")
		default:
			p.diags.Errorf(p.pos(v), CodeEnum, DidYouMean(r.Value, []string{string(Stop), string(Skip)})+" (stop, skip, or a mapping such as {retry: 3, then: skip})",
				"unknown on_error %q", r.Value)
		}
		return
	}
	if r.Kind != yaml.MappingNode {
		hint := "e.g. on_error: skip, or " + onErrorExample
		if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int" {
			hint = fmt.Sprintf("to try each item %s times, write on_error: {retry: %s}", r.Value, r.Value)
		}
		p.diags.Errorf(p.pos(v), CodeType, hint, "on_error must be `stop`, `skip` or a mapping, not %s", describe(r))
		return
	}
	oe.Then = ""
	dlGiven := false
	p.mapping(v, "on_error", p.onErrorFields(oe, &dlGiven))
	switch {
	case dlGiven && oe.Then == "":
		oe.Then = DeadLetter
	case dlGiven && oe.Then != DeadLetter:
		p.diags.Errorf(oe.ThenPos, CodeConflict,
			"remove `then` (beside `dead_letter` it is dead_letter), or remove `dead_letter`",
			"`then: %s` conflicts with `dead_letter`: a failed item %s", oe.Then, either(oe.Then))
	case oe.Then == DeadLetter && !dlGiven:
		p.diags.Errorf(oe.ThenPos, CodeMissing, "name the queue failed items go to, e.g. dead_letter: failed",
			"`then: dead_letter` needs `dead_letter: QUEUE`")
	case oe.Then == "":
		oe.Then = Stop
	}
}

// either says what a conflict between then and dead_letter leaves open.
func either(a ErrorAction) string {
	if a == Skip {
		return "is either skipped or dead-lettered"
	}
	return "either stops the run or is dead-lettered"
}

// onErrorFields is the table of the mapping form; dlGiven reports whether
// it has `dead_letter`, valid or not.
func (p *parser) onErrorFields(oe *OnError, dlGiven *bool) []field {
	then := make([]string, len(ErrorActions))
	for i, a := range ErrorActions {
		then[i] = string(a)
	}
	return []field{
		{name: "retry", def: 1,
			doc: fmt.Sprintf("How often to try an item before giving up: a number of attempts in all, the first included (1 to %d; "+
				"1, the default, is no retry), or a mapping with the attempts and the waits between them. A retry runs the item "+
				"again from the step that failed; `attempt` (1-based) tells expressions which try this is.", MaxAttempts),
			schema: func() *Schema {
				return &Schema{OneOf: []*Schema{attemptsSchema(), object(p.retryFields(&Retry{}, new(Pos), new(Pos)))}}
			},
			parse: func(_, v *yaml.Node) { oe.Retry = p.retry(v) }},
		{name: "then", def: string(Stop),
			doc: "What happens after the last failed attempt: `stop` (stop producing, drain, exit 1 naming the stage, item and error), " +
				"`skip` (count the item as failed and go on) or `dead_letter` (put it, with its error, into the `dead_letter` queue). " +
				"Default: `dead_letter` when `dead_letter` is given, else `stop`.",
			schema: func() *Schema { return &Schema{Type: "string", Enum: anys(then)} },
			parse: func(_, v *yaml.Node) {
				if s, ok := p.oneOf(v, "on_error.then", then, &oe.ThenPos, "(stop, skip or dead_letter)", "unknown on_error.then %q"); ok {
					oe.Then = ErrorAction(s)
				}
			}},
		{name: "dead_letter",
			doc: "The queue that receives each item whose last attempt failed, as a mapping {item, error, stage, worker, attempts, origin}; " +
				"a consumer must read it. It may not be the queue this consumer reads.",
			schema: nameSchema,
			parse: func(k, v *yaml.Node) {
				*dlGiven = true
				p.ref(&oe.DeadLetter, "queue name")(k, v)
			}},
	}
}

// attemptsSchema is a number of attempts.
func attemptsSchema() *Schema {
	return &Schema{Type: "integer", Minimum: ptr(1), Maximum: ptr(MaxAttempts)}
}

// retry reads `on_error.retry`: a number of attempts or a mapping.
func (p *parser) retry(v *yaml.Node) *Retry {
	r := &Retry{Pos: p.pos(v), Attempts: DefaultAttempts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff,
		Multiplier: DefaultMultiplier, Jitter: DefaultJitter}
	n := resolve(v)
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		if a, ok := p.attempts(v); ok {
			r.Attempts = a
		}
		return r
	case n.Kind != yaml.MappingNode:
		p.diags.Errorf(p.pos(v), CodeType, "e.g. retry: 3, or retry: {attempts: 5, backoff: 1s}",
			"on_error.retry must be a number of attempts or a mapping, not %s", describe(n))
		return nil
	}
	var backoffPos, maxPos Pos
	p.mapping(v, "on_error.retry", p.retryFields(r, &backoffPos, &maxPos))
	if r.MaxBackoff < r.Backoff {
		backoff, maxBackoff := ShortDuration(r.Backoff), ShortDuration(r.MaxBackoff)
		pos, msg := maxPos, fmt.Sprintf("max_backoff %s is shorter than backoff %s", maxBackoff, backoff)
		if !maxPos.IsValid() {
			pos, msg = backoffPos, fmt.Sprintf("backoff %s is longer than max_backoff %s (the default)", backoff, maxBackoff)
		}
		p.diags.Warnf(pos, CodeBackoffOverMax, "raise max_backoff to at least backoff, or lower backoff",
			"%s: every wait is %s", msg, maxBackoff)
	}
	return r
}

// retryFields is the table of `on_error.retry`; backoffPos and maxPos
// receive the positions of the valid backoff and max_backoff.
func (p *parser) retryFields(r *Retry, backoffPos, maxPos *Pos) []field {
	return []field{
		{name: "attempts", def: DefaultAttempts,
			doc:    fmt.Sprintf("Tries in all, the first included (1 to %d); 1 is no retry.", MaxAttempts),
			schema: attemptsSchema,
			parse: func(_, v *yaml.Node) {
				if a, ok := p.attempts(v); ok {
					r.Attempts = a
				}
			}},
		{name: "backoff", def: DefaultBackoff.String(),
			doc:    "The wait before the first retry, a Go duration such as 100ms or 1s (0: retry at once). Each later wait is `multiplier` times longer.",
			schema: durationSchema,
			parse: func(_, v *yaml.Node) {
				if d, ok := p.duration(v, "backoff"); ok {
					r.Backoff, *backoffPos = d, p.pos(v)
				}
			}},
		{name: "max_backoff", def: DefaultMaxBackoff.String(),
			doc:    "The longest wait between two attempts, before jitter, a Go duration such as 10s (0: retry at once).",
			schema: durationSchema,
			parse: func(_, v *yaml.Node) {
				if d, ok := p.duration(v, "max_backoff"); ok {
					r.MaxBackoff, *maxPos = d, p.pos(v)
				}
			}},
		{name: "multiplier", def: DefaultMultiplier,
			doc:    "How much longer each wait is than the one before: a number, at least 1 (1 keeps every wait at `backoff`).",
			schema: func() *Schema { return &Schema{Type: "number", Minimum: ptr(1)} },
			parse:  func(_, v *yaml.Node) { p.multiplier(v, r) }},
		{name: "jitter", def: DefaultJitter,
			doc:    "How much each wait is spread at random, as a fraction from 0 to 1: 0.2 makes it 80% to 120% of the computed wait, so replicas do not retry in lockstep.",
			schema: func() *Schema { return &Schema{Type: "number", Minimum: ptr(0), Maximum: ptr(1)} },
			parse:  func(_, v *yaml.Node) { p.jitter(v, r) }},
	}
}

// multiplier reads `on_error.retry.multiplier`: at least 1.
func (p *parser) multiplier(v *yaml.Node, r *Retry) {
	f, ok := p.number(v, "multiplier")
	switch {
	case !ok:
	case f < 1:
		p.diags.Errorf(p.pos(v), CodeRange, "each wait is the one before times multiplier; 1 keeps them equal",
			"multiplier must be at least 1, not %s", resolve(v).Value)
	default:
		r.Multiplier = f
	}
}

// jitter reads `on_error.retry.jitter`: a fraction from 0 to 1.
func (p *parser) jitter(v *yaml.Node, r *Retry) {
	f, ok := p.number(v, "jitter")
	switch {
	case !ok:
	case f < 0 || f > 1:
		p.diags.Errorf(p.pos(v), CodeRange, "jitter is a fraction of the wait, e.g. 0.2 for ±20%; 0 for none",
			"jitter must be between 0 and 1, not %s", resolve(v).Value)
	default:
		r.Jitter = f
	}
}

// attempts reads a number of attempts, 1 to MaxAttempts.
func (p *parser) attempts(v *yaml.Node) (int, bool) {
	n, ok := p.integer(v, "attempts")
	switch {
	case !ok:
	case n < 1:
		p.diags.Errorf(p.pos(v), CodeRange, "attempts counts every try, the first included; 1 is no retry",
			"attempts must be at least 1, not %d", n)
	case n > MaxAttempts:
		p.diags.Errorf(p.pos(v), CodeRange, fmt.Sprintf("use at most %d", MaxAttempts), "attempts %d is too many", n)
	default:
		return n, true
	}
	return 0, false
}

// number reads a finite number, integer or not.
func (p *parser) number(n *yaml.Node, what string) (float64, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		p.diags.Errorf(p.pos(n), CodeType, "write a number, e.g. 2 or 0.5", "%s must be a number, not %s", what, describe(n))
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.diags.Errorf(p.pos(n), CodeRange, "write a finite number, e.g. 2 or 0.5", "%s: %s is not a finite number", what, n.Value)
		return 0, false
	}
	return f, true
}

// checkOnError checks a consumer's `dead_letter` once its queues are
// resolved: it must not be the queue the consumer reads.
func (p *parser) checkOnError(c *Consumer) {
	dl := c.OnError.DeadLetter
	if !dl.Set || dl.Name == "" || dl.Name != c.From.Name {
		return
	}
	p.diags.Errorf(dl.Pos, CodeDeadLetterLoop,
		"send failed items to another queue, e.g. dead_letter: failed, and read that queue with another consumer",
		"`dead_letter: %s` is the queue consumer `%s` reads: each failed item would come back to it forever", dl.Name, c.Name)
}
