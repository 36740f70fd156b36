package config

import (
	"fmt"
	"strings"
	"testing"
)

// itemFile is a pipeline whose only producer's `item` starts at line 4,
// column 11 ("    item: " is 10 runes). Cases below compute file positions
// by hand from it.
func itemFile(item string) string {
	return "producers:\n  - name: p\n    count: 1\n    item: " + item + "\n"
}

// fileRune returns the rune at a 1-based line and rune column of src.
func fileRune(src string, line, col int) (rune, bool) {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return 0, false
	}
	rs := []rune(lines[line-1])
	if col < 1 || col > len(rs) {
		return 0, false
	}
	return rs[col-1], true
}

func TestTextAt(t *testing.T) {
	first := func(v *Value) Text { return v.Elems[0].Text }
	tests := []struct {
		name  string
		item  string
		pick  func(*Value) Text // default: the item's own text
		value string            // the decoded value, to check the case itself
		line  int               // position inside the value: line 1-based,
		col   int               // col 0-based in runes (as expr reports)
		want  string            // file:line:col of that character
		char  rune              // the rune written at want in the file (0: past the end)
	}{
		{name: "plain start", item: "${i} apple", value: "${i} apple",
			line: 1, col: 0, want: "f.yaml:4:11", char: '$'},
		{name: "plain middle", item: "${i} apple", value: "${i} apple",
			line: 1, col: 5, want: "f.yaml:4:16", char: 'a'},
		{name: "plain just past the end", item: "${i} apple", value: "${i} apple",
			line: 1, col: 10, want: "f.yaml:4:21"},
		{name: "plain before a comment", item: "a ${x} # note", value: "a ${x}",
			line: 1, col: 2, want: "f.yaml:4:13", char: '$'},
		{name: "single-quoted", item: "'a ${x}'", value: "a ${x}",
			line: 1, col: 2, want: "f.yaml:4:14", char: '$'},
		{name: "single-quoted after a doubled quote", item: "'it''s ${x}'", value: "it's ${x}",
			line: 1, col: 5, want: "f.yaml:4:18", char: '$'},
		{name: "single-quoted doubled quote itself", item: "'it''s ${x}'", value: "it's ${x}",
			line: 1, col: 2, want: "f.yaml:4:14", char: '\''},
		{name: "double-quoted", item: `"a ${x}"`, value: "a ${x}",
			line: 1, col: 2, want: "f.yaml:4:14", char: '$'},
		{name: "double-quoted after \\t and \\u escapes", item: `"a\tb\u00e9 ${x}"`, value: "a\tbé ${x}",
			line: 1, col: 5, want: "f.yaml:4:23", char: '$'},
		{name: "double-quoted escape itself", item: `"a\tb ${x}"`, value: "a\tb ${x}",
			line: 1, col: 1, want: "f.yaml:4:13", char: '\\'},
		{name: "double-quoted after escaped quotes", item: `"say \"hi\" ${x}"`, value: `say "hi" ${x}`,
			line: 1, col: 9, want: "f.yaml:4:23", char: '$'},
		{name: "double-quoted after \\x", item: `"\x41${x}"`, value: "A${x}",
			line: 1, col: 1, want: "f.yaml:4:16", char: '$'},
		{name: "double-quoted after \\U", item: `"\U0001F600 ${x}"`, value: "\U0001F600 ${x}",
			line: 1, col: 2, want: "f.yaml:4:23", char: '$'},
		{name: "double-quoted with a literal tab", item: "\"a\tb ${x}\"", value: "a\tb ${x}",
			line: 1, col: 4, want: "f.yaml:4:16", char: '$'},
		{name: "double-quoted followed by a comment", item: `"x" # c`, value: "x",
			line: 1, col: 0, want: "f.yaml:4:12", char: 'x'},
		{name: "literal block first line", item: "|\n      first ${a}\n      second ${b}", value: "first ${a}\nsecond ${b}\n",
			line: 1, col: 6, want: "f.yaml:5:13", char: '$'},
		{name: "literal block second line", item: "|\n      first ${a}\n      second ${b}", value: "first ${a}\nsecond ${b}\n",
			line: 2, col: 7, want: "f.yaml:6:14", char: '$'},
		{name: "literal block after a leading blank line", item: "|\n\n      x ${a}", value: "\nx ${a}\n",
			line: 2, col: 2, want: "f.yaml:6:9", char: '$'},
		{name: "literal block more-indented line", item: "|\n      a\n        ${b}", value: "a\n  ${b}\n",
			line: 2, col: 2, want: "f.yaml:6:9", char: '$'},
		{name: "literal block strip indicator", item: "|-\n      a ${b}", value: "a ${b}",
			line: 1, col: 2, want: "f.yaml:5:9", char: '$'},
		{name: "literal block with CRLF", item: "|\r\n      a ${b}\r\n      c", value: "a ${b}\nc\n",
			line: 1, col: 2, want: "f.yaml:5:9", char: '$'},
		{name: "folded block first line", item: ">\n      one ${a}\n      two ${b}\n\n      three ${c}", value: "one ${a} two ${b}\nthree ${c}\n",
			line: 1, col: 4, want: "f.yaml:5:11", char: '$'},
		{name: "folded block folded into line 1", item: ">\n      one ${a}\n      two ${b}\n\n      three ${c}", value: "one ${a} two ${b}\nthree ${c}\n",
			line: 1, col: 13, want: "f.yaml:6:11", char: '$'},
		{name: "folded block after a blank line", item: ">\n      one ${a}\n      two ${b}\n\n      three ${c}", value: "one ${a} two ${b}\nthree ${c}\n",
			line: 2, col: 6, want: "f.yaml:8:13", char: '$'},
		{name: "folded block after two blank lines", item: ">\n      one ${a}\n      two ${b}\n\n\n      three ${c}", value: "one ${a} two ${b}\n\nthree ${c}\n",
			line: 3, col: 6, want: "f.yaml:9:13", char: '$'},
		{name: "folded block strip, leading blank line", item: ">-\n\n      a ${x}", value: "\na ${x}",
			line: 2, col: 2, want: "f.yaml:6:9", char: '$'},
		{name: "multi-line plain, first line", item: "alpha ${a}\n      beta ${b}", value: "alpha ${a} beta ${b}",
			line: 1, col: 6, want: "f.yaml:4:17", char: '$'},
		{name: "multi-line plain, continuation", item: "alpha ${a}\n      beta ${b}", value: "alpha ${a} beta ${b}",
			line: 1, col: 16, want: "f.yaml:5:12", char: '$'},
		{name: "multi-line plain, folded break", item: "alpha ${a}\n      beta ${b}", value: "alpha ${a} beta ${b}",
			line: 1, col: 11, want: "f.yaml:5:7", char: 'b'},
		{name: "multi-line plain, the folded space", item: "alpha ${a}\n      beta ${b}", value: "alpha ${a} beta ${b}",
			line: 1, col: 10, want: "f.yaml:4:21"},
		{name: "multi-line plain with CRLF", item: "alpha ${a}\r\n      beta ${b}", value: "alpha ${a} beta ${b}",
			line: 1, col: 11, want: "f.yaml:5:7", char: 'b'},
		{name: "multi-line plain, blank line is a newline", item: "alpha\n\n      beta ${b}", value: "alpha\nbeta ${b}",
			line: 2, col: 5, want: "f.yaml:6:12", char: '$'},
		{name: "multi-line double-quoted", item: "\"x ${a}\n      y ${b}\"", value: "x ${a} y ${b}",
			line: 1, col: 9, want: "f.yaml:5:9", char: '$'},
		{name: "multi-line double-quoted, escape on the first line", item: "\"a\\tb\n      c ${x}\"", value: "a\tb c ${x}",
			line: 1, col: 6, want: "f.yaml:5:9", char: '$'},
		{name: "multi-line double-quoted, escaped line break", item: "\"ab\\\n      cd ${x}\"", value: "abcd ${x}",
			line: 1, col: 5, want: "f.yaml:5:10", char: '$'},
		{name: "multi-line single-quoted, doubled quote on the first line", item: "'it''s\n      ${x}'", value: "it's ${x}",
			line: 1, col: 5, want: "f.yaml:5:7", char: '$'},
		{name: "multi-line single-quoted, blank line", item: "'a\n\n      b ${x}'", value: "a\nb ${x}",
			line: 2, col: 2, want: "f.yaml:6:9", char: '$'},
		{name: "flow mapping value", item: `{k: "v ${x}"}`, pick: first, value: "v ${x}",
			line: 1, col: 2, want: "f.yaml:4:18", char: '$'},
		{name: "flow mapping after a multi-byte key", item: `{é: "${x}"}`, pick: first, value: "${x}",
			line: 1, col: 0, want: "f.yaml:4:16", char: '$'},
		{name: "flow sequence, second element", item: `[a, 'b ${x}']`, pick: func(v *Value) Text { return v.Elems[1].Text }, value: "b ${x}",
			line: 1, col: 2, want: "f.yaml:4:18", char: '$'},
		{name: "multi-line plain in a flow sequence", item: "[alpha\n      beta]", pick: first, value: "alpha beta",
			line: 1, col: 6, want: "f.yaml:5:7", char: 'b'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := itemFile(tt.item)
			pl, ds := Parse("f.yaml", []byte(src))
			if ds.HasErrors() {
				t.Fatalf("Parse: %v", ds)
			}
			v := pl.Producers[0].Item
			text := v.Text
			if tt.pick != nil {
				text = tt.pick(v)
			}
			if text.Value != tt.value {
				t.Fatalf("value = %q, want %q (the case is wrong)", text.Value, tt.value)
			}
			// The case itself: the file holds char at want.
			var wl, wc int
			if _, err := fmt.Sscanf(tt.want, "f.yaml:%d:%d", &wl, &wc); err != nil {
				t.Fatalf("bad want %q: %v", tt.want, err)
			}
			if tt.char != 0 {
				if r, ok := fileRune(src, wl, wc); !ok || r != tt.char {
					t.Fatalf("file has %q at %s, the case says %q", r, tt.want, tt.char)
				}
			}
			if got := text.At(tt.line, tt.col).String(); got != tt.want {
				t.Errorf("At(%d, %d) = %s, want %s\nfile:\n%s", tt.line, tt.col, got, tt.want, src)
			}
		})
	}
}

func TestTextAtKeepsFile(t *testing.T) {
	pl, ds := Parse("dir/p.yaml", []byte(itemFile("'x ${y}'")))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if got := pl.Producers[0].Item.Text.At(1, 2).File; got != "dir/p.yaml" {
		t.Errorf("At().File = %q, want dir/p.yaml", got)
	}
}

func TestTextAtWithoutPosition(t *testing.T) {
	if got := (Text{Value: "abc"}).At(1, 1); got != (Pos{}) {
		t.Errorf("At on a Text without position = %v, want the zero Pos", got)
	}
}
