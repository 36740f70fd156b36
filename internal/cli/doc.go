// Package cli is the pcrun command: its commands, their flags, what they
// write and how each ends. It is the only code that knows the process's
// arguments, terminals and exit codes; cmd/pcrun/main.go hands it the
// process's arguments, signals and standard streams through [Main].
//
// One file per command: run.go (also `pcrun FILE`), sim.go, validate.go,
// test.go, graph.go, schema.go, status.go and broker.go. Beside them the
// shared pieces: app.go (Main and the list of commands), exit.go (how a
// command ends), diag.go (loading and compiling a file, writing its
// diagnostics), spill.go, log.go and seed.go (flags of a run), observe.go,
// progress.go and metrics.go (what watches a run). status.go and
// broker.go talk to NATS only through package queue/nats.
//
// A command never picks an exit code. It returns nil or an error that
// carries its kind, and Main maps it with exitcode.Of, the function the
// test engine (package pipetest) uses for a case's expected exit. Every
// problem with the flags or the file is found before anything runs (exit
// 2); after that, the run's outcome decides.
package cli
