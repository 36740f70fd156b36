package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	natsq "github.com/pcrun/pcrun/queue/nats"
	"github.com/pcrun/pcrun/report"
	"github.com/pcrun/pcrun/stages"
)

// runCommand is `pcrun run FILE`, also what `pcrun FILE` does.
func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name: "run", Usage: "run a pipeline file", ArgsUsage: "FILE",
		Flags: runFlags(), Action: func(c *cli.Context) error { return runAction(c, e) }, OnUsageError: onUsageError,
	}
}

// runFlags are the flags of run, sim and of pcrun itself.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "set", Usage: "override a var: `NAME=VALUE` (repeatable)"},
		seedFlag, // seed.go
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print the end-of-run summary"},
		&cli.StringFlag{Name: "summary", Value: "text", Usage: "end-of-run summary on stderr as `FORMAT`: text or json"},
		&cli.StringFlag{Name: "spill", Usage: "write every abandoned item, and where each producer stopped, to `FILE` (JSON lines; overrides shutdown.spill)"},
		&cli.StringFlag{Name: "resume", Usage: "continue an interrupted run from its spill `FILE`: put its items back, start producers where they stopped"},
		&cli.StringSliceFlag{Name: "only", Usage: "run the workers of these `STAGES` only (comma-separated, repeatable); the others run in other processes, connected by queues with backend: nats"},
		&cli.StringFlag{Name: "run-id", EnvVars: []string{"PCRUN_RUN_ID"}, Usage: "name this run of the pipeline (`ID`: letters, digits, - and _): every process of one multi-process run gives the same id, and runs with different ids share brokers without touching each other's items (default: the pipeline's one run)"},
		&cli.BoolFlag{Name: "resume-run", Usage: "continue the run on the NATS brokers after a process of it died: join it even if it has ended, and take over the dead process's producers from where its record on the broker says they got (give it to every process restarted)"},
		&cli.BoolFlag{Name: "fresh", Usage: "start a new multi-process run: purge the pipeline's NATS streams and its keys on the broker first (the first process of the run says it; a run of every stage always does)"},
		&cli.StringFlag{Name: "progress", Value: "auto", Usage: "live progress bars on stderr: `MODE` auto (on a terminal, not under CI, not with --quiet), always or never"},
		&cli.StringFlag{Name: "events", Usage: "write the run's events to `FILE` as JSON lines (- for stderr; see docs/events.md)"},
		&cli.StringFlag{Name: "timeline", Usage: "draw the run to `FILE`.svg or FILE.html: a row per worker (busy, idle, blocked) and queue depths over time"},
		&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics at http://`HOST:PORT`/metrics (and /healthz) while the run goes on"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log messages at `LEVEL` and above: debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log `FORMAT`: text (pcrun: lines) or json (one JSON object per line)"},
		&cli.BoolFlag{Name: "simulate", Usage: "run on a virtual clock (as `pcrun sim`): delays and sleeps take no time, the same lines in virtual-time order; refused for steps that run commands or write files (docs/simulation.md)"},
		&cli.DurationFlag{Name: "until", Usage: "with --simulate: stop the simulation after `DURATION` of virtual time, as a deadline with no grace would"},
	}
}

// runAction loads, compiles and runs one pipeline file. Every problem
// with the flags or the file is found before anything runs (exit 2); then
// the run's outcome is the exit code (exitcode.Of).
func runAction(c *cli.Context, e *env) error {
	file, err := runFile(c)
	if err != nil {
		return err
	}
	g, err := compileChecked(c, file, compileOptions(c), "nothing was run") // seed.go
	if err != nil {
		return err
	}
	if err := checkSimulate(c, g, file); err != nil { // sim.go
		return err
	}
	opts, spill, err := runOptions(c, g, e.signals)
	if err != nil {
		return err
	}
	if spill != nil {
		defer spill.abort() // unless keep put it in place
	}
	w, err := watchRun(c, g, &opts)
	if err != nil {
		return err
	}
	res, err := execute(c, g, opts, w)
	if res == nil {
		return notRun(c, file, err)
	}
	if spill != nil {
		err = spill.keep(c.App.ErrWriter, res, err, file)
	}
	writeSummary(c, res)
	return runOutcome(file, err)
}

