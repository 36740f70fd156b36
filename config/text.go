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
		case closingQuote(src, i, double):
			return i + 1, false
		case double && src[i] == '\\' && i+1 < len(src):
			i += 2 + hexEscapes[src[i+1]]
		case !double && src[i] == '\'':
			i += 2
		default:
			i++
		}
	}
	return 0, false
}

// closingQuote reports whether s[i] closes a double-quoted (double) or a
// single-quoted scalar: in the latter, a quote that is not doubled.
func closingQuote(s []rune, i int, double bool) bool {
	if double {
		return s[i] == '"'
	}
	return s[i] == '\'' && (i+1 >= len(s) || s[i+1] != '\'')
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
	indent := t.blockIndent()
	if indent < 0 {
		return nil
	}
	d := &blockDecoder{folded: t.style&yaml.FoldedStyle != 0}
	for l := t.Pos.Line + 1; l <= len(t.lines) && len(d.out) <= limit; l++ {
		s := []rune(t.line(l))
		i := 0
		for i < indent && i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			d.empty = append(d.empty, srcRune{r: '\n', line: l, col: len(s) + 1})
			continue
		}
		if i < indent {
			break // less indented: the scalar has ended
		}
		d.content(l, s, i)
	}
	return d.end()
}

// blockIndent is the indentation of a block scalar's content: what the
// first line with content has more than the same line in the value (an
// indentation indicator, |2, can make the value keep some of the line's
// leading spaces). It is negative when the value does not fit the file.
func (t Text) blockIndent() int {
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
	return leadingSpaces(t.line(first)) - extra
}

// blockDecoder is decodeBlock's output, and what it holds back: line
// breaks are written only once the next content line shows how they fold.
type blockDecoder struct {
	folded    bool
	out       []srcRune
	empty     []srcRune // the breaks of empty lines since the last content line
	lastBreak *srcRune  // the break ending the last content line
	lastBlank bool      // the last content line starts with white space
}

// content decodes line l, whose text is s and whose content starts at
// s[i], after the breaks held back before it.
func (d *blockDecoder) content(l int, s []rune, i int) {
	blank := isBlank(s[i])
	switch {
	case d.lastBreak == nil:
	case d.folded && !d.lastBlank && !blank:
		if len(d.empty) == 0 {
			d.out = append(d.out, srcRune{r: ' ', line: d.lastBreak.line, col: d.lastBreak.col})
		}
	default:
		d.out = append(d.out, *d.lastBreak)
	}
	d.out = append(d.out, d.empty...)
	d.empty = nil
	for ; i < len(s); i++ {
		d.out = append(d.out, srcRune{r: s[i], line: l, col: i + 1, literal: true})
	}
	d.lastBreak, d.lastBlank = &srcRune{r: '\n', line: l, col: len(s) + 1}, blank
}

