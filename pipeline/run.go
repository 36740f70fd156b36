package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ioeffects "github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/internal/lines"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// Options configure a run.
type Options struct {
	// Stdout receives `print` lines, one whole line per write. Nil discards.
	Stdout io.Writer
	// Stderr receives notices: failures as they happen, signals, deadline.
	// Nil discards. The summary is not written here; see package report.
	Stderr io.Writer
	// Signals delivers SIGINT/SIGTERM (or anything else: every value counts
	// as one signal). The first stops the producers and lets the queues
	// drain for up to the grace period; the second cancels at once.
	Signals <-chan os.Signal
	// Spill, when not nil, receives the spill file at the end of the run
	// (JSON lines, see SpillRecord): every abandoned item, and where each
	// producer replica stopped.
	Spill io.Writer
	// Resume, when not nil, continues the run that wrote a spill file: its
	// items are put back into their queues and producers start where they
	// stopped.
	Resume *Resume
	// Only, when not empty, names the stages whose workers this run starts
	// (`pcrun run --only`); the others run in other processes. Check it
	// with CheckOnly first: Run refuses a selection that CheckOnly
	// rejects. See only.go.
	Only []string
	// Shared says that other pcrun processes run stages of this pipeline
	// over its NATS queues: the run then neither resets those queues when
	// it starts (unless Fresh) nor takes the items left in them at its end
	// (they stay on the broker for the others), an item it took but did
	// not finish goes back to the broker, and its result is this process's
	// part of the whole: an item put into a shared NATS queue is counted
	// as handed off (Ledger.HandedOff), and the items taken from one are
	// accounted for in Result.Received. Setting Only implies Shared. A run
	// that is not Shared owns its NATS queues: it purges them and resets
	// the pipeline's keys on the broker when it starts, and at its end
	// counts what is left in them as abandoned (and spills it), as with
	// memory queues. See queue/nats (nats.go and roster.go).
	Shared bool
	// Fresh makes a Shared run start a new run of the pipeline on its
	// brokers, as a run that is not Shared does: it purges the streams of
	// every NATS queue of the pipeline (those this process does not use
	// too) and every key of the pipeline's bucket, and begins a new
	// generation, so nothing an earlier run left is taken or counted. Of
	// the processes of one multi-process run, the first to start says it
	// (`--fresh`); one that started before it joins the new generation if
	// it has done nothing yet, and otherwise stops (queue/nats/roster.go).
	Fresh bool
	// RunID names one run of the pipeline among others on the same
	// brokers (`--run-id`): its NATS streams, subjects and keys carry it,
	// so two runs with different ids never touch each other's items. ""
	// is the pipeline's default run.
	RunID string
	// ResumeRun continues the brokers' current run after a process of it
	// died (`--resume-run`): the run is joined even if it has ended, and
	// producers of this process take over those of a dead process, each
	// replica starting where that one's record on the broker says it got
	// (see queue/nats/resume.go).
	ResumeRun bool
	// Observers watch the run (observe.Observer): its start with live
	// counters (progress bars, metrics), its events (`--events`, the
	// timeline), every item put (`pcrun test`), its result. An observer
	// that wants no events and no puts costs the run nothing per item.
	Observers []observe.Observer
	// Log receives the run's notices: failures, retries, skipped and
	// dead-lettered items, stops and signals (warn and error), and the
	// life of workers and queues (debug). Nil: a LogHandler on Stderr at
	// level info, the lines pcrun has always written.
	Log *slog.Logger
	// Stdin is what producers with `lines: -` or `jsonl: -` read; nil
	// reads nothing (an empty input). `pcrun run` (internal/cli) passes
	// os.Stdin. A stop ends a read that waits on an *os.File
	// (effects/stdin.go).
	Stdin io.Reader
	// Clock is the time the run runs on; nil: wall time, the workers as
	// goroutines (see Clock). A Clock serves one run.
	Clock Clock
	// Backend, when not nil, holds every queue of the run, whatever
	// backend the file names (a simulation's queues).
	Backend queue.Backend
	// Rand draws the jitter of retry backoffs; nil: the global source.
	Rand *rand.Rand
}