// runFile returns the one file argument of run, or a usage error that
// says what to do instead.
func runFile(c *cli.Context) (string, error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		return "", usagef("pcrun: error: no pipeline file given\nhint: pcrun examples/fruit.yaml")
	}
	if len(args) > 1 {
		hint := "run one file at a time"
		if strings.HasPrefix(args[1], "-") {
			hint = "flags go before the file: pcrun run " + args[1] + " ... " + args[0]
		}
		return "", usagef("pcrun: error: unexpected argument %q\nhint: %s", args[1], hint)
	}
	file := args[0]
	if pipeline, ok := testFileOf(file); ok {
		return "", usagef("pcrun: error: %s holds test cases, not a pipeline\nhint: run the pipeline with `pcrun run %s`, or its tests with `pcrun test %s`", file, pipeline, file)
	}
	if _, err := os.Stat(file); err != nil && !strings.ContainsAny(file, "./") {
		if s := suggestCommand(c, file); s != "" {
			return "", usagef("pcrun: error: unknown command or file %q\nhint: did you mean `pcrun %s`?", file, s)
		}
	}
	return file, nil
}

// suggestCommand returns the command whose name is close to word, a
// missing file that may be a mistyped command ("" when none is).
func suggestCommand(c *cli.Context, word string) string {
	var names []string
	for _, cmd := range c.App.Commands {
		names = append(names, cmd.Name)
	}
	return config.Suggest(word, names)
}

// runOptions reads the flags that shape the run into its options, and
// opens its spill file (the caller aborts it when the run does not keep
// it).
func runOptions(c *cli.Context, g *stages.Graph, signals <-chan os.Signal) (pipeline.Options, *spillFile, error) {
	var opts pipeline.Options
	if summary := c.String("summary"); !slices.Contains(report.Names(), summary) {
		return opts, nil, usagef("pcrun: error: unknown summary format %q\nhint: use %s", summary, strings.Join(report.Names(), " or "))
	}
	only, err := onlyStages(c, g)
	if err != nil {
		return opts, nil, err
	}
	opts = pipeline.Options{Stdout: c.App.Writer, Stderr: c.App.ErrWriter, Signals: signals, Only: only, Fresh: c.Bool("fresh"), Stdin: c.App.Reader}
	if opts.RunID, err = runID(c); err != nil {
		return opts, nil, err
	}
	opts.ResumeRun = c.Bool("resume-run")
	if path := c.String("resume"); path != "" {
		if opts.Resume, err = readResume(path); err != nil {
			return opts, nil, usagef("pcrun: error: %v", err)
		}
	}
	spill, err := openSpill(c, g) // spill.go
	if err != nil {
		return opts, nil, err
	}
	if spill != nil { // a nil *spillFile would be a writer that is not nil
		opts.Spill = spill
	}
	return opts, spill, nil
}

// watchRun attaches to opts the watchers the flags ask for (observe.go)
// and the run's logger (log.go). A bad flag stops the run before it
// starts, with nothing left open.
func watchRun(c *cli.Context, g *stages.Graph, opts *pipeline.Options) (*watchers, error) {
	stderr := c.App.ErrWriter
	if _, err := newLogger(c, stderr); err != nil { // bad flags: exit 2 before anything starts
		return nil, err
	}
	w, err := watch(c, stderr, opts)
	if err != nil {
		return nil, err
	}
	opts.Log, _ = newLogger(c, w.stderr)                  // above the progress bars, if any
	opts.Log.Debug(fmt.Sprintf("random seed %d", g.Seed)) // repeat the run's random values with --seed
	return w, nil
}

// execute runs g, for real or on the virtual clock, and then finishes the
// watchers: failing to write the events or the timeline fails a run that
// did not fail otherwise. The result is nil when nothing ran.
func execute(c *cli.Context, g *stages.Graph, opts pipeline.Options, w *watchers) (*observe.Result, error) {
	var res *observe.Result
	var err error
	if c.Bool("simulate") {
		res, err = simulate(c, g, opts, w.stderr) // sim.go
	} else {
		res, err = pipeline.Run(context.Background(), g, opts)
	}
	if !w.finish(c.App.ErrWriter) && err == nil {
		err = errors.New("the run's events or timeline could not be written")
	}
	return res, err
}

