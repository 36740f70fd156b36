package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

func validateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name: "validate", Usage: "report every problem in pipeline files; runs nothing", ArgsUsage: "FILE...",
		Action: func(c *cli.Context) error { return validateAction(c, e) }, OnUsageError: usageError,
	}
}

// validateAction reports every problem in every file; exit 1 if any error,
// 2 if a file cannot be read.
func validateAction(c *cli.Context, e *env) error {
	setCode := e.setCode
	files := c.Args().Slice()
	if len(files) == 0 {
		return cli.Exit("pcrun: error: no pipeline files given\nhint: pcrun validate examples/*.yaml", exitUsage)
	}
	var all config.Diagnostics
	unreadable := false
	for _, f := range files {
		pl, ds := config.Load(f)
		if pl != nil {
			ds = append(ds, stages.Check(pl, stages.Options{})...)
		}
		for _, d := range ds {
			unreadable = unreadable || d.Code == config.CodeRead
		}
		ds.Sort()
		all = append(all, ds...)
	}
	all.Write(c.App.ErrWriter)
	errs, warns := all.Count()
	fmt.Fprintf(c.App.ErrWriter, "pcrun: %d file(s): %d error(s), %d warning(s)\n", len(files), errs, warns)
	switch {
	case unreadable:
		setCode(exitUsage)
	case errs > 0:
		setCode(exitFailed)
	}
	return nil
}
