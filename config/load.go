package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

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

func (p *parser) syntaxError(err error) {
	msg, line := err.Error(), 1
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	numbered := false
	if m := yamlLineErr.FindStringSubmatch("yaml: " + msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg, numbered = m[2], true
	} else if m := regexp.MustCompile(`^line (\d+): (.*)$`).FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg, numbered = m[2], true
	}
	if numbered && parserProblem(msg) {
		// yaml.v3 numbers parser errors (unlike scanner errors) from 0.
		line++
	}
	if line > len(p.lines) {
		line = max(len(p.lines), 1)
	}
	col := 0
	src := ""
	if line <= len(p.lines) {
		src = p.lines[line-1]
	}
	hint := "check indentation and quoting on this line or the one before it"
	switch {
	case strings.Contains(msg, "tab character"), strings.Contains(msg, "cannot start any token") && strings.Contains(src, "\t"):
		// yaml.v3 reports the line where the scalar before the tab starts;
		// the tab is on that line or a later one.
		for l := line; l <= len(p.lines); l++ {
			if i := strings.Index(p.lines[l-1], "\t"); i >= 0 {
				line, src, col = l, p.lines[l-1], runeCol(p.lines[l-1], i)
				break
			}
		}
		hint = "YAML indentation must use spaces, not tabs"
	case strings.Contains(msg, "mapping values are not allowed"):
		hint = "a value containing `: ` must be quoted, e.g. item: \"a: b\""
		// The offending `:` is the second one on the line, or the only one
		// when the line continues the value of the line before it.
		if i := mappingColon(src, 0); i >= 0 {
			col = runeCol(src, i)
			if j := mappingColon(src, i+1); j >= 0 {
				col = runeCol(src, j)
			}
		}
	case strings.HasPrefix(msg, "did not find expected '-' indicator"), strings.HasPrefix(msg, "did not find expected key"):
		// yaml.v3 reports where the enclosing list or mapping starts; the
		// offending line is usually the first one indented inconsistently.
		if l := p.misindented(line, strings.HasPrefix(msg, "did not find expected '-'")); l > 0 {
			line, src = l, p.lines[l-1]
		}
	case strings.Contains(msg, "did not find expected ',' or ']'"):
		col = bracketCol(src, '[')
	case strings.Contains(msg, "did not find expected ',' or '}'"):
		col = bracketCol(src, '{')
	case strings.Contains(msg, "found character that cannot start any token"):
		hint = "quote values that start with @, ` or %"
	}
	if col == 0 {
		col = 1 + leadingSpaces(src)
	}
	p.diags.Errorf(Pos{File: p.file, Line: line, Col: col}, CodeSyntax, hint, "invalid YAML: %s", msg)
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

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

// end returns the position just past a one-line scalar, or the zero Pos
// when the node spans lines or is not a scalar.
func (p *parser) end(n *yaml.Node) Pos {
	if n.Kind != yaml.ScalarNode || n.Line < 1 || n.Line > len(p.lines) {
		return Pos{}
	}
	text := []rune(p.lines[n.Line-1])
	start := n.Column - 1
	if start < 0 || start >= len(text) {
		return Pos{}
	}
	width := utf8.RuneCountInString(n.Value)
	switch n.Style {
	case 0, yaml.TaggedStyle:
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		// Find the closing quote: escapes make the value shorter than its text.
		q := text[start]
		width = 1
		for i := start + 1; i < len(text); i++ {
			width++
			if text[i] == '\\' && q == '"' {
				i++
				width++
				continue
			}
			if text[i] == q {
				if q == '\'' && i+1 < len(text) && text[i+1] == '\'' {
					i++
					width++
					continue
				}
				return Pos{File: p.file, Line: n.Line, Col: n.Column + width}
			}
		}
		return Pos{}
	default:
		return Pos{}
	}
	if start+width > len(text) || string(text[start:start+width]) != n.Value {
		return Pos{}
	}
	return Pos{File: p.file, Line: n.Line, Col: n.Column + width}
}

// field is one key a mapping may hold. The same tables drive the loader
// (parse) and `pcrun schema` (doc, def, schema), so a key the loader
// accepts is always in the schema; see FileSchema.
type field struct {
	name     string
	required bool
	doc      string         // the key's description in the schema
	def      any            // its default as a JSON value; nil for none
	schema   func() *Schema // the shape of its value; nil for any value
	parse    func(key, val *yaml.Node)
	// neededIf, when not nil, makes the key required when it reports true
	// once the mapping's other keys are walked (a producer's `count` and
	// `item`, unless it reads a source). The schema says it with oneOf.
	neededIf func() bool
}

