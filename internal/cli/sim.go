package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pcrun/pcrun/sim"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// simCommand is `pcrun sim FILE`: `pcrun run --simulate FILE`, the
// pipeline on a virtual clock (docs/simulation.md).
func simCommand(e *env) *cli.Command {
	return &cli.Command{
		Name: "sim", Usage: "simulate a pipeline file on a virtual clock: the same lines and summary, in milliseconds",
		ArgsUsage: "FILE", Flags: runFlags(), OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := c.Set("simulate", "true"); err != nil {
				return err
			}
			return runAction(c, e)
		},
	}
}

// checkSimulate refuses, with exit 2, a simulation of a graph with steps
// that do real work or of flags a simulation has no use for; it is nil
// when the run is not simulated.
func checkSimulate(c *cli.Context, g *stages.Graph, file string) error {
	if !c.Bool("simulate") {
		if c.IsSet("until") {
			return usagef("pcrun: error: --until limits a simulation\nhint: add --simulate, or run `pcrun sim`")
		}
		return nil
	}
	for _, f := range []string{"only", "resume", "spill", "fresh", "metrics-addr"} {
		if c.IsSet(f) {
			return usagef("pcrun: error: --%s cannot be combined with a simulation\nhint: drop --%s, or run the pipeline for real", f, f)
		}
	}
	var re *sim.RefusedError
	if err := sim.Check(g); errors.As(err, &re) {
		var b strings.Builder
		fmt.Fprintf(&b, "pcrun: error: %s cannot be simulated:", file)
		for _, r := range re.Reasons {
			b.WriteString("\n  " + r)
		}
		b.WriteString("\nhint: a simulation runs no command, writes no file and reads no input; " +
			"simulate a copy of the file with `sleep` steps (as long as the real work takes) and `item` templates in their place")
		return usage(b.String())
	}
	return nil
}

// simulate runs the graph on the virtual clock and says on stderr how
// much virtual time it covered, and in how long.
func simulate(c *cli.Context, g *stages.Graph, opts pipeline.Options, stderr io.Writer) (*observe.Result, error) {
	start := time.Now()
	res, err := sim.Simulate(context.Background(), g, opts, sim.Options{Until: c.Duration("until"), Seed: g.Seed})
	if res != nil && !c.Bool("quiet") && c.String("summary") == "text" {
		fmt.Fprintf(stderr, "pcrun: simulated %s of virtual time in %s (seed %d)\n",
			res.Elapsed.Round(time.Millisecond), time.Since(start).Round(time.Microsecond), g.Seed)
	}
	return res, err
}
