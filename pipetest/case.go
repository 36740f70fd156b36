package pipetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pcrun/pcrun/sim"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// This file runs one case; compare.go compares what came out with what
// the case expects, and report.go writes the results.

// caseResult is the outcome of one case.
type caseResult struct {
	test     *config.Test
	elapsed  time.Duration
	problems []problem // none: the case passed
	// interrupted: the run was cut short from outside (a signal to
	// `pcrun test`), so the case neither passed nor failed.
	interrupted bool
}

func (r *caseResult) passed() bool { return len(r.problems) == 0 && !r.interrupted }

// problem is one way a case failed: a one-line summary and optional
// detail lines (a diff, the run's notices).
type problem struct {
	pos     config.Pos // the expectation in the file; zero: the case
	summary string
	detail  []string
}

// errCaseTimeout is the cause of a case's context when `timeout` ran out.
var errCaseTimeout = errors.New("test case timed out")

// caseOutput is what one run of a case produced. Its methods are safe for
// concurrent use: its put and the writers are called from the run's workers.
type caseOutput struct {
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	puts   map[string][]any
}

func (o *caseOutput) put(queue string, v any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.puts[queue] = append(o.puts[queue], v)
}

type lockedBuilder struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedBuilder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// runCase runs test t of pl and compares its results with t.Expect. A
// pipeline that does nothing outside pcrun is simulated (pipeline.Simulate):
// delays, sleeps and deadlines take their time on a virtual clock, so a
// case is exact and instant; one with sources or steps that run commands
// or write files runs for real, without delays. It blocks until the run has
// ended: at most t.Timeout of real time, or until ctx ends (then the
// result is interrupted). environ is what expressions see as `env` (nil:
// the process environment).
func runCase(ctx context.Context, pl *config.Pipeline, t *config.Test, environ []string) *caseResult {
	r := &caseResult{test: t}
	g, simulated, p := compileCase(pl, t, environ)
	if p != nil {
		r.problems = append(r.problems, *p)
		return r
	}
	caseCtx, cancel := context.WithTimeoutCause(ctx, t.Timeout, errCaseTimeout)
	defer cancel()
	start := time.Now()
	out, res, err := execCase(caseCtx, g, t, simulated)
	r.elapsed = time.Since(start)
	switch {
	case ctx.Err() != nil:
		r.interrupted = true
	case errors.Is(context.Cause(caseCtx), errCaseTimeout):
		r.problems = append(r.problems, problem{
			summary: fmt.Sprintf("timed out after %s (a case may set `timeout:`)", t.Timeout),
			detail:  tail(lines(out.stderr.String()), 20),
		})
	default:
		r.problems = append(r.problems, compareCase(t.Expect, out, res, err)...)
	}
	return r
}

// compileCase compiles pl with the overrides of case t and says whether
// the case is simulated: it is when the pipeline does nothing outside
// pcrun; otherwise it is compiled again without delays, to run for real.
// A pipeline that does not compile with the overrides is the case's
// problem.
func compileCase(pl *config.Pipeline, t *config.Test, environ []string) (g *stages.Graph, simulated bool, p *problem) {
	opts := stages.Options{Environ: environ, Seed: caseSeed}
	g, ds := stages.Compile(pl.WithTest(t), opts)
	simulated = g != nil && sim.Check(g) == nil
	if g != nil && !simulated {
		opts.NoDelays = true
		g, ds = stages.Compile(pl.WithTest(t), opts)
	}
	if g != nil {
		return g, simulated, nil
	}
	p = &problem{summary: "the pipeline does not compile with this case's overrides:"}
	for _, d := range ds {
		if d.Severity == config.Error {
			p.detail = append(p.detail, strings.Split(d.String(), "\n")...)
		}
	}
	return nil, false, p
}

// execCase runs g for case t, on the virtual clock when simulated, and
// returns what it printed and put with the run's result and error.
func execCase(ctx context.Context, g *stages.Graph, t *config.Test, simulated bool) (*caseOutput, *observe.Result, error) {
	out := &caseOutput{puts: map[string][]any{}}
	opts := pipeline.Options{
		Stdout: lockedBuilder{&out.mu, &out.stdout},
		Stderr: lockedBuilder{&out.mu, &out.stderr},
		Stdin:  strings.NewReader(t.Stdin),

		Observers: []observe.Observer{observe.Funcs{OnPut: out.put}},
	}
	if simulated {
		res, err := sim.Simulate(ctx, g, opts, sim.Options{Seed: caseSeed})
		return out, res, err
	}
	res, err := pipeline.Run(ctx, g, opts)
	return out, res, err
}

// caseSeed seeds the random expressions of every case, so a case's
// random delays are the same in every run of `pcrun test`.
const caseSeed = 1
