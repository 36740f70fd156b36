package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/lines"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// A simulated run (`pcrun run --simulate`, `pcrun sim`) drives the same
// compiled stages as Run, on a virtual clock: a discrete-event engine.
//
// Every worker is a goroutine, but only one runs at a time: it holds the
// baton until it blocks (a delay or sleep: it wakes at now+d; a put into a
// full queue, a take from an empty one, a join: it wakes when another
// worker changes the queue), then hands it back to the scheduler, which
// resumes the next worker due, in order of (virtual time, sequence): the
// sequence is the order in which workers became due, so ties are broken
// the same way every time. Nothing reads the wall clock or starts a
// timer: a pipeline of minutes ends in milliseconds, and two runs of one
// graph print the same bytes (random expressions are seeded when the
// graph is compiled: stages.Options).
//
// The queues are the simulator's own (simQueue): FIFO, with the capacity,
// strategies, deadlines and deadlock detection of a real run. Since one
// worker runs at a time, the simulator's state needs no lock: the baton's
// channels order every access.

// SimOptions configure a simulated run beside Options.
type SimOptions struct {
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

// CheckSimulate reports why g cannot be simulated: consumers with steps
// that do real work (exec, shell, write), producers that read records
// (lines, jsonl, command), NATS queues. It is nil when g can be.
func CheckSimulate(g *stages.Graph) error {
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

// errUntil stops a simulation at SimOptions.Until.
var errUntil = fmt.Errorf("%w (the simulation's time limit)", errDeadline)

// sim is one simulated run.
type sim struct {
	r      *run
	so     SimOptions
	now    time.Duration
	seq    uint64
	h      simHeap
	procs  []*proc
	alive  int // procs not exited
	busy   int // alive procs not waiting on a queue (running, due or sleeping)
	yield  chan struct{}
	wg     sync.WaitGroup
	queues []*simQueue // in graph order
	byName map[string]*simQueue
	out    *bufio.Writer
	outErr error
	rng    *rand.Rand

	stop          error // why producers stopped early; nil if they did not
	deadlock      *DeadlockError
	producersLeft int
}

// Simulate runs g on a virtual clock and returns its result, as Run does:
// the same printed lines (in virtual-time order), ledger, errors
// (*DeadlockError, *FailedError, ErrInterrupted) and events (with T in
// virtual time). Result.Elapsed is virtual time. It refuses a graph that
// CheckSimulate rejects (a *RefusedError, nil result), and Resume, Only,
// Shared and Spill. It blocks until every goroutine it started has
// exited; it never sleeps. Options.OnStart is not called (a simulation
// is over before anyone could look). Signals and ctx stop it as they stop
// a real run, at the virtual time they arrive.
func Simulate(ctx context.Context, g *stages.Graph, opts Options, so SimOptions) (*observe.Result, error) {
	if err := CheckSimulate(g); err != nil {
		return nil, err
	}
	switch {
	case opts.Resume != nil:
		return nil, &RefusedError{Reasons: []string{"resuming from a spill file"}}
	case len(opts.Only) > 0 || opts.Shared:
		return nil, &RefusedError{Reasons: []string{"running some of the stages (--only)"}}
	case opts.Spill != nil:
		return nil, &RefusedError{Reasons: []string{"writing a spill file"}}
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Log == nil {
		opts.Log = slog.New(NewLogHandler(opts.Stderr, slog.LevelInfo))
	}
	r := &run{g: g, opts: opts, obs: opts.Observer, queues: map[string]queue.Queue{}, specs: map[string]*queue.Spec{},
		qstats: map[string]*queueCounters{}, received: map[string]*counters{}}
	s := &sim{r: r, so: so, yield: make(chan struct{}), byName: map[string]*simQueue{},
		out: bufio.NewWriterSize(opts.Stdout, 64<<10), rng: rand.New(rand.NewPCG(so.Seed, 0x9e3779b97f4a7c15))}
	// The run's own code does the work (produceOne, handle, giveUp,
	// effects), on the virtual clock and the simulated queues.
	r.clock.virt = &s.now
	r.pause, r.jitter = s.sleep, s.rng.Float64
	r.onFail = func() { s.begin(errFailure, "a stage failed") }
	r.out = lines.New(simOut{s})
	for _, q := range g.Queues {
		if !r.uses(q) {
			continue
		}
		capacity := q.Capacity
		if q.Unbounded {
			capacity = 0
		}
		sq := newSimQueue(s, q.Name, capacity, q.WriterReplicas, q.ReaderReplicas)
		s.queues = append(s.queues, sq)
		s.byName[q.Name], r.queues[q.Name] = sq, sq
		r.qstats[q.Name] = new(queueCounters)
	}
	for range len(g.Producers) + len(g.Consumers) + 1 {
		r.stats = append(r.stats, new(counters))
	}
	r.hard, r.hardCancel = context.WithCancelCause(ctx)
	r.soft, r.softStop = context.WithCancelCause(r.hard)
	defer r.hardCancel(errFinished)

	s.r.event(observe.Event{Kind: observe.EventRun, Stage: g.Name, Msg: time.Unix(0, 0).UTC().Format(time.RFC3339Nano), Depth: -1})
	for _, q := range s.queues {
		s.r.event(observe.Event{Kind: observe.EventQueue, Queue: q.name, Capacity: q.capacity, Depth: -1})
	}
	s.start()
	if g.Deadline > 0 {
		s.timer(g.Deadline, supDeadline)
	}
	if so.Until > 0 {
		s.timer(so.Until, supUntil)
	}
	s.loop(ctx)
	s.wg.Wait()
	if err := s.out.Flush(); err != nil && s.outErr == nil {
		s.outErr = err
	}
	if s.outErr != nil {
		opts.Log.Error(fmt.Sprintf("writing stdout: %v", s.outErr), "err", s.outErr)
	}
	for _, q := range s.queues { // what is left was never consumed
		qc := r.qstats[q.name]
		for _, it := range q.Drain() {
			r.stats[it.Origin].abandoned.Add(1)
			qc.abandoned.Add(1)
			s.r.event(observe.Event{Kind: observe.EventAbandoned, Queue: q.name, Item: it.ID, Depth: -1})
		}
	}
	res := r.result(s.now, s.stop)
	s.r.event(observe.Event{Kind: observe.EventEnd, Stage: g.Name, Msg: res.Total.Format(false), Depth: -1})
	if err := res.Balanced(); err != nil {
		opts.Log.Error(err.Error())
		return res, err
	}
	return res, outcome(res, s.stop, s.deadlock)
}

// start makes every worker due at time 0, in the order Run starts them.
func (s *sim) start() {
	g, r := s.r.g, s.r
	for _, q := range g.Queues {
		if s.byName[q.Name] != nil && q.WriterReplicas == 0 {
			s.spawn(&worker{Worker: queue.Worker{Name: "pcrun", Kind: queue.Supervisor}}, func(p *proc) {
				r.writerDone(s.ctx(r.hard, p), q.Name, "")
			})
		}
	}
	for i, p := range g.Producers {
		s.producersLeft += p.Replicas
		for replica := 1; replica <= p.Replicas; replica++ {
			s.spawn(newWorker(p.Worker(replica).Name(), p.Name, queue.Producer, r.stats[i]),
				func(pr *proc) { s.producer(pr, p, replica, i) })
		}
	}
	for j, c := range g.Consumers {
		row := len(g.Producers) + j
		for replica := 1; replica <= c.Replicas; replica++ {
			s.spawn(newWorker(stages.WorkerName(c.Name, replica, c.Replicas), c.Name, queue.Consumer, r.stats[row]),
				func(pr *proc) { s.consumer(pr, c, replica, row) })
		}
	}
}

// ctx is a worker's context: parent, carrying the worker (events) and
// the proc (blocking calls).
func (s *sim) ctx(parent context.Context, p *proc) context.Context {
	return context.WithValue(p.w.in(parent), simKey{}, p)
}

type simKey struct{}

func procOf(ctx context.Context) *proc {
	p, _ := ctx.Value(simKey{}).(*proc)
	if p == nil {
		panic("pcrun bug: a simulated blocking call outside a simulated worker")
	}
	return p
}

// simOut writes the run's printed lines (whole, with their newline) to
// the simulation's output, in the order of virtual time.
type simOut struct{ s *sim }

func (o simOut) Write(line []byte) (int, error) {
	if o.s.outErr != nil {
		return 0, o.s.outErr
	}
	n, err := o.s.out.Write(line)
	if err != nil {
		o.s.outErr = err
	}
	return n, err
}
