package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// runAction loads, compiles and runs one pipeline file.
func runAction(c *cli.Context, e *env) error {
	signals, setCode := e.signals, e.setCode
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
	if pipeline, ok := testFileOf(file); ok {
		return cli.Exit(fmt.Sprintf("pcrun: error: %s holds test cases, not a pipeline\nhint: run the pipeline with `pcrun run %s`, or its tests with `pcrun test %s`", file, pipeline, file), exitUsage)
	}
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
	src := config.Sources{}
	pl, ds := load(file, src)
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
	writeDiags(stderr, ds, src)
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
