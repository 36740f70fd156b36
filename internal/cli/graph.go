package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

func graphCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "graph",
		Usage: "draw the compiled pipeline (stages, queues, edges) as Mermaid or Graphviz dot; runs nothing",
		Description: "Writes the diagram to stdout and diagnostics to stderr. Mermaid renders inside\n" +
			"```mermaid blocks on GitHub; pipe dot to Graphviz: pcrun graph --format dot FILE | dot -Tsvg.\n" +
			"Exit 0 drawn, 2 usage error or invalid pipeline file.",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: stages.FormatMermaid,
				Usage: "diagram `FORMAT`: " + strings.Join(stages.RenderFormats, " or ")},
			&cli.StringSliceFlag{Name: "set", Usage: "override a var: `NAME=VALUE` (repeatable), as the run does: replicas and counts written as templates follow it"},
		},
		Action: func(c *cli.Context) error { return graphAction(c, e) }, OnUsageError: onUsageError,
	}
}

// graphAction loads and compiles one pipeline file and draws it on stdout.
// Flags may also follow the file (pcrun graph FILE --format dot).
func graphAction(c *cli.Context, _ *env) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return usagef("pcrun: error: no pipeline file given\nhint: pcrun graph examples/fruit.yaml")
	}
	file := args[0]
	format, err := trailingFormat(c.String("format"), args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return cli.ShowSubcommandHelp(c)
	}
	if err != nil {
		return usagef("pcrun: error: %v\nhint: pcrun graph [--format FORMAT] FILE", err)
	}
	if !slices.Contains(stages.RenderFormats, format) {
		return usagef("pcrun: error: unknown format %q\nhint: use one of %s", format, config.Quoted(stages.RenderFormats))
	}
	g, err := compileChecked(c, file, stages.Options{}, "nothing was drawn")
	if err != nil {
		return err
	}
	if err := stages.Render(c.App.Writer, g, format); err != nil {
		return failure("pcrun: error: "+err.Error(), err)
	}
	return nil
}

// trailingFormat parses the flags written after the file, which urfave/cli
// leaves as arguments, and returns the format they set (format when none).
// Any other argument is an error: graph draws one file.
func trailingFormat(format string, rest []string) (string, error) {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&format, "format", format, "")
	fs.StringVar(&format, "f", format, "")
	if err := fs.Parse(rest); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q; graph draws one file", fs.Arg(0))
	}
	return format, nil
}
