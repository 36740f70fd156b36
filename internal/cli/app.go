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

// env is what every command's action needs from Main.
type env struct {
	signals <-chan os.Signal
}

func newApp(signals <-chan os.Signal, stdout, stderr io.Writer) *cli.App {
	e := &env{signals: signals}
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
		Action:          func(c *cli.Context) error { return runAction(c, e) }, // pcrun FILE is pcrun run FILE
		ExitErrHandler:  func(*cli.Context, error) {},                          // Main decides the exit code, and never calls os.Exit
		OnUsageError:    onUsageError,
		// A value keeps its commas: --set url=nats://a:4222,nats://b:4222
		// is one var (a list of brokers), not two values. --only splits
		// its stage names itself (onlyStages).
		DisableSliceFlagSeparator: true,
		// One command per file: run.go, validate.go, ...
		Commands: []*cli.Command{
			runCommand(e),
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
