package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/config"
)

// Producer is a compiled producer stage.
type Producer struct {
	Name     string
	Replicas int
	To       string
	Count    int // items per replica; Unlimited: every record of Source
	Pos      config.Pos
	// Source, when not nil, gives the records the items are made from
	// (a source kind such as `lines`); see source.go.
	Source *Source
	item   *Template
	delay  *Duration
	print  *Template
	env    map[string]string
	seed   uint64 // Options.Seed, or the one picked
}

// OnlyItems reports whether the producer does nothing but make items: no
// delay before them, no line printed after them. The runner may then make
// several before putting them into the queue together.
func (p *Producer) OnlyItems() bool {
	d, ok := p.delay.Const()
	return ok && (d == 0 || p.delay.zero) && p.print == nil
}

// Worker returns the state one replica (1-based) needs to make items. A
// worker is used by one goroutine only.
func (p *Producer) Worker(replica int) *ProducerWorker {
	return &ProducerWorker{p: p, env: ProducerEnv{
		Name: p.Name, Replica: replica, Worker: WorkerName(p.Name, replica, p.Replicas),
		Count: p.Count, Env: p.env, rng: NewRand(p.seed, p.Name, replica),
	}}
}

// ProducerWorker makes the items of one producer replica.
type ProducerWorker struct {
	p   *Producer
	m   machine
	env ProducerEnv // passed to the VM as &env: changed in place between items
}

// Name is the worker's name: the stage name, or name-N.
func (w *ProducerWorker) Name() string { return w.env.Worker }

// Delay returns how long to wait before making item i.
func (w *ProducerWorker) Delay(i int) (time.Duration, error) {
	if w.p.delay == nil {
		return 0, nil
	}
	w.env.I, w.env.Item = i, nil
	return w.p.delay.Eval(&w.m, &w.env)
}

// Item makes item i. A source producer without an `item` template
// makes the record itself (see SetRecord).
func (w *ProducerWorker) Item(i int) (any, error) {
	w.env.I, w.env.Item = i, nil
	if w.p.item == nil {
		return w.env.Line, nil
	}
	return w.p.item.Eval(&w.m, &w.env)
}

// Line returns the line to print after item i was put, and false when the
// producer prints nothing.
func (w *ProducerWorker) Line(i int, item any) (string, bool, error) {
	if w.p.print == nil {
		return "", false, nil
	}
	w.env.I, w.env.Item = i, item
	s, err := w.p.print.String(&w.m, &w.env)
	return s, err == nil, err
}

// Consumer is a compiled consumer stage.
type Consumer struct {
	Name     string
	Replicas int
	From     string
	To       string // "" when the stage does not emit
	Emits    bool   // some step emits into To
	Pos      config.Pos
	ToPos    config.Pos
	// OnError says what happens to an item whose steps fail.
	OnError ErrorPolicy
	// DeadLetterPos is where the file names OnError.DeadLetter.
	DeadLetterPos config.Pos
	when          *program
	steps         []Step
	env           map[string]string
	seed          uint64
}

// Effects is what a consumer's steps do to the world. The pipeline package
// implements it for each worker (Exec and Write with package effects);
// tests can record calls. Every method that can block watches ctx.
type Effects interface {
	// Print writes one whole line to the run's output. line is only valid
	// during the call (it is the worker's scratch buffer): keep a copy.
	Print(line []byte) error
	// Emit puts an item into the consumer's `to` queue, blocking while it is full.
	Emit(ctx context.Context, item any) error
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
	// Exec runs a process and waits for it to exit (action_exec.go). A
	// non-zero exit is no error: the result says it. The error is
	// ErrTimedOut or ErrStdoutLimit (wrapped) when it killed the process,
	// ctx's error when ctx ended first (the process was killed), or why
	// the process could not start. Nothing the process started outlives
	// the call.
	Exec(ctx context.Context, cmd *Cmd) (ExecResult, error)
	// Write appends one whole line (a newline is added) to the file at
	// path, one of Graph.WritePaths (action_write.go). line is only valid
	// during the call.
	Write(path string, line []byte) error
}

