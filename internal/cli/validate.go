package cli

import (
	"errors"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/pipetest"
)

func validateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "report every problem in pipeline files; runs nothing",
		Description: "PATH is a file, a directory (every *.yaml and *.yml below it, except *.test.yaml)\n" +
			"or a glob (quoted, ** matches any depth). Exit 0 clean, 1 problems found\n" +
			"(errors; warnings too with --strict), 2 usage error or unreadable file.",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: config.FormatText,
				Usage: "output `FORMAT`: text (for people, on stderr), json or github (on stdout)"},
			&cli.BoolFlag{Name: "strict", Usage: "warnings fail validation too"},
		},
		Action: func(c *cli.Context) error { return validateAction(c, e) }, OnUsageError: onUsageError,
	}
}

// validateAction reports every problem in every file; exit 1 if any error
// (or warning with --strict), 2 on a usage error or an unreadable file.
func validateAction(c *cli.Context, _ *env) error {
	format := c.String("format")
	if !slices.Contains(config.Formats, format) {
		return usagef("pcrun: error: unknown format %q\nhint: use one of %s", format, config.Quoted(config.Formats))
	}
	if c.NArg() == 0 {
		return usagef("pcrun: error: no pipeline files given\nhint: pcrun validate examples/")
	}
	files, err := pipetest.Files(c.Args().Slice())
	if err != nil {
		return usagef("pcrun: error: %v", err)
	}
	var all config.Diagnostics
	src := config.Sources{}
	unreadable := false
	for _, f := range pipetest.Pipelines(files) { // a NAME.test.yaml is checked with its pipeline
		_, ds := pipetest.Load(f, src) // and the cases of NAME.test.yaml with it, as `pcrun test` loads them
		for _, d := range ds {
			unreadable = unreadable || d.Code == config.CodeRead
		}
		ds.Sort()
		all = append(all, ds...)
	}
	stderr := c.App.ErrWriter
	switch format {
	case config.FormatJSON:
		config.WriteJSON(c.App.Writer, all)
	case config.FormatGitHub:
		config.WriteGitHub(c.App.Writer, all)
	default:
		writeDiags(stderr, all, src)
	}
	errs, warns := all.Count()
	fmt.Fprintf(stderr, "pcrun: %d file(s): %d error(s), %d warning(s)\n", len(files), errs, warns)
	switch {
	case unreadable:
		return reported(&exitcode.UsageError{Err: errors.New("a pipeline or test file cannot be read")})
	case errs > 0, warns > 0 && c.Bool("strict"):
		return reported(errors.New("the files have problems")) // exit 1, as a check that failed
	}
	return nil
}
