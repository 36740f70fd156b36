// Command pcrun runs producer/consumer pipelines declared in YAML.
//
//	pcrun examples/fruit.yaml           run a pipeline (same as `pcrun run`)
//	pcrun validate pipelines/*.yaml     report every problem, run nothing
package main

import (
	"os"
	"os/signal"
	"syscall"

	// The queue backends this binary ships (memory is always there).
	_ "github.com/pcrun/pcrun/queue/nats"
)

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	os.Exit(MainStdin(os.Args, sig, os.Stdin, os.Stdout, os.Stderr))
}
