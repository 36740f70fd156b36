package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Reading the text: yaml.v3 turns the file into a tree of nodes, and each
// syntax error it reports becomes one diagnostic, placed on the line and
// column a reader would look at, with a hint. Nothing here knows the keys
// of a pipeline file; walk.go and the field tables check the tree.

// decode parses the YAML into a node tree, reporting syntax errors.
func (p *parser) decode(src []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		p.diags.Errorf(Pos{File: p.file, Line: 1, Col: 1}, CodeNoStages,
			"declare at least one producer, e.g.\n\tproducers:\n\t  - name: p\n\t    count: 3\n\t    item: \"item ${i}\"",
			"the pipeline file is empty")
		return nil, false
	}
	if err != nil {
		p.syntaxError(err)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.diags.Errorf(p.pos(&extra), CodeSyntax, "put one pipeline in each file",
			"a pipeline file holds one YAML document, found a second one")
	} else if !errors.Is(err, io.EOF) {
		p.syntaxError(err)
		return nil, false
	}
	if len(doc.Content) == 0 {
		p.diags.Errorf(Pos{File: p.file, Line: 1, Col: 1}, CodeNoStages, "declare producers and consumers", "the pipeline file is empty")
		return nil, false
	}
	return doc.Content[0], true
}

// syntaxError reports a yaml.v3 error as an invalid-YAML diagnostic.
func (p *parser) syntaxError(err error) {
	msg, line := yamlMessage(err)
	line = min(line, max(len(p.lines), 1))
	line, col, hint := p.syntaxPlace(msg, line)
	p.diags.Errorf(Pos{File: p.file, Line: line, Col: col}, CodeSyntax, hint, "invalid YAML: %s", msg)
}

// yamlLineErr is how yaml.v3 numbers a problem, less its "yaml: " prefix.
var yamlLineErr = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlMessage splits a yaml.v3 error into its message and the 1-based
// line it names (1 when it names none).
func yamlMessage(err error) (msg string, line int) {
	msg, line = err.Error(), 1
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblem(msg) {
			// yaml.v3 numbers parser errors (unlike scanner errors) from 0.
			line++
		}
	}
	return msg, line
}

// syntaxPlace is where a syntax error yaml.v3 reports at line is shown,
// the line and column a reader would look at, and its hint.
func (p *parser) syntaxPlace(msg string, line int) (int, int, string) {
	src := p.srcLine(line)
	col := 0
	hint := "check indentation and quoting on this line or the one before it"
	switch {
	case strings.Contains(msg, "tab character"), strings.Contains(msg, "cannot start any token") && strings.Contains(src, "\t"):
		line, col = p.tabAt(line)
		hint = "YAML indentation must use spaces, not tabs"
	case strings.Contains(msg, "mapping values are not allowed"):
		hint = "a value containing `: ` must be quoted, e.g. item: \"a: b\""
		col = mappingValueCol(src)
	case strings.HasPrefix(msg, "did not find expected '-' indicator"), strings.HasPrefix(msg, "did not find expected key"):
		// yaml.v3 reports where the enclosing list or mapping starts; the
		// offending line is usually the first one indented inconsistently.
		if l := p.misindented(line, strings.HasPrefix(msg, "did not find expected '-'")); l > 0 {
			line = l
		}
	case strings.Contains(msg, "did not find expected ',' or ']'"):
		col = bracketCol(src, '[')
	case strings.Contains(msg, "did not find expected ',' or '}'"):
		col = bracketCol(src, '{')
	case strings.Contains(msg, "found character that cannot start any token"):
		hint = "quote values that start with @, ` or %"
	}
	if col == 0 {
		col = 1 + leadingSpaces(p.srcLine(line))
	}
	return line, col, hint
}

// srcLine is line n of the file, or "" past its end.
func (p *parser) srcLine(n int) string {
	if n < 1 || n > len(p.lines) {
		return ""
	}
	return p.lines[n-1]
}

// tabAt finds the tab yaml.v3 complains about: it reports the line where
// the scalar before the tab starts, and the tab is on that line or a
// later one. It returns the tab's line and column, or line and 0 when
// there is none.
func (p *parser) tabAt(line int) (int, int) {
	for l := line; l <= len(p.lines); l++ {
		if i := strings.Index(p.lines[l-1], "\t"); i >= 0 {
			return l, runeCol(p.lines[l-1], i)
		}
	}
	return line, 0
}

// mappingValueCol is the column of the offending `:` of "mapping values
// are not allowed": the second one on the line, or the only one when the
// line continues the value of the line before it; 0 when there is none.
func mappingValueCol(src string) int {
	i := mappingColon(src, 0)
	if i < 0 {
		return 0
	}
	if j := mappingColon(src, i+1); j >= 0 {
		return runeCol(src, j)
	}
	return runeCol(src, i)
}

// parserProblem reports whether msg is one of yaml.v3's parser (not
// scanner) problems; yaml.v3 gives their line 0-based.
func parserProblem(msg string) bool {
	for _, s := range []string{
		"did not find expected <", "did not find expected node content",
		"did not find expected '-' indicator", "did not find expected key",
		"did not find expected ',' or", "found undefined tag handle",
		"found duplicate %", "found incompatible YAML document",
	} {
		if strings.HasPrefix(msg, s) {
			return true
		}
	}
	return false
}

// mappingColon returns the byte index of the first `:` at or after from
// that is followed by a space or the end of the line, or -1.
func mappingColon(s string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			return i
		}
	}
	return -1
}

// misindented returns the first line after from that is indented less than
// the line before it but not as deep as any line from `from` on (so it
// closes no enclosing block), or 0. Blank and comment lines are skipped.
// With dash, from starts a list, and a line at the list's indentation that
// is not a `-` entry is misindented too.
func (p *parser) misindented(from int, dash bool) int {
	seen := map[int]bool{}
	prev := -1
	list := leadingSpaces(p.lines[from-1])
	for l := from; l <= len(p.lines); l++ {
		s := p.lines[l-1]
		t := strings.TrimLeft(s, " ")
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		ind := leadingSpaces(s)
		if l > from && ind < prev && !seen[ind] {
			return l
		}
		if l > from && dash && ind == list && !strings.HasPrefix(t, "-") {
			return l
		}
		seen[ind] = true
		// Content after "- " starts a block of its own.
		for strings.HasPrefix(t, "- ") {
			t = strings.TrimLeft(t[1:], " ")
			seen[len(s)-len(t)] = true
		}
		prev = ind
	}
	return 0
}

// bracketCol returns the 1-based column of the innermost unclosed open
// bracket on the line, or 0.
func bracketCol(s string, open byte) int {
	end := byte(']')
	if open == '{' {
		end = '}'
	}
	var stack []int
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case open:
			stack = append(stack, i)
		case end:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return 0
	}
	return runeCol(s, stack[len(stack)-1])
}

// runeCol converts a byte index in s into a 1-based rune column.
func runeCol(s string, i int) int { return utf8.RuneCountInString(s[:i]) + 1 }
