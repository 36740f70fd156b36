package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// Exit codes; see DESIGN.md.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitDeadlock    = 3
	exitInterrupted = 130
)

var version = "0.1.0"

// Main runs pcrun with args (args[0] is the program name) and returns the
// exit code. It never calls os.Exit.
func Main(args []string, signals <-chan os.Signal, stdout, stderr io.Writer) int {
	code := exitOK
	setCode := func(c int) { code = c }
	app := newApp(signals, stdout, stderr, setCode)
	if err := app.Run(args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(stderr, msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintf(stderr, "pcrun: error: %v\n", err)
		return exitUsage
	}
	return code
}

func usageError(_ *cli.Context, err error, _ bool) error {
	return cli.Exit("pcrun: error: "+err.Error()+"\nhint: see `pcrun --help`", exitUsage)
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "set", Usage: "override a var: `NAME=VALUE` (repeatable)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print the end-of-run summary"},
	}
}

func newApp(signals <-chan os.Signal, stdout, stderr io.Writer, setCode func(int)) *cli.App {
	run := func(c *cli.Context) error { return runAction(c, signals, setCode) }
	return &cli.App{
		Name:            "pcrun",
		Usage:           "run producer/consumer pipelines declared in YAML",
		UsageText:       "pcrun [--set NAME=VALUE]... FILE\npcrun run [--set NAME=VALUE]... FILE\npcrun validate FILE...",
		Version:         version,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags:           runFlags(),
		Action:          run,
		ExitErrHandler:  func(*cli.Context, error) {}, // Main decides the exit code
		OnUsageError:    usageError,
		Commands: []*cli.Command{
			{
				Name: "run", Usage: "run a pipeline file", ArgsUsage: "FILE",
				Flags: runFlags(), Action: run, OnUsageError: usageError,
			},
			{
				Name: "validate", Usage: "report every problem in pipeline files; runs nothing", ArgsUsage: "FILE...",
				Action: func(c *cli.Context) error { return validateAction(c, setCode) }, OnUsageError: usageError,
			},
		},
	}
}

// runAction loads, compiles and runs one pipeline file.
func runAction(c *cli.Context, signals <-chan os.Signal, setCode func(int)) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return cli.Exit("pcrun: error: no pipeline file given\nhint: pcrun examples/fruit.yaml", exitUsage)
	}
	if len(args) > 1 {
		hint := "run one file at a time"
		if strings.HasPrefix(args[1], "-") {
			hint = "flags go before the file: pcrun run " + args[1] + " ... " + args[0]
		}
		return cli.Exit(fmt.Sprintf("pcrun: error: unexpected argument %q\nhint: %s", args[1], hint), exitUsage)
	}
	file := args[0]
	if _, err := os.Stat(file); err != nil && !strings.ContainsAny(file, "./") {
		var names []string
		for _, cmd := range c.App.Commands {
			names = append(names, cmd.Name)
		}
		if s := config.Suggest(file, names); s != "" {
			return cli.Exit(fmt.Sprintf("pcrun: error: unknown command or file %q\nhint: did you mean `pcrun %s`?", file, s), exitUsage)
		}
	}
	stderr := c.App.ErrWriter
	pl, ds := config.Load(file)
	if pl != nil {
		for _, kv := range c.StringSlice("set") {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				return cli.Exit(fmt.Sprintf("pcrun: error: --set %q: expected NAME=VALUE", kv), exitUsage)
			}
			if err := pl.SetVar(name, value); err != nil {
				return cli.Exit("pcrun: error: "+err.Error(), exitUsage)
			}
		}
	}
	var g *stages.Graph
	if pl != nil {
		var cds config.Diagnostics
		g, cds = stages.Compile(pl, stages.Options{})
		ds = append(ds, cds...)
		ds.Sort()
	}
	ds.Write(stderr)
	if ds.HasErrors() || g == nil {
		n, _ := ds.Count()
		return cli.Exit(fmt.Sprintf("pcrun: %s: %d error(s); nothing was run", file, n), exitUsage)
	}

	res, err := pipeline.Run(context.Background(), g, pipeline.Options{Stdout: c.App.Writer, Stderr: stderr, Signals: signals})
	if !c.Bool("quiet") {
		res.WriteSummary(stderr)
	}
	var dl *pipeline.DeadlockError
	var fe *pipeline.FailedError
	switch {
	case err == nil:
		setCode(exitOK)
	case errors.As(err, &dl):
		fmt.Fprintf(stderr, "pcrun: %s: %v\n", file, dl)
		setCode(exitDeadlock)
	case errors.Is(err, pipeline.ErrInterrupted):
		setCode(exitInterrupted)
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "pcrun: %s: %v\n", file, fe)
		setCode(exitFailed)
	default:
		fmt.Fprintf(stderr, "pcrun: %s: %v\n", file, err)
		setCode(exitFailed)
	}
	return nil
}

// validateAction reports every problem in every file; exit 1 if any error,
// 2 if a file cannot be read.
func validateAction(c *cli.Context, setCode func(int)) error {
	files := c.Args().Slice()
	if len(files) == 0 {
		return cli.Exit("pcrun: error: no pipeline files given\nhint: pcrun validate examples/*.yaml", exitUsage)
	}
	var all config.Diagnostics
	unreadable := false
	for _, f := range files {
		pl, ds := config.Load(f)
		if pl != nil {
			ds = append(ds, stages.Check(pl, stages.Options{})...)
		}
		for _, d := range ds {
			unreadable = unreadable || d.Code == config.CodeRead
		}
		ds.Sort()
		all = append(all, ds...)
	}
	all.Write(c.App.ErrWriter)
	errs, warns := all.Count()
	fmt.Fprintf(c.App.ErrWriter, "pcrun: %d file(s): %d error(s), %d warning(s)\n", len(files), errs, warns)
	switch {
	case unreadable:
		setCode(exitUsage)
	case errs > 0:
		setCode(exitFailed)
	}
	return nil
}
