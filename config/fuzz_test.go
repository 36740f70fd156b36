package config_test

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pcrun/pcrun/config"
)

// maxFuzzInput keeps fuzz inputs to the size of real pipeline files, so a
// slow input means a slow algorithm, not a big file.
const maxFuzzInput = 16 << 10

// parseBound is how long one Parse may take before the input counts as a
// hang. It is generous: fuzzing runs with coverage instrumentation, and
// tests may run under -race.
const parseBound = 10 * time.Second

// FuzzParse checks that the loader never panics, never hangs, and reports
// every problem at a position inside the file.
func FuzzParse(f *testing.F) {
	for _, src := range seedFiles(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			t.Skip("input larger than any real pipeline file")
		}
		type result struct {
			pl *config.Pipeline
			ds config.Diagnostics
		}
		done := make(chan result, 1)
		go func() {
			pl, ds := config.Parse("f.yaml", src)
			done <- result{pl, ds}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(parseBound):
			t.Fatalf("Parse did not return within %v on:\n%q", parseBound, src)
		}
		if r.pl == nil && !r.ds.HasErrors() {
			t.Errorf("Parse returned no pipeline and no error on:\n%q", src)
		}
		for _, d := range r.ds {
			checkPos(t, src, "Pos", d, d.Pos, false)
			checkPos(t, src, "End", d, d.End, true)
		}
	})
}

// seedFiles returns every example and every CLI test pipeline.
func seedFiles(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	err = filepath.WalkDir("../cmd/pcrun/testdata", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no seed files found")
	}
	var out [][]byte
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, src)
	}
	return out
}

// lineBreak is what YAML (1.1, as yaml.v3 reads it) counts as a line break.
var lineBreak = regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]")

// fileText is the text YAML reads from src: UTF-16 decoded by its byte
// order mark, and a UTF-8 byte order mark dropped.
func fileText(src []byte) string {
	switch {
	case bytes.HasPrefix(src, []byte("\xef\xbb\xbf")):
		return string(src[3:])
	case bytes.HasPrefix(src, []byte("\xff\xfe")), bytes.HasPrefix(src, []byte("\xfe\xff")):
		var order binary.ByteOrder = binary.LittleEndian
		if src[0] == 0xfe {
			order = binary.BigEndian
		}
		var units []uint16
		for i := 2; i+1 < len(src); i += 2 {
			units = append(units, order.Uint16(src[i:]))
		}
		return string(utf16.Decode(units))
	}
	return string(src)
}

// checkPos fails unless p lies inside src: line 1..(number of lines), where
// a file ending in a line break has one more, empty line for its end, and
// column 1..(characters on that line + 1), the +1 being the end of the
// line. Lines and characters are counted as YAML counts them, as positions
// are: in the decoded text, with YAML's line breaks.
// With optional, the zero Pos passes.
func checkPos(t *testing.T, src []byte, what string, d config.Diagnostic, p config.Pos, optional bool) {
	t.Helper()
	if optional && p == (config.Pos{}) {
		return
	}
	if p.File != "f.yaml" {
		t.Errorf("%s of %q names file %q, want f.yaml", what, d.Message, p.File)
	}
	lines := lineBreak.Split(fileText(src), -1)
	if p.Line < 1 || p.Line > len(lines) {
		t.Errorf("%s %d:%d of %q: line outside 1..%d in:\n%q", what, p.Line, p.Col, d.Message, len(lines), src)
		return
	}
	if n := utf8.RuneCountInString(lines[p.Line-1]); p.Col < 1 || p.Col > n+1 {
		t.Errorf("%s %d:%d of %q: column outside 1..%d in:\n%q", what, p.Line, p.Col, d.Message, n+1, src)
	}
}