// notRun is the end of a run that could not start. What the file or the
// flags ask for that cannot be had (a spill file that does not fit, a
// source to read that is missing, a file a write step cannot open) is a
// usage error, exit 2; anything else (a broker out of reach, a queue this
// process may no longer write to) is a failure, exit 1.
func notRun(c *cli.Context, file string, err error) error {
	var re *pipeline.ResumeError
	var se *pipeline.SourceError
	var oe *pipeline.OutputError
	switch {
	case errors.As(err, &re):
		return usagef("pcrun: error: %s: %v", c.String("resume"), err)
	case errors.As(err, &se), errors.As(err, &oe):
		return usagef("pcrun: error: %v\npcrun: %s: nothing was run", err, file)
	}
	// The error's text only: a run that did not start failed (exit 1),
	// whatever stopped it.
	return failure(fmt.Sprintf("pcrun: error: %v\npcrun: %s: nothing was run", err, file), errors.New(err.Error()))
}

// writeSummary writes the end-of-run summary on stderr in the format
// --summary names (package report), unless --quiet.
func writeSummary(c *cli.Context, res *observe.Result) {
	if c.Bool("quiet") {
		return
	}
	if format, ok := report.Lookup(c.String("summary")); ok {
		_ = format(c.App.ErrWriter, res) // stderr: nowhere left to report a failed write
	}
}

// runOutcome is how runAction ends once the run has ended with err: nil,
// or err with what to say about it (nothing after a signal: the run's
// notices said it).
func runOutcome(file string, err error) error {
	var dl *pipeline.DeadlockError
	var fe *pipeline.FailedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dl):
		return failure(fmt.Sprintf("pcrun: %s: %v", file, dl), err)
	case errors.Is(err, pipeline.ErrInterrupted):
		return reported(err)
	case errors.As(err, &fe):
		return failure(fmt.Sprintf("pcrun: %s: %v", file, fe), err)
	}
	return failure(fmt.Sprintf("pcrun: %s: %v", file, err), err)
}

// onlyStages reads --only (STAGE[,STAGE...], repeatable) and checks the
// selection against the graph: a usage error (exit 2) names every unknown
// stage and every memory queue the selection would cut.
func onlyStages(c *cli.Context, g *stages.Graph) ([]string, error) {
	if !c.IsSet("only") {
		return nil, nil
	}
	var only []string
	for _, s := range c.StringSlice("only") {
		for name := range strings.SplitSeq(s, ",") {
			if name = strings.TrimSpace(name); name != "" && !slices.Contains(only, name) {
				only = append(only, name)
			}
		}
	}
	if len(only) == 0 {
		return nil, usage("pcrun: error: --only: no stage named\nhint: --only STAGE[,STAGE...], e.g. --only " + strings.Join(g.Stages(), ","))
	}
	if c.IsSet("resume") {
		return nil, usagef("pcrun: error: --resume cannot be combined with --only\nhint: resume the whole pipeline in one process")
	}
	errs := pipeline.CheckOnly(g, only)
	if errs == nil {
		return only, nil
	}
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("pcrun: error: " + e.Message)
		if e.Hint != "" {
			b.WriteString("\nhint: " + e.Hint)
		}
	}
	return nil, usage(b.String())
}

// testFileOf reports whether file is a NAME.test.yaml file of test cases,
// and names the pipeline file beside it.
func testFileOf(file string) (string, bool) {
	for _, ext := range []string{".test.yaml", ".test.yml"} {
		if base, ok := strings.CutSuffix(file, ext); ok {
			return base + ext[len(".test"):], true
		}
	}
	return "", false
}

// runID reads --run-id (or PCRUN_RUN_ID): a name that fits in the names
// of streams and keys.
func runID(c *cli.Context) (string, error) {
	id := c.String("run-id")
	if len(id) > 32 || !natsq.IsToken(id) {
		return "", usagef("pcrun: error: invalid run id %q\nhint: up to 32 letters, digits, - and _, the same in every process of the run, such as --run-id nightly-42", id)
	}
	return id, nil
}