// Errors Run returns; the CLI (internal/cli, with internal/exitcode)
// maps them to exit codes.
var (
	// ErrInterrupted: a signal stopped the run (exit 130).
	ErrInterrupted = errors.New("interrupted by a signal")
	// ErrDeadline: the deadline stopped the producers; wrapped by a
	// clock's own limit (Supervisor.Expire).
	ErrDeadline = errors.New("deadline reached")
	errFailure  = errors.New("an item failed")
	errFinished = errors.New("finished")
)

// FailedError: the run ended with items failed or abandoned (exit 1).
type FailedError struct {
	Failed, Abandoned int64
	First             string // the first failure, if any
}

func (e *FailedError) Error() string {
	switch {
	case e.Failed > 0 && e.First != "":
		return fmt.Sprintf("%d item(s) failed, %d abandoned; first failure: %s", e.Failed, e.Abandoned, e.First)
	case e.Failed > 0:
		return fmt.Sprintf("%d item(s) failed, %d abandoned", e.Failed, e.Abandoned)
	}
	return fmt.Sprintf("%d item(s) abandoned: produced but never consumed", e.Abandoned)
}

// ResumeError: the spill file to resume from does not fit the graph.
type ResumeError struct{ Err error }

func (e *ResumeError) Error() string { return e.Err.Error() }
func (e *ResumeError) Unwrap() error { return e.Err }

// run is one execution of a graph.
type run struct {
	g     *stages.Graph
	opts  Options
	out   *lines.Writer
	clock Clock
	watch observe.Observers // Options.Observers
	obs   observe.Observer  // those that want events; nil: none
	puts  observe.Observers // those that want puts; nil: none
	sets  []queue.Set       // the run's queues, by backend (queues.go)
	// trackers are the sets that see every wait, and report a stall;
	// every worker enters them.
	trackers []queue.Tracker
	queues   map[string]queue.Queue
	specs    map[string]*queue.Spec
	stats    []*counters // producers, then consumers, in file order, then replay
	qstats   map[string]*queueCounters
	spill    *spill           // nil without Options.Spill
	files    *ioeffects.Files // the files of write steps (write.go)
	writeErr error            // the first failure to flush or sync those files
	ids      atomic.Uint64

	hard, soft           context.Context
	hardCancel, softStop context.CancelCauseFunc
	received             map[string]*counters // shared queues: the items taken from them here
	aborted              chan error           // capacity 1: the run cannot go on (abortRun)
	producersLeft        atomic.Int64
	failMu               sync.Mutex
	failures             []string
	sup                  *supervisor        // how the run stops (supervise.go)
	sources              []ioeffects.Reader // by producer; nil for template producers (source.go)
	jitter               func() float64     // a retry backoff's jitter (Options.Rand)
	posMu                sync.Mutex
	positions            []position // the producer replicas started (whole.go)
}

// Run runs the graph to its end and returns its result; it blocks until
// every goroutine it started has exited. The error is nil on success, a
// *DeadlockError, ErrInterrupted, a *FailedError, or ctx's cause; or,
// when another process reset the shared NATS queues under it, an error
// saying so. The result is nil when nothing ran: a *ResumeError, an
// *OutputError (a write step's file cannot be opened), a config.Diagnostic (a selection of stages CheckOnly rejects), a *LateWriterError (its writers registered after a
// NATS queue ended), or a broker that could not be reached.
func Run(ctx context.Context, g *stages.Graph, opts Options) (*observe.Result, error) {
	opts = withDefaults(opts)
	opts.Stderr = lines.NewLocked(opts.Stderr) // workers and the supervisor both write notices
	if opts.Log == nil {
		opts.Log = slog.New(NewLogHandler(opts.Stderr, slog.LevelInfo))
	}
	if err := checkRun(g, opts); err != nil {
		return nil, err
	}
	r := &run{
		g: g, opts: opts, out: lines.New(opts.Stdout), watch: opts.Observers, clock: opts.Clock, jitter: rand.Float64,
		queues: map[string]queue.Queue{}, specs: map[string]*queue.Spec{}, qstats: map[string]*queueCounters{},
		received: map[string]*counters{}, aborted: make(chan error, 1),
	}
	if r.clock == nil {
		r.clock = newRealClock()
	}
	r.sup = &supervisor{r: r}
	if evs := r.watch.Only(observe.WantEvents); evs != nil {
		r.obs = evs
	}
	r.puts = r.watch.Only(observe.WantPuts)
	if opts.Rand != nil {
		r.jitter = opts.Rand.Float64
	}
	if opts.Spill != nil {
		r.spill = &spill{}
	}
	if err := r.openSources(); err != nil { // source.go
		return nil, err
	}
	defer r.closeSources()
	r.hard, r.hardCancel = context.WithCancelCause(ctx)
	r.soft, r.softStop = context.WithCancelCause(r.hard)
	defer r.hardCancel(errFinished)
	defer r.closeQueues()
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	stop, deadlock := r.execute(ctx)
	return r.end(r.clock.Since(), stop, deadlock)
}

