package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/stages"
)

// seedFlag is `--seed`, of run and sim: it fixes every random function
// (uniform, exponential, normal; docs/random.md).
var seedFlag = &cli.Uint64Flag{Name: "seed", Usage: "seed the random functions (uniform, exponential, normal) with `N`: the same N gives every worker the same values; 0 or unset picks one, logged at debug level"}

// compileOptions are the stages.Options a command's flags ask for.
func compileOptions(c *cli.Context) stages.Options {
	return stages.Options{Seed: c.Uint64("seed")}
}
