// Package exitcode holds pcrun's exit codes and the one function that
// maps an error to its code: [Of].
//
// The command (internal/cli) turns how each of its commands ended into an
// exit code with Of, and the test engine (pipetest) uses the same function
// to check a case's `expect: exit`, so a case expects exactly the code
// `pcrun run` would exit with. Errors carry their kind by type (a
// [UsageError] or another error with a Usage method, a
// [config.Diagnostics], a [pipeline.DeadlockError], a
// [pipeline.ErrInterrupted]), never by a code chosen where they are made.
package exitcode