// mapping walks a mapping node against its fields: unknown keys (with a
// suggestion), duplicate keys, merge keys (<<) and missing required keys.
func (p *parser) mapping(n *yaml.Node, what string, fields []field) bool {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.diags.Errorf(p.pos(n), CodeType, "", "%s must be a mapping of keys to values, not %s", what, describe(n))
		return false
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	seen := map[string]*yaml.Node{}
	suggested := map[string]bool{}
	p.walkKeys(n, what, fields, names, seen, suggested, map[*yaml.Node]bool{n: true}, false)
	for _, f := range fields {
		// A misspelt required key was already reported with a suggestion.
		required := f.required || f.neededIf != nil && f.neededIf()
		if required && seen[f.name] == nil && !suggested[f.name] {
			p.diags.Errorf(p.pos(n), CodeMissing, fmt.Sprintf("add `%s:` to %s", f.name, what), "%s is missing required key `%s`", what, f.name)
		}
	}
	return true
}

// walkKeys walks the keys of n, then of the mappings merged into it with
// `<<`. walked holds the mappings already walked: merging one again adds
// nothing, and skipping it keeps an anchor that merges itself, or nested
// merges of merges, from recursing forever or exponentially.
func (p *parser) walkKeys(n *yaml.Node, what string, fields []field, names []string, seen map[string]*yaml.Node, suggested map[string]bool, walked map[*yaml.Node]bool, merged bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if prev := seen[k.Value]; prev != nil {
			if !merged {
				p.diags.Errorf(p.pos(k), CodeDuplicateKey, fmt.Sprintf("remove one of them (the first is at line %d)", prev.Line),
					"key `%s` is given twice in %s", k.Value, what)
			}
			continue
		}
		var f *field
		for j := range fields {
			if fields[j].name == k.Value {
				f = &fields[j]
			}
		}
		if f == nil {
			p.diags.Errorf(p.pos(k), CodeUnknownField, DidYouMean(k.Value, names), "unknown key `%s` in %s", k.Value, what)
			p.diags[len(p.diags)-1].End = p.end(k)
			suggested[Suggest(k.Value, names)] = true
			continue
		}
		seen[k.Value] = k
		if resolve(v).Tag == "!!null" {
			if f.required || f.neededIf != nil {
				p.diags.Errorf(p.pos(v), CodeMissing, "give it a value or remove the key", "`%s` has no value", k.Value)
			}
			continue
		}
		f.parse(k, v)
	}
	for _, m := range merges {
		m = resolve(m)
		list := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			list = m.Content
		}
		for _, mm := range list {
			if mm = resolve(mm); mm.Kind == yaml.MappingNode && !walked[mm] {
				walked[mm] = true
				p.walkKeys(mm, what, fields, names, seen, suggested, walked, true)
			}
		}
	}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return n.Value
}

// str reads a scalar as a string. Non-string scalars (numbers, booleans)
// are accepted as written.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.diags.Errorf(p.pos(n), CodeType, "", "%s must be a string, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// integer reads an integer scalar; floats and strings are errors.
func (p *parser) integer(n *yaml.Node, what string) (int, bool) {
	return p.integerHint(n, what, "write a whole number, e.g. 3")
}

// integerHint is integer with the hint given when n is not an integer.
func (p *parser) integerHint(n *yaml.Node, what, hint string) (int, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		p.diags.Errorf(p.pos(n), CodeType, hint, "%s must be an integer, not %s", what, describe(n))
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		p.diags.Errorf(p.pos(n), CodeRange, "", "%s: %s is too large", what, n.Value)
		return 0, false
	}
	return v, true
}

// isTemplate reports whether n is a string with a `${` placeholder, which
// `count` and `replicas` accept in place of an integer.
func isTemplate(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && strings.Contains(n.Value, "${")
}

// duration reads a Go duration such as 250ms or 1m30s.
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.diags.Errorf(p.pos(n), CodeType, "", "%s must be a duration like 30s, not %s", what, describe(n))
		return 0, false
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		p.diags.Errorf(p.pos(n), CodeDuration, DurationHint, "%s: %v", what, err)
		return 0, false
	}
	return d, true
}

