package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the pipeline file at path. A file that cannot be
// read gives a single error diagnostic with code [CodeRead].
func Load(path string) (*Pipeline, Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		var ds Diagnostics
		msg := err.Error()
		var pe *os.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		ds.Errorf(Pos{File: path}, CodeRead, "check the path", "cannot read pipeline file: %s", msg)
		return nil, ds
	}
	return Parse(path, src)
}

// Parse parses a pipeline file's contents; file names it in diagnostics.
// It returns the pipeline (nil only when the YAML itself is unusable) and
// every problem found, errors and warnings alike.
func Parse(file string, src []byte) (*Pipeline, Diagnostics) {
	sealSources()
	p := &parser{file: file, lines: splitLines(decodeText(src))}
	root, ok := p.decode(src)
	if !ok {
		return nil, p.diags
	}
	pl := p.pipeline(root)
	p.check(pl)
	p.diags.Sort()
	return pl, p.diags
}

type parser struct {
	file  string
	lines []string
	diags Diagnostics
	// actions are the consumer step actions; set only by FileSchema (the
	// loader leaves action names to stages).
	actions []StepAction
	// expanding holds the anchored nodes value is expanding through
	// aliases, and aliasValues counts the Values made inside them; see value.
	expanding   map[*yaml.Node]bool
	aliasValues int
}

// Base returns the default pipeline name for a file: its base name without
// extension.
func Base(file string) string {
	b := filepath.Base(file)
	return strings.TrimSuffix(b, filepath.Ext(b))
}
