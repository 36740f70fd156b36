// Command pcrun runs producer/consumer pipelines declared in YAML.
//
//	pcrun examples/fruit.yaml           run a pipeline (same as `pcrun run`)
//	pcrun validate pipelines/*.yaml     report every problem, run nothing
//
// The commands live in internal/cli; main only hands them the process's
// arguments, signals and standard streams, and exits with the code they
// return.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/pcrun/pcrun/internal/cli"
	// The queue backends this binary ships (memory is always there).
	_ "github.com/pcrun/pcrun/queue/nats"
)

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	os.Exit(cli.Main(os.Args, sig, os.Stdin, os.Stdout, os.Stderr))
}
