// Package pipetest runs the test cases of pipeline files: the engine of
// `pcrun test` (docs/testing.md).
//
// A pipeline's cases are its `tests:` list and those of its sibling test
// file NAME.test.yaml. Each case runs the pipeline with its overrides
// (vars, counts, replicas, stdin) and compares what came out with what it
// expects: the exit code, stdout (in order, in any order, or some lines),
// the items put into queues, and the ledger.
//
//	report, err := pipetest.Run(ctx, []string{"pipelines/"}, pipetest.Options{Out: os.Stdout})
//
// [Run] finds and checks every file first, and runs nothing if one has
// an error ([InvalidError]) or a path names no file ([PathError]). A
// pipeline that does nothing outside pcrun runs on the simulator's
// virtual clock, so its delays, sleeps and deadlines take their time
// exactly and a case ends at once; one that runs commands, writes files
// or reads sources runs for real, without delays. Cases run one after
// the other, each bounded by its `timeout`.
// A case expects the exit code `pcrun run` would give its run:
// internal/exitcode maps both.
//
// [Files], [Pipelines] and [Load] find and load files as Run does; `pcrun
// validate` uses them, so the files and cases it checks are those `pcrun
// test` runs.
package pipetest
