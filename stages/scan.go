package stages

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// segment is one piece of a template: literal text, or an expression with
// the position (line 1-based, col 0-based runes) where its source starts
// inside the template's text.
type segment struct {
	lit  string
	expr string
	isEx bool
	line int
	col  int
}

// ScanError is a malformed template: an unterminated or empty placeholder.
type ScanError struct {
	Line, Col int // where the offending ${ starts, inside the template
	Msg       string
}

func (e *ScanError) Error() string { return e.Msg }

// scan splits a template into literal and expression segments. `${ expr }`
// is a placeholder; `$${` is a literal `${`. Braces and string literals
// inside the expression are skipped, so `${ {"a": "}"}.a }` is one
// placeholder.
func scan(s string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	line, col := 1, 0 // position of s[i]
	advance := func(from, to int) {
		for _, r := range s[from:to] {
			if r == '\n' {
				line, col = line+1, 0
			} else {
				col++
			}
		}
	}
	i := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			advance(i, i+3)
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			startLine, startCol := line, col
			end, ok := closing(s, i+2)
			if !ok {
				return nil, &ScanError{startLine, startCol, "unterminated placeholder: `${` has no matching `}`"}
			}
			src := s[i+2 : end]
			if strings.TrimSpace(src) == "" {
				return nil, &ScanError{startLine, startCol, "empty placeholder `${}`"}
			}
			if lit.Len() > 0 {
				segs = append(segs, segment{lit: lit.String()})
				lit.Reset()
			}
			advance(i, i+2)
			segs = append(segs, segment{expr: src, isEx: true, line: line, col: col})
			advance(i+2, end+1)
			i = end + 1
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			lit.WriteRune(r)
			advance(i, i+n)
			i += n
		}
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{lit: lit.String()})
	}
	return segs, nil
}

// closing returns the index of the `}` that ends a placeholder whose
// expression starts at i.
func closing(s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return 0, false
			}
			i = j
		case '{', '(', '[':
			depth++
		case ')', ']':
			depth--
		case '}':
			if depth == 0 {
				return i, true
			}
			depth--
		}
		i++
	}
	return 0, false
}

// HasPlaceholder reports whether s contains a `${` placeholder (not an
// escaped `$${`).
func HasPlaceholder(s string) bool {
	segs, err := scan(s)
	if err != nil {
		return true
	}
	for _, sg := range segs {
		if sg.isEx {
			return true
		}
	}
	return false
}

func (sg segment) String() string {
	if sg.isEx {
		return fmt.Sprintf("${%s}@%d:%d", sg.expr, sg.line, sg.col)
	}
	return fmt.Sprintf("%q", sg.lit)
}
