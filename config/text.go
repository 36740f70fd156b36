package config

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Text is a decoded YAML string together with the way it was written, so a
// position inside the decoded string can be mapped back into the file.
type Text struct {
	Value string
	Pos   Pos // where the node starts (the quote or block indicator, if any)
	style yaml.Style
	lines []string // the whole file, split into lines
}

// At maps a position inside t.Value (line 1-based, col 0-based in runes, as
// expr reports them) to a position in the file. Escapes in quoted strings,
// line folding in plain and quoted scalars that span lines, and block
// scalars are taken into account. A position it cannot place inside the
// file (written in a way it does not decode) gives the value's start.
func (t Text) At(line, col int) Pos {
	p := t.Pos
	if !p.IsValid() {
		return p
	}
	if q := t.at(line, col); t.lines == nil || t.inFile(q) {
		return q
	}
	return p
}

// inFile reports whether p is a rune of the file, or the end of a line.
func (t Text) inFile(p Pos) bool {
	return p.Line >= 1 && p.Line <= len(t.lines) && p.Col >= 1 && p.Col <= utf8.RuneCountInString(t.lines[p.Line-1])+1
}

// at is At before the check that the position is in the file.
func (t Text) at(line, col int) Pos {
	p := t.Pos
	switch {
	case t.style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return t.blockAt(line, col)
	}
	if q, ok := t.flowAt(line, col); ok {
		return q
	}
	switch {
	case t.style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		if line == 1 {
			if c, ok := t.quotedCol(col); ok {
				p.Col = c
				return p
			}
		}
		p.Col += 1 + col
		if line > 1 {
			p.Line += line - 1
			p.Col = col + 1
		}
		return p
	default:
		if line > 1 {
			p.Line += line - 1
			p.Col = col + 1 + leadingSpaces(t.line(p.Line))
			return p
		}
		p.Col += col
		return p
	}
}

// decodeText returns the text yaml.v3 reads from a file: UTF-16 (known by
// its byte order mark) decoded, and a UTF-8 byte order mark dropped, so
// that columns count the characters yaml.v3 counts, not bytes.
func decodeText(src []byte) string {
	switch {
	case bytes.HasPrefix(src, []byte("\xef\xbb\xbf")):
		return string(src[3:])
	case bytes.HasPrefix(src, []byte("\xff\xfe")), bytes.HasPrefix(src, []byte("\xfe\xff")):
		units := make([]uint16, len(src)/2-1)
		for i := range units {
			lo, hi := src[2+2*i], src[3+2*i]
			if src[0] == 0xfe {
				lo, hi = hi, lo
			}
			units[i] = uint16(hi)<<8 | uint16(lo)
		}
		return string(utf16.Decode(units))
	}
	return string(src)
}

// splitLines splits a file's text into lines the way yaml.v3 counts them,
// so that the line numbers of its nodes and errors index the result: a line
// ends at \r\n, \n or \r, and also at U+0085, U+2028 and U+2029, which
// yaml.v3 treats as line breaks too (strings.Split on "\n" would let a
// position point past the last line of a file broken by them).
func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r', '\n', '\u0085', '\u2028', '\u2029':
			lines = append(lines, s[start:i])
			if r == '\r' && strings.HasPrefix(s[i+1:], "\n") {
				n++
			}
			start = i + n
		}
		i += n
	}
	return append(lines, s[start:])
}

func (t Text) line(n int) string {
	if n < 1 || n > len(t.lines) {
		return ""
	}
	return t.lines[n-1]
}

