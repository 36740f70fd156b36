package stages

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/pcrun/pcrun/config"
)

// Options tune compilation.
type Options struct {
	// Environ is the environment expressions see as `env`; nil means the
	// process environment.
	Environ []string
	// NoDelays makes every compiled Duration (producer `delay`, `sleep`
	// steps) and every retry wait evaluate to 0, for `pcrun test`. Templates are still compiled,
	// type-checked and evaluated, so their errors surface as in a real run.
	// The shutdown deadline and grace are not durations of this kind and
	// keep their configured values.
	NoDelays bool
	// Seed seeds every worker's random generator (uniform, exponential,
	// normal; random.go): each worker draws the same sequence in every
	// run with the same seed. 0 picks a seed (NewSeed); Graph.Seed says
	// which.
	Seed uint64
}

type compiler struct {
	diags    config.Diagnostics
	vars     map[string]any
	env      map[string]string
	noDelays bool
	seed     uint64
	file     string // the pipeline file: source paths are beside it
	// afterExec: the consumer step being compiled comes after an exec or
	// shell step, so it may read `result`.
	afterExec bool
	// badCount names the producers whose count template failed (count.go):
	// no hazard is reported from their placeholder count.
	badCount map[string]bool
}

// Compile turns a parsed pipeline into a runnable Graph. Every expression
// and template is compiled once here. It returns every problem found, and a
// nil Graph when any of them is an error.
func Compile(pl *config.Pipeline, opts Options) (*Graph, config.Diagnostics) {
	compiling.Store(true) // the actions are read without a lock from now on
	c := &compiler{vars: map[string]any{}, env: map[string]string{}, noDelays: opts.NoDelays, seed: opts.Seed, file: pl.File, badCount: map[string]bool{}}
	if c.seed == 0 {
		c.seed = NewSeed()
	}
	for _, v := range pl.Vars {
		c.vars[v.Name] = v.Value
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			c.env[k] = v
		}
	}
	g := &Graph{
		Name: pl.Name, File: pl.File,
		Strategy: pl.Shutdown.Strategy, Deadline: pl.Shutdown.Deadline, Grace: pl.Shutdown.Grace,
		Spill: besideFile(pl.File, pl.Shutdown.Spill),
		Seed:  c.seed,
	}
	for i := range pl.Producers {
		g.Producers = append(g.Producers, c.producer(&pl.Producers[i]))
	}
	for i := range pl.Consumers {
		g.Consumers = append(g.Consumers, c.consumer(&pl.Consumers[i]))
	}
	c.link(g, pl)
	c.diags.Sort()
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	return g, c.diags
}

// Check parses nothing and runs nothing: it compiles pl only to report its
// problems. It is what `pcrun validate` runs after config.Parse.
func Check(pl *config.Pipeline, opts Options) config.Diagnostics {
	_, ds := Compile(pl, opts)
	return ds
}

func (c *compiler) producerEnv() *exprEnv {
	return &exprEnv{sample: ProducerEnv{}, names: producerNames, vars: c.vars}
}

func (c *compiler) consumerEnv() *exprEnv {
	e := &exprEnv{sample: ConsumerEnv{}, names: consumerNames, vars: c.vars}
	if !c.afterExec {
		e.noResult = "`result` is what an exec or shell step did; use it in a step after one"
	}
	return e
}