// withDefaults fills in the writers Options may leave nil.
func withDefaults(opts Options) Options {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	return opts
}

// checkRun refuses what cannot run: a spill file that does not fit the
// graph, a selection of stages that cuts a memory queue, or both.
func checkRun(g *stages.Graph, opts Options) error {
	if err := checkResume(g, opts.Resume); err != nil {
		return &ResumeError{err}
	}
	if errs := CheckOnly(g, opts.Only); errs != nil {
		return errs[0]
	}
	if len(opts.Only) > 0 && opts.Resume != nil {
		return errors.New("resuming a run of some of the stages (--only) is not supported")
	}
	return nil
}

// open opens the run's queues and the files its write steps write.
func (r *run) open(ctx context.Context) error {
	for range len(r.g.Producers) + len(r.g.Consumers) + 1 {
		r.stats = append(r.stats, new(counters)) // before the queues: a backend may read them (queue.Env.Part)
	}
	if err := r.openQueues(ctx); err != nil { // queues.go
		return err
	}
	files, err := openWrites(r.g.WritePaths()) // write.go
	if err != nil {
		return err
	}
	r.files = files
	return nil
}

// execute starts the workers and supervises them until every one has
// exited; then it writes the last buffered lines and closes the files.
func (r *run) execute(ctx context.Context) (stop error, deadlock *DeadlockError) {
	start := r.clock.Begin()
	r.event(observe.Event{Kind: observe.EventRun, Stage: r.g.Name, Msg: start.Format(time.RFC3339Nano), Depth: -1})
	if r.obs != nil {
		r.queueEvents()
	}
	r.watch.Start(&live{r: r})
	r.startWorkers()
	stop, deadlock = r.supervise(ctx)
	if err := r.out.Close(); err != nil { // the last buffered lines: internal/lines
		r.opts.Log.Error(fmt.Sprintf("writing stdout: %v", err), "err", err)
	}
	r.writeErr = r.files.Close() // flushed and synced: effects/write.go
	return stop, deadlock
}

// end collects the result of a run that took elapsed, checks its ledger,
// writes the spill file, and returns the run's error.
func (r *run) end(elapsed time.Duration, stop error, deadlock *DeadlockError) (*observe.Result, error) {
	res := r.result(elapsed, stop)
	defer r.watch.End(res)
	err := r.settle(res, stop, deadlock)
	state := stateOf(err)
	if err == nil {
		if err = r.broken(); err != nil {
			state = "cut" // a writer elsewhere was lost: see queue.Failing
		}
	}
	r.record(res, state)
	if err == nil {
		err = cutShort(res.Run)
	}
	return res, err
}

// settle checks the ledger of a run that ended with res, writes the spill
// file, and returns the run's error.
func (r *run) settle(res *observe.Result, stop error, deadlock *DeadlockError) error {
	r.event(observe.Event{Kind: observe.EventEnd, Stage: r.g.Name, Msg: res.Total.Format(res.Shared), Depth: -1})
	if err := res.Balanced(); err != nil {
		r.opts.Log.Error(err.Error())
		return err
	}
	if r.writeErr != nil { // lines of done items may be lost: as a spill file that could not be written
		r.opts.Log.Error(r.writeErr.Error())
		return r.writeErr
	}
	if r.opts.Spill != nil {
		n, err := r.spill.write(r.opts.Spill)
		res.Spilled = n
		if err != nil {
			return fmt.Errorf("writing the spill file: %w", err)
		}
	}
	return outcome(res, stop, deadlock)
}