// DurationHint explains the duration syntax.
const DurationHint = "use a number with a unit: ns, us, ms, s, m or h, e.g. 250ms, 1s, 1m30s"

// ParseDuration parses a non-negative Go duration, with a message fit for
// a diagnostic on failure.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return 0, fmt.Errorf("%q has no unit", s)
		}
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// maxAliasValues bounds the Values that aliases expand into in one file:
// aliases of aliases grow exponentially (a "billion laughs" file), and
// stages compiles every Value.
const maxAliasValues = 10000

// value converts a node into a Value (scalars, maps, lists), expanding
// aliases (see alias).
func (p *parser) value(n *yaml.Node, what string) *Value {
	at := p.pos(n)
	if target := resolve(n); target != n {
		return p.alias(n, target, what)
	}
	if len(p.expanding) > 0 {
		if p.aliasValues++; p.aliasValues > maxAliasValues {
			return &Value{Kind: ScalarValue, Pos: at}
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		v := &Value{Kind: ScalarValue, Pos: at, Text: p.text(n)}
		if n.ShortTag() == "!!str" {
			v.Str = true
		} else if err := n.Decode(&v.Const); err != nil {
			p.diags.Errorf(at, CodeType, "", "%s: %v", what, err)
		}
		if n.Kind == yaml.ScalarNode && resolve(n) != n {
			v.Pos = p.pos(n)
		}
		return v
	case yaml.MappingNode:
		v := &Value{Kind: MapValue, Pos: at}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				p.diags.Errorf(p.pos(k), CodeType, "", "keys in %s must be strings", what)
				continue
			}
			if seen[k.Value] {
				p.diags.Errorf(p.pos(k), CodeDuplicateKey, "remove one of them", "key `%s` is given twice in %s", k.Value, what)
				continue
			}
			seen[k.Value] = true
			v.Keys = append(v.Keys, p.text(k))
			v.Elems = append(v.Elems, p.value(n.Content[i+1], what))
		}
		return v
	case yaml.SequenceNode:
		v := &Value{Kind: ListValue, Pos: at}
		for _, e := range n.Content {
			v.Elems = append(v.Elems, p.value(e, what))
		}
		return v
	}
	p.diags.Errorf(at, CodeType, "", "%s has an unsupported YAML value", what)
	return &Value{Kind: ScalarValue, Pos: at}
}

// alias expands the anchored node target that alias n names, giving the
// Value n's position. An alias inside the value it names would expand
// forever, and all aliases of a file together may expand into at most
// maxAliasValues Values; both are errors, reported at the outermost alias.
func (p *parser) alias(n, target *yaml.Node, what string) *Value {
	at := p.pos(n)
	if p.expanding[target] {
		p.diags.Errorf(at, CodeSyntax, "an anchored value cannot contain an alias to itself",
			"%s: alias `*%s` is inside the value it names", what, n.Value)
		return &Value{Kind: ScalarValue, Pos: at}
	}
	if p.expanding == nil {
		p.expanding = map[*yaml.Node]bool{}
	}
	before := p.aliasValues
	p.expanding[target] = true
	v := p.value(target, what)
	delete(p.expanding, target)
	if len(p.expanding) == 0 && before <= maxAliasValues && p.aliasValues > maxAliasValues {
		p.diags.Errorf(at, CodeSyntax, "write the values out, or nest fewer aliases",
			"%s: aliases in this file expand into more than %d values", what, maxAliasValues)
	}
	v.Pos = at
	return v
}

func (p *parser) text(n *yaml.Node) Text {
	return Text{Value: n.Value, Pos: p.pos(n), style: n.Style, lines: p.lines}
}

// stageName is what stage and queue names may look like.
var stageName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func (p *parser) name(n *yaml.Node, what string) (string, Pos, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return "", p.pos(n), false
	}
	if !stageName.MatchString(s) {
		p.diags.Errorf(p.pos(n), CodeBadName, "start with a letter or _, then use letters, digits, _ or -",
			"%s %q is not a valid name", what, s)
		return s, p.pos(n), false
	}
	return s, p.pos(n), true
}

// Base returns the default pipeline name for a file: its base name without
// extension.
func Base(file string) string {
	b := filepath.Base(file)
	return strings.TrimSuffix(b, filepath.Ext(b))
}
