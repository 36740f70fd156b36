// Package sim runs a pipeline on a virtual clock (`pcrun sim`, `pcrun run
// --simulate`): Simulate is pipeline.Run with the simulator's Clock and
// its queue backend, so a simulated run runs the runtime's own producer
// and consumer loops, supervisor and accounting.
//
// The clock is a discrete-event engine. Every worker is a goroutine, but
// only one runs at a time: it holds the baton until it blocks (a delay or
// a sleep: it wakes at now+d; a put into a full queue, a take from an
// empty one, a join: it wakes when another worker changes the queue), then
// hands it back to the scheduler, which resumes the next worker due, in
// order of (virtual time, sequence): the sequence is the order in which
// workers became due, so ties are broken the same way every time. Between
// two workers the scheduler delivers the supervisor's events (timers,
// stalls, failures, signals). Nothing reads the wall clock or starts a
// timer: a pipeline of minutes ends in milliseconds, and two runs of one
// graph print the same bytes (random expressions are seeded when the graph
// is compiled: stages.Options).
//
// The queues are the simulator's own (queue.go): FIFO, with the capacity,
// strategies and deadlock detection of a real run. Since one worker runs
// at a time, the simulator's state needs no lock: the baton's channels
// order every access.
package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// Options configure a simulated run beside pipeline.Options.
type Options struct {
	// Until, when > 0, stops the simulation at that virtual time as a
	// deadline with no grace period would: producers stop, workers are
	// cancelled, what is left is abandoned. A guard against pipelines
	// that never end (a cycle of consumers).
	Until time.Duration
	// Seed seeds the jitter of retry backoffs (the run's only randomness
	// outside the stages' expressions).
	Seed uint64
}

// RefusedError: the graph cannot be simulated, because some of its
// stages act on the world outside pcrun (exit 2).
type RefusedError struct {
	Reasons []string // one per stage or queue, e.g. "consumer sum: exec, write"
}

func (e *RefusedError) Error() string {
	return "cannot simulate: " + strings.Join(e.Reasons, "; ") +
		" (a simulation runs no command, writes no file and reads no input; simulate a copy of the file with `sleep` steps in their place)"
}

// Check reports why g cannot be simulated, by what its parts need: steps
// that act on the world (stages.Action.RealWork: exec, shell, write),
// producers that read records (sources), queues other processes share
// (NATS). It is nil when g can be.
func Check(g *stages.Graph) error {
	var reasons []string
	for _, p := range g.Producers {
		if p.Source != nil {
			reasons = append(reasons, fmt.Sprintf("producer %s reads its items (%s)", p.Name, p.Source.Kind))
		}
	}
	for _, c := range g.Consumers {
		if w := c.RealWork(); len(w) > 0 {
			reasons = append(reasons, fmt.Sprintf("consumer %s has %s step(s)", c.Name, strings.Join(w, ", ")))
		}
	}
	for _, q := range g.Queues {
		if q.Backend == config.NATS {
			reasons = append(reasons, fmt.Sprintf("queue %s is on NATS", q.Name))
		}
	}
	if reasons == nil {
		return nil
	}
	return &RefusedError{Reasons: reasons}
}

// checkOptions refuses what a simulation cannot do with a run's options.
func checkOptions(opts pipeline.Options) error {
	switch {
	case opts.Resume != nil:
		return &RefusedError{Reasons: []string{"resuming from a spill file"}}
	case len(opts.Only) > 0 || opts.Shared:
		return &RefusedError{Reasons: []string{"running some of the stages (--only)"}}
	case opts.Spill != nil:
		return &RefusedError{Reasons: []string{"writing a spill file"}}
	}
	return nil
}

// errUntil stops a simulation at Options.Until.
var errUntil = fmt.Errorf("%w (the simulation's time limit)", pipeline.ErrDeadline)

// Simulate runs g on a virtual clock and returns its result, as
// pipeline.Run does: the same printed lines (in virtual-time order),
// ledger, errors (*DeadlockError, *FailedError, ErrInterrupted) and events
// (with T in virtual time). Result.Elapsed is virtual time. It refuses a
// graph that Check rejects (a *RefusedError, nil result), and Resume,
// Only, Shared and Spill. It blocks until every goroutine it started has
// exited; it never sleeps. The observers' Start is not called (a simulation
// is over before anyone could look). Signals and ctx stop it as they stop a
// real run, at the virtual time they arrive.
func Simulate(ctx context.Context, g *stages.Graph, opts pipeline.Options, so Options) (*observe.Result, error) {
	if err := Check(g); err != nil {
		return nil, err
	}
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	s := newScheduler(so.Until)
	opts.Clock, opts.Backend = s, backend{s}
	opts.Rand = rand.New(rand.NewPCG(so.Seed, 0x9e3779b97f4a7c15))
	watch := make([]observe.Observer, len(opts.Observers))
	for i, o := range opts.Observers {
		watch[i] = noStart{o}
	}
	opts.Observers = watch
	return pipeline.Run(ctx, g, opts)
}

// noStart is an observer of a simulation, which is over before anyone
// could look at its live counters (they read the scheduler's time, which
// only its workers may read while it runs): Start is not passed on.
type noStart struct{ observe.Observer }

func (noStart) Start(observe.Live) {}