// WritesDeadLetter reports whether the consumer's dead-letter queue is a
// queue it writes besides the one it emits into: it has one, and it is
// not its `to` while it emits (a stage is one writer of a queue however it
// puts into it).
func (c *Consumer) WritesDeadLetter() bool {
	dl := c.OnError.DeadLetter
	return dl != "" && (!c.Emits || dl != c.To)
}

// Outputs returns the queues the consumer puts items into, each once: the
// `to` it emits into, then its dead-letter queue.
func (c *Consumer) Outputs() []string {
	var out []string
	if c.Emits && c.To != "" {
		out = append(out, c.To)
	}
	if c.WritesDeadLetter() {
		out = append(out, c.OnError.DeadLetter)
	}
	return out
}

// Step is one compiled step of a consumer.
type Step interface {
	// Run performs the step for the worker's current item.
	Run(ctx context.Context, w *ConsumerWorker) error
}

// Worker returns the state one replica (1-based) needs to handle items.
func (c *Consumer) Worker(replica int, fx Effects) *ConsumerWorker {
	return &ConsumerWorker{c: c, fx: fx, env: ConsumerEnv{
		Name: c.Name, Replica: replica, Worker: WorkerName(c.Name, replica, c.Replicas), Env: c.env,
		rng: NewRand(c.seed, c.Name, replica),
	}}
}

// ConsumerWorker handles the items of one consumer replica.
type ConsumerWorker struct {
	c   *Consumer
	fx  Effects
	m   machine
	env ConsumerEnv // passed to the VM as &env: changed in place between items
}

// Name is the worker's name: the stage name, or name-N.
func (w *ConsumerWorker) Name() string { return w.env.Worker }

// Outcome is how a consumer finished an item.
type Outcome int

const (
	// Done: every step ran.
	Done Outcome = iota
	// Filtered: `when` was false, so the item is done without its steps.
	Filtered
)

// StepError is an item that failed in a consumer.
type StepError struct {
	Stage  string
	Worker string
	Item   any
	Err    error
	// Step is the index of the step that failed, or -1 for `when`. A
	// retry resumes there: the steps before it already took effect.
	Step int
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: item %s: %v", e.Worker, Quote(e.Item), e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Handle runs the consumer's `when` and steps on one item. A context error
// means the item was interrupted, not failed; any other error is a
// *StepError.
func (w *ConsumerWorker) Handle(ctx context.Context, item any) (Outcome, error) {
	return w.Retry(ctx, item, 1, -1)
}

// Retry runs attempt number attempt (1-based, visible as `attempt`) of an
// item, starting at step from: -1 starts with `when`, as Handle does; a
// failed attempt's StepError.Step resumes at the step that failed, so the
// steps before it (prints, emits) do not happen twice.
func (w *ConsumerWorker) Retry(ctx context.Context, item any, attempt, from int) (Outcome, error) {
	w.env.Item, w.env.Attempt = item, attempt
	if from < 0 {
		w.env.Result = ExecResult{} // no exec step has run on this item yet
	}
	if from < 0 && w.c.when != nil {
		v, err := w.c.when.run(&w.m.vm, &w.env)
		if err != nil {
			return Done, w.fail(item, -1, err)
		}
		b, ok := v.(bool)
		if !ok {
			return Done, w.fail(item, -1, &RuntimeError{Pos: w.c.when.src.pos(1, 0), Msg: fmt.Sprintf("`when` gave %s, not a boolean", Quote(v))})
		}
		if !b {
			return Filtered, nil
		}
	}
	for i := max(from, 0); i < len(w.c.steps); i++ {
		if err := w.c.steps[i].Run(ctx, w); err != nil {
			if ctx.Err() != nil {
				return Done, ctx.Err()
			}
			return Done, w.fail(item, i, err)
		}
	}
	return Done, nil
}

func (w *ConsumerWorker) fail(item any, step int, err error) error {
	return &StepError{Stage: w.c.Name, Worker: w.env.Worker, Item: item, Err: err, Step: step}
}

// Quote formats an item for messages: strings quoted, the rest as Format
// shows them, cut short when long.
func Quote(v any) string {
	s := Format(v)
	if _, ok := v.(string); ok {
		s = fmt.Sprintf("%q", s)
	}
	if runeLen(s) > 80 {
		s = string([]rune(s)[:77]) + "..."
	}
	return s
}