func leadingSpaces(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// quotedCol maps the col-th decoded rune of the first line of a quoted scalar
// to its 1-based column in the file.
func (t Text) quotedCol(col int) (int, bool) {
	src := []rune(t.line(t.Pos.Line))
	i := t.Pos.Col - 1 // the opening quote
	if i < 0 || i >= len(src) {
		return 0, false
	}
	double := t.style&yaml.DoubleQuotedStyle != 0
	i++
	for n := 0; i < len(src); n++ {
		if n == col {
			return i + 1, true
		}
		switch {
		case double && src[i] == '"', !double && src[i] == '\'' && (i+1 >= len(src) || src[i+1] != '\''):
			return i + 1, n == col
		case double && src[i] == '\\' && i+1 < len(src):
			switch src[i+1] {
			case 'x':
				i += 4
			case 'u':
				i += 6
			case 'U':
				i += 10
			default:
				i += 2
			}
		case !double && src[i] == '\'':
			i += 2
		default:
			i++
		}
	}
	return 0, false
}

// blockAt maps a position in a literal (|) or folded (>) block scalar by
// decoding the scalar again from the file, as flowAt does. It gives the
// block indicator's position when its decoding does not reproduce t.Value.
func (t Text) blockAt(line, col int) Pos {
	if q, ok := t.locate(t.decodeBlock(utf8.RuneCountInString(t.Value)), line, col); ok {
		return q
	}
	return t.Pos
}

// decodeBlock decodes a block scalar from its source lines as yaml.v3 does,
// keeping where each rune comes from, up to limit runes and without
// chomping; callers compare with t.Value. The content lines follow the
// header, less their indentation; in a folded scalar the line break between
// two lines that do not start with white space becomes a space, or nothing
// when empty lines follow it (each of them is a newline).
func (t Text) decodeBlock(limit int) []srcRune {
	// The indentation is what the first line with content has more than
	// the same line in the value: an indentation indicator (|2) can make
	// the value keep some of the line's leading spaces.
	first := t.Pos.Line + 1
	for first <= len(t.lines) && strings.TrimSpace(t.line(first)) == "" {
		first++
	}
	extra := 0
	for _, l := range strings.Split(t.Value, "\n") {
		if strings.TrimSpace(l) != "" {
			extra = leadingSpaces(l)
			break
		}
	}
	indent := leadingSpaces(t.line(first)) - extra
	if indent < 0 {
		return nil
	}
	folded := t.style&yaml.FoldedStyle != 0
	var out, empty []srcRune // empty: the breaks of empty lines since the last content line
	var lastBreak *srcRune   // the break ending the last content line
	lastBlank := false       // the last content line starts with white space
	for l := t.Pos.Line + 1; l <= len(t.lines) && len(out) <= limit; l++ {
		s := []rune(t.line(l))
		i := 0
		for i < indent && i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			empty = append(empty, srcRune{r: '\n', line: l, col: len(s) + 1})
			continue
		}
		if i < indent {
			break // less indented: the scalar has ended
		}
		blank := s[i] == ' ' || s[i] == '\t'
		switch {
		case lastBreak == nil:
		case folded && !lastBlank && !blank:
			if len(empty) == 0 {
				out = append(out, srcRune{r: ' ', line: lastBreak.line, col: lastBreak.col})
			}
		default:
			out = append(out, *lastBreak)
		}
		out = append(out, empty...)
		empty = nil
		for ; i < len(s); i++ {
			out = append(out, srcRune{r: s[i], line: l, col: i + 1, literal: true})
		}
		lastBreak, lastBlank = &srcRune{r: '\n', line: l, col: len(s) + 1}, blank
	}
	if lastBreak != nil {
		out = append(out, *lastBreak)
	}
	return append(out, empty...)
}

// srcRune is one rune of a decoded scalar and its 1-based place in the
// file.
type srcRune struct {
	r         rune
	line, col int
	literal   bool // written as itself (not an escape or a folded line break)
}

// flowAt maps a position in a plain, single- or double-quoted scalar by
// decoding the scalar again from the file, keeping where each rune comes
// from. It gives up (false) when its decoding does not reproduce t.Value.
func (t Text) flowAt(line, col int) (Pos, bool) {
	return t.locate(t.decodeFlow(utf8.RuneCountInString(t.Value)), line, col)
}

