package cli

import (
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// writeDiags writes diagnostics for people: with the source line and a
// caret, in colour when w is a terminal and NO_COLOR is not set.
func writeDiags(w io.Writer, ds config.Diagnostics, src config.Sources) {
	config.WriteText(w, ds, src, colorful(w))
}

// colorful reports whether w is a terminal that wants colour
// (https://no-color.org).
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// compileFile loads a pipeline file, applies `--set NAME=VALUE` overrides
// and compiles it. It returns the graph (nil when the file has errors) and
// every diagnostic, sorted; a malformed --set is a usage error.
func compileFile(file string, sets []string, src config.Sources) (*stages.Graph, config.Diagnostics, error) {
	return compileFileWith(file, sets, src, stages.Options{})
}

// compileFileWith is compileFile with compile options (compileOptions).
func compileFileWith(file string, sets []string, src config.Sources, opts stages.Options) (*stages.Graph, config.Diagnostics, error) {
	pl, ds := src.Load(file)
	if pl == nil {
		return nil, ds, nil
	}
	for _, kv := range sets {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, nil, usagef("pcrun: error: --set %q: expected NAME=VALUE", kv)
		}
		if err := pl.SetVar(name, value); err != nil {
			return nil, nil, usagef("pcrun: error: %v", err)
		}
	}
	g, cds := stages.Compile(pl, opts)
	ds = append(ds, cds...)
	ds.Sort()
	return g, ds, nil
}

// compileChecked compiles file with the --set overrides and opts and
// writes its diagnostics on stderr. A file with errors is a usage error
// (exit 2) that says how many, and "nothing was run" or what else the
// command did not do.
func compileChecked(c *cli.Context, file string, opts stages.Options, notDone string) (*stages.Graph, error) {
	src := config.Sources{}
	g, ds, err := compileFileWith(file, c.StringSlice("set"), src, opts)
	if err != nil {
		return nil, err // a malformed --set
	}
	writeDiags(c.App.ErrWriter, ds, src)
	if ds.HasErrors() || g == nil {
		n, _ := ds.Count()
		return nil, usagef("pcrun: %s: %d error(s); %s", file, n, notDone)
	}
	return g, nil
}
