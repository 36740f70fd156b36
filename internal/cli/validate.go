package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/stages"
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
		Action: func(c *cli.Context) error { return validateAction(c, e) }, OnUsageError: usageError,
	}
}

// validateAction reports every problem in every file; exit 1 if any error
// (or warning with --strict), 2 on a usage error or an unreadable file.
func validateAction(c *cli.Context, e *env) error {
	format := c.String("format")
	if !slices.Contains(config.Formats, format) {
		return cli.Exit(fmt.Sprintf("pcrun: error: unknown format %q\nhint: use one of %s", format, config.Quoted(config.Formats)), exitcode.Usage)
	}
	if c.NArg() == 0 {
		return cli.Exit("pcrun: error: no pipeline files given\nhint: pcrun validate examples/", exitcode.Usage)
	}
	files, err := expandPaths(c.Args().Slice())
	if err != nil {
		return cli.Exit("pcrun: error: "+err.Error(), exitcode.Usage)
	}
	var all config.Diagnostics
	src := config.Sources{}
	unreadable := false
	for _, f := range pipelinesOf(files) { // a NAME.test.yaml is checked with its pipeline (test.go)
		pl, ds := load(f, src)
		if pl != nil {
			ds = append(ds, loadTests(f, pl, src)...) // NAME.test.yaml, if any (test.go)
			ds = append(ds, stages.Check(pl, stages.Options{})...)
		}
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
		e.setCode(exitcode.Usage)
	case errs > 0, warns > 0 && c.Bool("strict"):
		e.setCode(exitcode.Failed)
	}
	return nil
}

// expandPaths turns files, directories and globs into a sorted list of
// pipeline files without duplicates. A path that does not exist and is not
// a glob is kept, so loading it reports it as unreadable.
func expandPaths(args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, a := range args {
		fi, err := os.Stat(a)
		switch {
		case err == nil && fi.IsDir():
			found, err := pipelineFiles(a)
			if err != nil {
				return nil, err
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("no pipeline files (*.yaml, *.yml) under %s", a)
			}
			for _, f := range found {
				add(f)
			}
		case err != nil && strings.ContainsAny(a, "*?[{"):
			matches, gerr := doublestar.FilepathGlob(a, doublestar.WithFilesOnly())
			if gerr != nil {
				return nil, fmt.Errorf("bad glob %q: %v", a, gerr)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("no files match %q", a)
			}
			slices.Sort(matches)
			for _, m := range matches {
				add(m)
			}
		default:
			add(a)
		}
	}
	return out, nil
}

// pipelineFiles lists *.yaml and *.yml files below dir, skipping hidden
// directories and *.test.yaml files (those hold tests, not pipelines).
func pipelineFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(name)
		base := strings.TrimSuffix(name, ext)
		if (ext == ".yaml" || ext == ".yml") && !strings.HasSuffix(base, ".test") {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}