// startWorkers registers every worker with the queues' trackers, then
// starts them. Registering first means no worker can see the others as
// stalled before they have started.
func (r *run) startWorkers() {
	producers, consumers := 0, 0
	for _, p := range r.g.Producers {
		if r.selected(p.Name) {
			producers += p.Replicas
		}
	}
	replay := r.replayQueues()
	if len(replay) > 0 {
		producers++
	}
	r.producersLeft.Store(int64(producers))
	for _, c := range r.g.Consumers {
		if r.selected(c.Name) {
			consumers += c.Replicas
		}
	}
	var unwritten []string // queues with no writer here, not even a replay
	for _, q := range r.g.Queues {
		if r.uses(q) && r.specs[q.Name].LocalWriters() == 0 {
			unwritten = append(unwritten, q.Name)
		}
	}
	for range producers + consumers + len(unwritten) {
		r.enter()
	}
	if len(replay) > 0 {
		r.clock.Go(func() { r.replay(len(r.stats)-1, replay) })
	}
	for _, q := range unwritten {
		r.clock.Go(func() { r.endUnwritten(q) })
	}
	r.startStages()
}

// endUnwritten ends a queue that nothing in this run writes to, as a
// worker of its own (ending under sentinel puts markers, which may wait).
func (r *run) endUnwritten(q string) {
	ctx := queue.WithWorker(r.hard, &queue.Worker{Name: "pcrun", Kind: queue.Supervisor})
	defer r.leave()
	r.writerDone(ctx, q, "") // the queue ends at once: nothing will put into it here
}

// startStages starts the replicas of the selected stages, producers
// first, in file order.
func (r *run) startStages() {
	for i, p := range r.g.Producers {
		if !r.selected(p.Name) {
			continue // runs in another process (--only)
		}
		for replica := 1; replica <= p.Replicas; replica++ {
			r.clock.Go(func() { r.producer(p, replica, i) })
		}
	}
	for j, c := range r.g.Consumers {
		if !r.selected(c.Name) {
			continue
		}
		row := len(r.g.Producers) + j
		for replica := 1; replica <= c.Replicas; replica++ {
			r.clock.Go(func() { r.consumer(c, replica, row) })
		}
	}
}

// enter and leave register a worker with every tracker of the run's
// queues as it starts, and unregister it as it exits.
func (r *run) enter() {
	for _, t := range r.trackers {
		t.Enter()
	}
}

func (r *run) leave() {
	for _, t := range r.trackers {
		t.Leave()
	}
}

// stalls delivers the stalls of the run's tracker; nil (never ready)
// without one. A run has one tracker at most: its memory queues share one.
func (r *run) stalls() <-chan queue.Stall {
	if len(r.trackers) == 0 {
		return nil
	}
	return r.trackers[0].Stalls()
}

// fail records a failure and asks the supervisor to stop producing.
func (r *run) fail(msg string) {
	r.failMu.Lock()
	r.failures = append(r.failures, msg)
	r.failMu.Unlock()
	r.opts.Log.Error(msg)
	r.clock.Post(r.sup.failure)
}

// replayQueues lists, in graph order, the queues a resumed run puts
// spilled items back into.
func (r *run) replayQueues() []string {
	if r.opts.Resume == nil {
		return nil
	}
	var out []string
	for _, q := range r.g.Queues {
		for _, it := range r.opts.Resume.Items {
			if it.Queue == q.Name {
				out = append(out, q.Name)
				break
			}
		}
	}
	return out
}

// checkResume rejects a spill file that does not fit the graph.
func checkResume(g *stages.Graph, res *Resume) error {
	if res == nil {
		return nil
	}
	for _, it := range res.Items {
		if g.Queue(it.Queue) == nil {
			return fmt.Errorf("the spill file puts items into queue %q, which the pipeline does not have", it.Queue)
		}
	}
	for stage, replicas := range res.Next {
		var p *stages.Producer
		for _, x := range g.Producers {
			if x.Name == stage {
				p = x
			}
		}
		if p == nil {
			return fmt.Errorf("the spill file resumes producer %q, which the pipeline does not have", stage)
		}
		for replica := range replicas {
			if replica > p.Replicas {
				return fmt.Errorf("the spill file resumes replica %d of producer %q, which has %d", replica, stage, p.Replicas)
			}
		}
	}
	return nil
}

// spillItem records an abandoned item for the spill file.
func (r *run) spillItem(queue string, origin int, id uint64, v any) {
	if r.spill == nil {
		return
	}
	r.spill.add(SpillRecord{Kind: "item", Queue: queue, Origin: r.stageName(origin), ID: id, Reason: r.reason(), Item: v})
}
