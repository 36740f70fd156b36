package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Walking the tree: a mapping is walked against a table of fields
// (unknown, duplicate, merged and missing keys), and scalars, lists and
// free-form values are read into typed values that keep their positions.
// The tables themselves, one per kind of mapping, live with the keys they
// describe (pipeline.go, queues.go, shutdown.go, stage.go, source.go,
// onerror.go, tests.go).

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
		if i := quoteEnd(text, start); i >= 0 {
			return Pos{File: p.file, Line: n.Line, Col: n.Column + i - start + 1}
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

// quoteEnd returns the index of the quote that closes the quoted scalar
// whose opening quote is s[start], or -1 when the line does not close it.
func quoteEnd(s []rune, start int) int {
	q := s[start]
	for i := start + 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q == '"':
			i++ // an escape: the next rune is not the quote
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++ // a doubled quote
		case s[i] == q:
			return i
		}
	}
	return -1
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
	w := &keyWalk{what: what, fields: fields, names: make([]string, len(fields)),
		seen: map[string]*yaml.Node{}, suggested: map[string]bool{}, walked: map[*yaml.Node]bool{n: true}}
	for i, f := range fields {
		w.names[i] = f.name
	}
	p.walkKeys(w, n, false)
	for _, f := range fields {
		// A misspelt required key was already reported with a suggestion.
		required := f.required || f.neededIf != nil && f.neededIf()
		if required && w.seen[f.name] == nil && !w.suggested[f.name] {
			p.diags.Errorf(p.pos(n), CodeMissing, fmt.Sprintf("add `%s:` to %s", f.name, what), "%s is missing required key `%s`", what, f.name)
		}
	}
	return true
}

// keyWalk is what mapping knows while it walks the keys of a mapping and
// of the mappings merged into it.
type keyWalk struct {
	what      string
	fields    []field
	names     []string              // the fields' names
	seen      map[string]*yaml.Node // the keys given, by name
	suggested map[string]bool       // the names suggested for unknown keys
	// walked holds the mappings already walked: merging one again adds
	// nothing, and skipping it keeps an anchor that merges itself, or
	// nested merges of merges, from recursing forever or exponentially.
	walked map[*yaml.Node]bool
}

// walkKeys walks the keys of n, then of the mappings merged into it with
// `<<`. A key given again in a merged mapping is not a duplicate: the
// first one wins.
func (p *parser) walkKeys(w *keyWalk, n *yaml.Node, merged bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		p.walkKey(w, k, v, merged)
	}
	for _, m := range merges {
		m = resolve(m)
		list := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			list = m.Content
		}
		for _, mm := range list {
			if mm = resolve(mm); mm.Kind == yaml.MappingNode && !w.walked[mm] {
				w.walked[mm] = true
				p.walkKeys(w, mm, true)
			}
		}
	}
}

// walkKey checks key k and parses its value v with its field.
func (p *parser) walkKey(w *keyWalk, k, v *yaml.Node, merged bool) {
	if prev := w.seen[k.Value]; prev != nil {
		if !merged {
			p.diags.Errorf(p.pos(k), CodeDuplicateKey, fmt.Sprintf("remove one of them (the first is at line %d)", prev.Line),
				"key `%s` is given twice in %s", k.Value, w.what)
		}
		return
	}
	var f *field
	for j := range w.fields {
		if w.fields[j].name == k.Value {
			f = &w.fields[j]
		}
	}
	if f == nil {
		p.diags.Errorf(p.pos(k), CodeUnknownField, DidYouMean(k.Value, w.names), "unknown key `%s` in %s", k.Value, w.what)
		p.diags[len(p.diags)-1].End = p.end(k)
		w.suggested[Suggest(k.Value, w.names)] = true
		return
	}
	w.seen[k.Value] = k
	if resolve(v).Tag == "!!null" {
		if f.required || f.neededIf != nil {
			p.diags.Errorf(p.pos(v), CodeMissing, "give it a value or remove the key", "`%s` has no value", k.Value)
		}
		return
	}
	f.parse(k, v)
}

// entries walks a mapping whose keys are names the file chooses (a
// test's vars, counts or queues), calling each for every key and value. A
// node that is not a mapping is reported with hint and the format
// notMapping, which takes describe(n); a key given twice with the format
// twice, which takes the key.
func (p *parser) entries(n *yaml.Node, hint, notMapping, twice string, each func(k, v *yaml.Node)) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.diags.Errorf(p.pos(n), CodeType, hint, notMapping, describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.diags.Errorf(p.pos(k), CodeDuplicateKey, "remove one of them", twice, k.Value)
			continue
		}
		seen[k.Value] = true
		each(k, v)
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

// positiveDuration reads a duration longer than 0; 0 is reported with
// hint.
func (p *parser) positiveDuration(n *yaml.Node, what, hint string) (time.Duration, bool) {
	d, ok := p.duration(n, what)
	if ok && d == 0 {
		p.diags.Errorf(p.pos(n), CodeDuration, hint, "%s must be longer than 0", what)
		return 0, false
	}
	return d, ok
}

// oneOf reads a string that must be one of valid, and records its position
// in at once it is a string. An unknown string is reported with the
// format unknown, and a suggestion followed by choices, e.g. "(memory or
// nats)".
func (p *parser) oneOf(n *yaml.Node, what string, valid []string, at *Pos, choices, unknown string) (string, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return "", false
	}
	*at = p.pos(n)
	if slices.Contains(valid, s) {
		return s, true
	}
	p.diags.Errorf(p.pos(n), CodeEnum, DidYouMean(s, valid)+" "+choices, unknown, s)
	return "", false
}

// matching reads a string that must match re. One that does not is
// reported with hint and the format msg.
func (p *parser) matching(n *yaml.Node, what string, re *regexp.Regexp, hint, msg string) (string, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return "", false
	}
	if !re.MatchString(s) {
		p.diags.Errorf(p.pos(n), CodeBadName, hint, msg, s)
		return "", false
	}
	return s, true
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

// ShortDuration writes d as a pipeline file would: 1m, not 1m0s; 1h, not
// 1h0m0s. ParseDuration reads it back.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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

func (p *parser) list(n *yaml.Node, what, entry string, each func(int, *yaml.Node)) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.diags.Errorf(p.pos(n), CodeType, fmt.Sprintf("write %s as a list: each entry starts with `- %s`", what, entry),
			"%s must be a list, not %s", what, describe(n))
		return
	}
	for i, e := range n.Content {
		each(i, e)
	}
}
