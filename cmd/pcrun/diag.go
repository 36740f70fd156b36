package main

import (
	"io"
	"os"

	"github.com/pcrun/pcrun/config"
)

// load reads and parses one pipeline file, keeping its source so
// diagnostics can quote the offending line.
func load(path string, src config.Sources) (*config.Pipeline, config.Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		return config.Load(path) // reports the read error in the usual form
	}
	src[path] = data
	return config.Parse(path, data)
}

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
