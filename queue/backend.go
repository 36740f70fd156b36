package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/stages"
)

// QueueStats is observe.QueueStats: a queue's counters.
type QueueStats = observe.QueueStats

// Backend opens the queues of a run that live on it (`backend:` in the
// pipeline file). A backend registers itself (Register) from the init of
// its package; a binary links the backends it ships by importing them.
type Backend interface {
	// Open opens the queues of one run on this backend, in graph order.
	// It may block (connecting to a broker) and watches ctx.
	Open(ctx context.Context, env *Env, specs []*Spec) (Set, error)
}

// Set is the queues of one run on one backend. The runtime calls Start
// once every Set of the run is open, then runs the workers, then Close.
type Set interface {
	// Queues returns the set's queues, in the order of the specs.
	Queues() []Queue
	// Start readies the queues before any worker runs (a broker's run
	// of several processes registers this one here).
	Start(ctx context.Context) error
	// Idle reports whether every queue of the set has no unfinished
	// item, and no writer left anywhere that could put one: the end of
	// a run under the join strategy. It may ask a broker (bounded by ctx).
	Idle(ctx context.Context) bool
	// Close stops what the set runs and releases its connections; the
	// run calls it once, after Drain.
	Close()
}

// Tracker is a Set that sees every wait of the run's workers on its
// queues, under one lock with the queues' state, and so can tell when no
// live worker can ever make progress (a deadlock, or the end of a join
// run). Every worker of the run enters it before it starts and leaves it
// when it exits.
type Tracker interface {
	Enter()
	Leave()
	// Stalls delivers a Stall each time no live worker can make
	// progress (at most one pending).
	Stalls() <-chan Stall
}

// Spec is one queue to open: its spec in the graph and the writers and
// readers this process runs.
type Spec struct {
	*stages.Queue
	// Writers and Readers map the stages of this process that put into
	// the queue, or take from it, to their replicas ("replay" is the
	// writer that puts a spill file's items back).
	Writers, Readers map[string]int
}

// LocalWriters is the number of writer replicas of the queue in this
// process.
func (s *Spec) LocalWriters() int {
	n := 0
	for _, r := range s.Writers {
		n += r
	}
	return n
}

// Env is what a backend knows of the run its queues serve.
type Env struct {
	Pipeline string
	Graph    *stages.Graph
	Strategy config.Strategy
	// Shared: other processes run stages of the pipeline over its
	// queues; Fresh: this process starts a new run of it anyway (see
	// pipeline.Options).
	Shared, Fresh bool
	// RunID names the run among others of the pipeline on the same
	// brokers ("" the default run); see pipeline.Options.
	RunID string
	// ResumeRun: join the brokers' current run even if it has ended, and
	// take over a dead process that ran this process's producers
	// (`--resume-run`); see pipeline.Options.
	ResumeRun bool
	// Stages names the ledger rows (Item.Origin) by their stage; Local
	// names the stages whose workers run in this process.
	Stages, Local []string
	// Observe receives the queues' events (puts, takes, waits, closes),
	// nil when nothing observes the run; Since is the time since the
	// run started, for them and for the waits of items.
	Observe func(observe.Event)
	Since   func() time.Duration
	Log     *slog.Logger
	// Abort stops the run at once: its queues cannot go on.
	Abort func(error)
	// Part reads this process's part of the run so far (see
	// observe.Part), for a backend that records it where the run's other
	// processes read it; safe to call from any goroutine once the set has
	// started. Nil when the run does not say.
	Part func() observe.Part
}

// Recorder is a Set that records each process's part of a run spread over
// several processes, where the others read it (NATS: the run's key-value
// bucket). Finish records this process's last part and how it ended
// (state: finished, failed, interrupted or deadlocked; cut when it ended
// well but a writer elsewhere was lost, see Failing) and returns the
// whole run as far as its processes recorded it, nil if it cannot tell.
type Recorder interface {
	Finish(part observe.Part, state string) *observe.Whole
}

// Resumer is a Set that can say where the producer replicas of a run that
// resumes another (Env.ResumeRun) start: the index of the first item each
// makes, by stage and replica; nil when it resumes nothing. Called once,
// after Start.
type Resumer interface {
	Positions() map[string]map[int]int
}

// Failing is a Set that can find a run broken beyond this process: a
// writer of a shared queue lost with its process, so the items it had not
// put yet are missing. Err says so once the set has found out; nil until
// then. The run ends normally (its readers drain what was put), and fails.
type Failing interface {
	Err() error
}

// Event sends e to the observer, if any, stamped with the run's time.
func (env *Env) Event(e observe.Event) {
	if env.Observe != nil {
		e.T = env.Since()
		env.Observe(e)
	}
}

// Row is the ledger row of stage (for an item that crossed processes);
// the last row, the replay's, for a name the file does not have.
func (env *Env) Row(stage string) int {
	if i := slices.Index(env.Stages, stage); i >= 0 {
		return i
	}
	return len(env.Stages) - 1
}

var (
	regMu    sync.Mutex
	backends = map[config.Backend]Backend{}
)

// Register makes a backend available under its name in pipeline files.
// It panics when the name is taken: two backends claiming one name is a
// bug in the binary.
func Register(name config.Backend, b Backend) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := backends[name]; dup {
		panic(fmt.Sprintf("queue: backend %q registered twice", name))
	}
	backends[name] = b
}

// Lookup returns the backend registered under name.
func Lookup(name config.Backend) (Backend, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	b, ok := backends[name]
	return b, ok
}

// Backends lists the registered backends' names, sorted.
func Backends() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var names []string
	for n := range backends {
		names = append(names, string(n))
	}
	sort.Strings(names)
	return names
}