// end returns the output with the breaks still held back.
func (d *blockDecoder) end() []srcRune {
	if d.lastBreak != nil {
		d.out = append(d.out, *d.lastBreak)
	}
	return append(d.out, d.empty...)
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

// hexEscapes are the escapes of double-quoted YAML scalars followed by hex
// digits, and how many.
var hexEscapes = map[rune]int{'x': 2, 'u': 4, 'U': 8}

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
// t.Value. The limit is checked at line breaks only.
func (t Text) decodeFlow(limit int) []srcRune {
	d := &flowDecoder{t: t, double: t.style&yaml.DoubleQuotedStyle != 0, single: t.style&yaml.SingleQuotedStyle != 0}
	d.l, d.s = t.Pos.Line, d.runes(t.Pos.Line)
	d.i = t.Pos.Col - 1
	if d.double || d.single {
		d.i++ // past the opening quote
	}
	if d.i < 0 {
		return nil
	}
	for len(d.out) < limit {
		ended, escapedBreak := d.scanLine()
		if ended {
			break
		}
		if !escapedBreak {
			d.trimBlanks()
		}
		if !d.nextLine(escapedBreak) {
			break
		}
	}
	return d.out
}

// flowDecoder is decodeFlow's state: where it reads, and what it decoded.
// It reads a line at a time: scanLine decodes the rest of the current
// line, nextLine folds the line break into the output and moves on.
type flowDecoder struct {
	t              Text
	double, single bool
	l              int    // the line read, 1-based
	s              []rune // its text
	i              int    // the next rune of s to decode
	out            []srcRune
}

// runes is line l without a trailing \r.
func (d *flowDecoder) runes(l int) []rune {
	return []rune(strings.TrimSuffix(d.t.line(l), "\r"))
}

// scanLine decodes the rest of the current line. ended reports that the
// scalar ends on it: at its closing quote, or at an escape that does not
// decode. escapedBreak reports a backslash that ends the line (in a
// double-quoted scalar), which keeps the white space before it and joins
// the next line without a space. A comment ends the line of a plain scalar.
func (d *flowDecoder) scanLine() (ended, escapedBreak bool) {
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case d.closes():
			return true, false
		case d.single && c == '\'':
			d.emit('\'', false)
			d.i += 2
		case d.comment():
			return false, false
		case d.double && c == '\\' && d.i+1 == len(d.s):
			d.i++
			return false, true
		case d.double && c == '\\':
			r, n := yamlEscape(d.s[d.i+1:])
			if n == 0 {
				return true, false
			}
			d.emit(r, false)
			d.i += 1 + n
		default:
			d.emit(c, true)
			d.i++
		}
	}
	return false, false
}

// closes reports whether the rune read is the closing quote (in a
// single-quoted scalar, a quote that is not doubled).
func (d *flowDecoder) closes() bool {
	return (d.double || d.single) && closingQuote(d.s, d.i, d.double)
}

// comment reports whether a comment starts at the rune read: a `#` after
// white space, in a plain scalar.
func (d *flowDecoder) comment() bool {
	return !d.double && !d.single && d.s[d.i] == '#' && d.i > 0 && isBlank(d.s[d.i-1])
}

// emit appends r, read at the current rune, to the output.
func (d *flowDecoder) emit(r rune, literal bool) {
	d.out = append(d.out, srcRune{r: r, line: d.l, col: d.i + 1, literal: literal})
}

// trimBlanks drops the spaces and tabs written at the end of the output:
// white space before a line break is not part of the value.
func (d *flowDecoder) trimBlanks() {
	for n := len(d.out); n > 0 && d.out[n-1].literal && isBlank(d.out[n-1].r); n-- {
		d.out = d.out[:n-1]
	}
}

// nextLine moves to the next line that is not empty, past its leading
// white space, and folds the line break before it into the output: a
// space, a newline per empty line skipped, or nothing after an escaped
// break. It reports false at the end of the file.
func (d *flowDecoder) nextLine(escapedBreak bool) bool {
	brk := srcRune{line: d.l, col: len(d.s) + 1}
	empty := 0
	for d.l++; d.l <= len(d.t.lines) && strings.TrimSpace(d.t.line(d.l)) == ""; d.l++ {
		empty++
	}
	if d.l > len(d.t.lines) {
		return false
	}
	d.s = d.runes(d.l)
	for d.i = 0; d.i < len(d.s) && isBlank(d.s[d.i]); d.i++ {
	}
	switch {
	case escapedBreak:
	case empty == 0:
		brk.r = ' '
		d.out = append(d.out, brk)
	default:
		brk.r = '\n'
		for range empty {
			d.out = append(d.out, brk)
		}
	}
	return true
}

// isBlank reports whether r is white space inside a line.
func isBlank(r rune) bool { return r == ' ' || r == '\t' }

// yamlEscape decodes the escape after a backslash in a double-quoted scalar,
// returning the rune and how many runes of s it used (0 when invalid).
func yamlEscape(s []rune) (rune, int) {
	if len(s) == 0 {
		return 0, 0
	}
	width := hexEscapes[s[0]]
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