func (c *compiler) producer(p *config.Producer) *Producer {
	out := &Producer{Name: p.Name, Replicas: c.replicas(&p.Stage), To: p.To.Name, Count: c.count(p), Pos: p.Pos, env: c.env, seed: c.seed}
	noLine := ""
	if p.Source != nil {
		if p.ReplicasTemplate != nil && out.Replicas > 1 { // a number is checked by config (checkSources)
			c.diags.Errorf(p.ReplicasPos, config.CodeConflict, "remove `replicas`: a source is read in order by one worker; give consumers replicas instead",
				"producer `%s` reads `%s` with %d replicas", p.Name, p.Source.Kind, out.Replicas)
		}
		out.Source = c.source(p) // source.go
		if !p.CountSet {
			out.Count = Unlimited
		}
	} else {
		noLine = "`line` is the record of a producer that reads a source (" + config.SourceKindList() + "); this one makes `count` items from `item`"
	}
	itemEnv := c.producerEnv()
	itemEnv.noItem = "a producer's `item` template makes the item, so it cannot use `item`; use `i` (the index) or vars"
	itemEnv.noLine = noLine
	withLine(itemEnv, p.Source != nil) // source.go
	if p.Item != nil || p.Source == nil {
		out.item = c.compileTemplate(p.Item, itemEnv)
	}
	out.delay = c.duration(p.Delay, itemEnv, "delay")
	if p.Print != nil {
		printEnv := c.producerEnv()
		printEnv.noLine = noLine
		withLine(printEnv, p.Source != nil)
		out.print = c.compileString(p.Print.Text, printEnv)
	}
	return out
}

func (c *compiler) consumer(cs *config.Consumer) *Consumer {
	out := &Consumer{Name: cs.Name, Replicas: c.replicas(&cs.Stage), From: cs.From.Name, To: cs.To.Name, Pos: cs.Pos, ToPos: cs.To.Pos,
		OnError: policy(cs.OnError), DeadLetterPos: cs.OnError.DeadLetter.Pos, env: c.env, seed: c.seed}
	c.afterExec = false
	if c.noDelays {
		out.OnError.Backoff, out.OnError.MaxBackoff = 0, 0 // retries happen at once
	}
	if cs.When != nil {
		out.when = c.predicate(cs.When)
	}
	for _, st := range cs.Steps {
		a := actions[st.Action]
		if a == nil {
			c.diags.Errorf(st.ActionPos, config.CodeUnknownAction, config.DidYouMean(st.Action, actionNames()),
				"unknown step action `%s`", st.Action)
			continue
		}
		if a.emits {
			out.Emits = true
			if !cs.To.Set {
				c.diags.Errorf(st.ActionPos, config.CodeEmitWithoutTo,
					"add `to: QUEUE` to consumer `"+cs.Name+"`: emitted items go to that queue",
					"`emit` needs the consumer to have `to`")
			}
		}
		if s := a.compile(c, st); s != nil {
			out.steps = append(out.steps, s)
		}
		if st.Action == "exec" || st.Action == "shell" {
			c.afterExec = true // even when it failed to compile: no second error
		}
	}
	if cs.To.Set && !out.Emits {
		c.diags.Warnf(cs.To.Pos, config.CodeToWithoutEmit, "add an `emit` step, or remove `to`",
			"consumer `%s` has `to` but no step emits", cs.Name)
	}
	return out
}

// predicate compiles a `when` expression, which must give a boolean.
func (c *compiler) predicate(v *config.Value) *program {
	if !v.Str {
		if b, ok := v.Const.(bool); ok {
			c.diags.Warnf(v.Pos, config.CodeExprType, "remove `when` to take every item", "`when: %v` is constant", b)
		} else {
			c.diags.Errorf(v.Pos, config.CodeExprType, "write a condition, e.g. when: 'item != \"\"'", "`when` must be a boolean expression, not %s", v.Text.Value)
			return nil
		}
	}
	if HasPlaceholder(v.Text.Value) && strings.HasPrefix(strings.TrimSpace(v.Text.Value), "${") {
		c.diags.Errorf(v.Pos, config.CodeExprSyntax, "`when` is a bare expression: drop the ${ }",
			"`when` takes an expression, not a template")
		return nil
	}
	p := c.compile(v.Text.Value, source{text: v.Text, line: 1, col: 0}, c.consumerEnv())
	if p == nil {
		return nil
	}
	if k := resultKind(p.prog); k != reflect.Bool && k != reflect.Interface {
		c.diags.Errorf(v.Pos, config.CodeExprType, "compare something, e.g. len(item) > 0",
			"`when` must be a boolean expression; this one gives %s", typeName(p.prog))
		return nil
	}
	return p
}

// besideFile resolves a path written in a pipeline file relative to that
// file's directory.
func besideFile(file, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(file), path)
}
