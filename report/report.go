// Package report writes a run's end-of-run summary (an observe.Result) in
// a format chosen by name: `pcrun run --summary FORMAT`. A new format is
// one function and one line in the formats table below.
package report

import (
	"encoding/json"
	"io"
	"slices"
	"sort"

	"github.com/pcrun/pcrun/observe"
)

// Format writes the summary of r to w.
type Format func(w io.Writer, r *observe.Result) error

// formats are the summary formats by name.
var formats = map[string]Format{
	"text": Text,
	"json": JSON,
}

// Lookup returns the format named name.
func Lookup(name string) (Format, bool) {
	f, ok := formats[name]
	return f, ok
}

// Names lists the formats' names, sorted.
func Names() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Clip(names)
}

// JSON writes r as one indented JSON object (the fields of
// observe.Result).
func JSON(w io.Writer, r *observe.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
