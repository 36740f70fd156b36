package config

import (
	"strconv"
	"strings"
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
// scalars are taken into account.
func (t Text) At(line, col int) Pos {
	p := t.Pos
	if !p.IsValid() {
		return p
	}
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

// blockAt maps a position in a literal (|) or folded (>) block scalar.
func (t Text) blockAt(line, col int) Pos {
	p := t.Pos
	first := p.Line + 1
	for first <= len(t.lines) && strings.TrimSpace(t.line(first)) == "" {
		first++
	}
	indent := leadingSpaces(t.line(first))
	if t.style&yaml.LiteralStyle != 0 {
		p.Line = p.Line + line
		p.Col = indent + col + 1
		return p
	}
	// Folded: consecutive non-blank lines join into one value line with spaces.
	valueLine, n := 1, p.Line+1
	for n <= len(t.lines) && valueLine < line {
		if strings.TrimSpace(t.line(n)) == "" {
			valueLine++
		}
		n++
	}
	for n <= len(t.lines) {
		s := t.line(n)
		width := utf8.RuneCountInString(strings.TrimLeft(s, " "))
		if col <= width || strings.TrimSpace(t.line(n+1)) == "" {
			break
		}
		col -= width + 1
		n++
	}
	p.Line, p.Col = n, indent+col+1
	return p
}

// srcRune is one rune of a decoded flow scalar and its 1-based place in the
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
	want := []rune(t.Value)
	runes := t.decodeFlow(len(want))
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
