package stages

import (
	"bytes"
	"encoding/binary"
	"errors"
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

// maxFuzzInput keeps fuzz inputs to the size of real pipeline files and
// templates, so a slow input means a slow algorithm, not a big input.
const maxFuzzInput = 16 << 10

// fuzzBound is how long one parse and compile may take before the input
// counts as a hang; generous for coverage instrumentation and -race.
const fuzzBound = 10 * time.Second

// FuzzScan checks the template scanner: no panic; a ScanError points at
// the `${` it complains about; and a successful scan loses nothing:
// rendering its segments back (a literal `${` as `$${`, an expression as
// `${code}`) gives the template again, and each expression's position is
// where its code starts in the template.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"", "plain", "${i}", "${food} ${i}", "$${literal} ${x}", "$$${x}", "a$", "${",
		"${ }", "${ {\"a\": \"}\"}.a }", "${ 'it\\'s' }", "${`}`}", "${ (a}", "x\n${y}\n  ${ z\n }",
		"é${x}ü", "${upper(item)}", "${item.dish} cooked by ${item.cook}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzInput {
			t.Skip("input larger than any real template")
		}
		segs, err := scan(s)
		if err != nil {
			var se *ScanError
			if !errors.As(err, &se) {
				t.Fatalf("scan(%q) error %T, want *ScanError", s, err)
			}
			if at := offset(s, se.Line, se.Col); at < 0 || !strings.HasPrefix(s[at:], "${") {
				t.Errorf("scan(%q): ScanError at %d:%d does not point at a `${`", s, se.Line, se.Col)
			}
			return
		}
		var b strings.Builder
		for i, sg := range segs {
			if !sg.isEx {
				if sg.lit == "" {
					t.Errorf("scan(%q): empty literal segment %d", s, i)
				}
				if i > 0 && !segs[i-1].isEx {
					t.Errorf("scan(%q): literal segments %d and %d not merged", s, i-1, i)
				}
				b.WriteString(strings.ReplaceAll(sg.lit, "${", "$${"))
				continue
			}
			if strings.TrimSpace(sg.expr) == "" {
				t.Errorf("scan(%q): empty expression in segment %d", s, i)
			}
			if at := offset(s, sg.line, sg.col); at < 2 || s[at-2:at] != "${" || !strings.HasPrefix(s[at:], sg.expr+"}") {
				t.Errorf("scan(%q): expression %q is not written as `${%s}` at %d:%d", s, sg.expr, sg.expr, sg.line, sg.col)
			}
			b.WriteString("${" + sg.expr + "}")
		}
		if !utf8.ValidString(s) {
			// A template comes from YAML, which is UTF-8; scan replaces
			// invalid bytes, so only the positions above are checked.
			return
		}
		if got := b.String(); got != s {
			t.Errorf("scan(%q) renders back as %q", s, got)
		}
	})
}

// offset returns the byte offset in s of a 1-based line and 0-based rune
// column, as scan reports them, or -1 when s has no such place. The end of
// a line (col = its rune count) is a place.
func offset(s string, line, col int) int {
	if line < 1 || col < 0 {
		return -1
	}
	l, c := 1, 0
	for i, r := range s {
		if l == line && c == col {
			return i
		}
		if r == '\n' {
			if l == line {
				return -1
			}
			l, c = l+1, 0
		} else {
			c++
		}
	}
	if l == line && c == col {
		return len(s)
	}
	return -1
}

// FuzzCompile checks the loader and the compiler together: no panic, no
// hang, and every diagnostic at a position inside the file.
func FuzzCompile(f *testing.F) {
	for _, src := range seedFiles(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			t.Skip("input larger than any real pipeline file")
		}
		done := make(chan config.Diagnostics, 1)
		go func() {
			pl, ds := config.Parse("f.yaml", src)
			if pl != nil {
				_, cds := Compile(pl, Options{Environ: []string{"HOME=/home/fuzz"}})
				ds = append(ds, cds...)
			}
			done <- ds
		}()
		var ds config.Diagnostics
		select {
		case ds = <-done:
		case <-time.After(fuzzBound):
			t.Fatalf("Parse and Compile did not return within %v on:\n%q", fuzzBound, src)
		}
		for _, d := range ds {
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
