package cli

import (
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version is pcrun's version, as `pcrun --version` prints it.
var Version = "0.1.0"

// Main runs pcrun with args (args[0] is the program name) and returns the
// exit code; it never calls os.Exit. A signal on signals stops a run as
// SIGINT does (main relays SIGINT and SIGTERM; nil: none ever comes).
// stdin is what producers with `lines: -` or `jsonl: -` read; nil reads
// an empty input. Main blocks until the command has ended.
func Main(args []string, signals <-chan os.Signal, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	app := newApp(signals, stdout, stderr)
	app.Reader = stdin
	return exit(app.Run(args), stderr)
}

// onUsageError turns a flag urfave/cli cannot parse into bad usage.
func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usagef("pcrun: error: %s\nhint: see `pcrun --help`", err)
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "set", Usage: "override a var: `NAME=VALUE` (repeatable)"},
		seedFlag, // seed.go
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print the end-of-run summary"},
		&cli.StringFlag{Name: "summary", Value: "text", Usage: "end-of-run summary on stderr as `FORMAT`: text or json"},
		&cli.StringFlag{Name: "spill", Usage: "write every abandoned item, and where each producer stopped, to `FILE` (JSON lines; overrides shutdown.spill)"},
		&cli.StringFlag{Name: "resume", Usage: "continue an interrupted run from its spill `FILE`: put its items back, start producers where they stopped"},
		&cli.StringSliceFlag{Name: "only", Usage: "run the workers of these `STAGES` only (comma-separated, repeatable); the others run in other processes, connected by queues with backend: nats"},
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

// env is what every command's action needs from Main.
type env struct {
	signals <-chan os.Signal
}

func newApp(signals <-chan os.Signal, stdout, stderr io.Writer) *cli.App {
	e := &env{signals: signals}
	run := func(c *cli.Context) error { return runAction(c, e) }
	return &cli.App{
		Name:  "pcrun",
		Usage: "run producer/consumer pipelines declared in YAML",
		UsageText: "pcrun [--set NAME=VALUE]... FILE\npcrun run [--set NAME=VALUE]... FILE\n" +
			"pcrun validate [--format text|json|github] [--strict] PATH...\npcrun test PATH...\n" +
			"pcrun graph [--format mermaid|dot] [--set NAME=VALUE]... FILE\npcrun schema\npcrun sim [--until DURATION] FILE\n" +
			"pcrun broker [--host ADDRESS] [--port PORT] [--store-dir DIR | --memory]\npcrun status [--format text|json] FILE",
		Version:         Version,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags:           runFlags(),
		Action:          run,
		ExitErrHandler:  func(*cli.Context, error) {}, // Main decides the exit code, and never calls os.Exit
		OnUsageError:    onUsageError,
		// One command per file: run.go, validate.go, ...
		Commands: []*cli.Command{
			{
				Name: "run", Usage: "run a pipeline file", ArgsUsage: "FILE",
				Flags: runFlags(), Action: run, OnUsageError: onUsageError,
			},
			validateCommand(e),
			graphCommand(e),
			schemaCommand(e),
			testCommand(e),
			brokerCommand(e),
			statusCommand(e),
			simCommand(e),
		},
	}
}