// locate maps a position inside t.Value to the file, given runes: t.Value
// decoded again from the file, with where each rune comes from. It fails
// when runes do not begin with t.Value.
func (t Text) locate(runes []srcRune, line, col int) (Pos, bool) {
	want := []rune(t.Value)
	if len(runes) < len(want) {
		return Pos{}, false
	}
	for i, r := range want {
		if runes[i].r != r {
			return Pos{}, false
		}
	}
	runes = runes[:len(want)]
	ln, cn := 1, 0
	for _, sr := range runes {
		if ln == line && cn == col {
			return Pos{File: t.Pos.File, Line: sr.line, Col: sr.col}, true
		}
		if sr.r == '\n' {
			ln, cn = ln+1, 0
		} else {
			cn++
		}
	}
	if ln == line && cn == col {
		// Just past the end, where expr reports some errors.
		if len(runes) == 0 {
			return Pos{File: t.Pos.File, Line: t.Pos.Line, Col: t.Pos.Col}, true
		}
		last := runes[len(runes)-1]
		if last.r == '\n' {
			// A line break sits at the end of its line already.
			return Pos{File: t.Pos.File, Line: last.line, Col: last.col}, true
		}
		return Pos{File: t.Pos.File, Line: last.line, Col: last.col + 1}, true
	}
	return Pos{}, false
}

// yamlEscapes are the one-letter escapes of double-quoted YAML scalars.
var yamlEscapes = map[rune]rune{
	'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
	'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85,
	'_': 0xa0, 'L': 0x2028, 'P': 0x2029,
}

// decodeFlow decodes a flow scalar from its source lines: escapes, doubled
// single quotes, and line folding (a single line break becomes a space, each
// empty line a newline, white space around line breaks is dropped). A plain
// scalar is decoded past its end, up to limit runes; callers compare with
// t.Value.
func (t Text) decodeFlow(limit int) []srcRune {
	double := t.style&yaml.DoubleQuotedStyle != 0
	single := t.style&yaml.SingleQuotedStyle != 0
	l := t.Pos.Line
	s := []rune(strings.TrimSuffix(t.line(l), "\r"))
	i := t.Pos.Col - 1
	if double || single {
		i++
	}
	if i < 0 {
		return nil
	}
	var out []srcRune
	for len(out) < limit {
		escapedBreak := false
	scan:
		for i < len(s) {
			c := s[i]
			switch {
			case double && c == '"', single && c == '\'' && (i+1 >= len(s) || s[i+1] != '\''):
				return out
			case single && c == '\'':
				out = append(out, srcRune{r: '\'', line: l, col: i + 1})
				i += 2
			case !double && !single && c == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
				break scan
			case double && c == '\\' && i+1 == len(s):
				escapedBreak = true
				i++
			case double && c == '\\':
				r, n := yamlEscape(s[i+1:])
				if n == 0 {
					return out
				}
				out = append(out, srcRune{r: r, line: l, col: i + 1})
				i += 1 + n
			default:
				out = append(out, srcRune{r: c, line: l, col: i + 1, literal: true})
				i++
			}
		}
		if !escapedBreak {
			for len(out) > 0 && out[len(out)-1].literal && (out[len(out)-1].r == ' ' || out[len(out)-1].r == '\t') {
				out = out[:len(out)-1]
			}
		}
		breakLine, breakCol := l, len(s)+1
		empty := 0
		for l++; l <= len(t.lines) && strings.TrimSpace(t.line(l)) == ""; l++ {
			empty++
		}
		if l > len(t.lines) {
			return out
		}
		s = []rune(strings.TrimSuffix(t.line(l), "\r"))
		for i = 0; i < len(s) && (s[i] == ' ' || s[i] == '\t'); i++ {
		}
		switch {
		case escapedBreak:
		case empty == 0:
			out = append(out, srcRune{r: ' ', line: breakLine, col: breakCol})
		default:
			for range empty {
				out = append(out, srcRune{r: '\n', line: breakLine, col: breakCol})
			}
		}
	}
	return out
}

// yamlEscape decodes the escape after a backslash in a double-quoted scalar,
// returning the rune and how many runes of s it used (0 when invalid).
func yamlEscape(s []rune) (rune, int) {
	if len(s) == 0 {
		return 0, 0
	}
	width := map[rune]int{'x': 2, 'u': 4, 'U': 8}[s[0]]
	if width == 0 {
		r, ok := yamlEscapes[s[0]]
		if !ok {
			return 0, 0
		}
		return r, 1
	}
	if len(s) < 1+width {
		return 0, 0
	}
	n, err := strconv.ParseUint(string(s[1:1+width]), 16, 32)
	if err != nil {
		return 0, 0
	}
	return rune(n), 1 + width
}
