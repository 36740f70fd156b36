package stages

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pcrun/pcrun/config"
)

// Formats [Render] can draw a graph in.
const (
	FormatMermaid = "mermaid" // a Mermaid flowchart, as GitHub renders in ```mermaid blocks
	FormatDot     = "dot"     // Graphviz: pipe it to `dot -Tsvg`
)

// RenderFormats lists the valid values of `pcrun graph --format`, the
// default first.
var RenderFormats = []string{FormatMermaid, FormatDot}

// Render draws g in format (one of [RenderFormats]) and writes it to w in
// one write. Stages and queues appear in file order, so the same file
// always gives the same text. It evaluates no expression.
func Render(w io.Writer, g *Graph, format string) error {
	d := drawGraph(g)
	var text string
	switch format {
	case FormatMermaid:
		text = d.mermaid()
	case FormatDot:
		text = d.dot()
	default:
		return fmt.Errorf("unknown graph format %q; use one of %s", format, config.Quoted(RenderFormats))
	}
	_, err := io.WriteString(w, text)
	return err
}

// drawing is a graph reduced to what a diagram shows, independent of the
// output language: each renderer only decides how a kind of node or edge
// looks.
type drawing struct {
	title string
	nodes []node
	edges []edge
}

type nodeKind int

const (
	producerNode nodeKind = iota
	queueNode
	consumerNode
)

// idPrefix keeps stages and queues apart when they share a name, and keeps
// ids away from the words dot and mermaid reserve (`end`, `graph`, `node`).
func (k nodeKind) idPrefix() string {
	return [...]string{producerNode: "p_", queueNode: "q_", consumerNode: "c_"}[k]
}

type node struct {
	id    string
	kind  nodeKind
	lines []string // the first is the name
}

type edgeKind int

const (
	putEdge        edgeKind = iota // producer → its queue
	takeEdge                       // queue → a consumer reading it
	emitEdge                       // consumer → the queue its emit steps put into
	deadLetterEdge                 // consumer → the queue that receives its failed items
)

// label is the text written on an edge of kind k; "" for none.
func (k edgeKind) label() string {
	switch k {
	case emitEdge:
		return "emit"
	case deadLetterEdge:
		return "dead letter"
	}
	return ""
}

// dashed reports whether an edge of kind k is drawn dashed: the path of
// items that failed rather than of work.
func (k edgeKind) dashed() bool { return k == deadLetterEdge }

type edge struct {
	from, to string // node ids
	kind     edgeKind
}

// drawGraph lays out g: producers, then queues, then consumers, each in
// file order; then their edges in the same order.
func drawGraph(g *Graph) *drawing {
	d := &drawing{title: title(g), edges: edges(g)}
	for _, p := range g.Producers {
		d.nodes = append(d.nodes, node{id: nodeID(producerNode, p.Name), kind: producerNode,
			lines: []string{p.Name, "producer · " + replicas(p.Replicas), p.amount()}})
	}
	for _, q := range g.Queues {
		capacity := "∞"
		if !q.Unbounded {
			capacity = strconv.Itoa(q.Capacity)
		}
		d.nodes = append(d.nodes, node{id: nodeID(queueNode, q.Name), kind: queueNode,
			lines: []string{q.Name, "capacity " + capacity + " · " + q.backend()}})
	}
	for _, c := range g.Consumers {
		lines := []string{c.Name, "consumer · " + replicas(c.Replicas)}
		if c.hasWhen() {
			lines = append(lines, "when filter")
		}
		d.nodes = append(d.nodes, node{id: nodeID(consumerNode, c.Name), kind: consumerNode, lines: lines})
	}
	return d
}

// amount says what a producer's node says of the items it makes: how
// many, from what source, with what delay.
func (p *Producer) amount() string {
	s := "count " + strconv.Itoa(p.Count)
	if p.Source != nil { // "lines · app.log", "command · seq 1 5 · count 3"
		s = strings.Replace(p.Source.String(), " ", " · ", 1)
		if p.Count != Unlimited {
			s += " · count " + strconv.Itoa(p.Count)
		}
	}
	if delay, ok := p.delayText(); ok {
		s += " · delay " + delay
	}
	return s
}

// edges are the edges of g's drawing: each producer's, then each
// consumer's, in file order.
func edges(g *Graph) []edge {
	var out []edge
	for _, p := range g.Producers {
		if p.To != "" {
			out = append(out, edge{from: nodeID(producerNode, p.Name), to: nodeID(queueNode, p.To), kind: putEdge})
		}
	}
	for _, c := range g.Consumers {
		id := nodeID(consumerNode, c.Name)
		if c.From != "" {
			out = append(out, edge{from: nodeID(queueNode, c.From), to: id, kind: takeEdge})
		}
		if c.Emits && c.To != "" {
			out = append(out, edge{from: id, to: nodeID(queueNode, c.To), kind: emitEdge})
		}
		if dl := c.OnError.DeadLetter; dl != "" {
			out = append(out, edge{from: id, to: nodeID(queueNode, dl), kind: deadLetterEdge})
		}
	}
	return out
}

// title names the pipeline and how it shuts down.
func title(g *Graph) string {
	s := g.Name + " · shutdown: " + string(g.Strategy)
	if g.Deadline > 0 {
		s += ", deadline " + config.ShortDuration(g.Deadline)
	}
	if g.Deadline > 0 || g.Grace != config.DefaultGrace {
		s += ", grace " + config.ShortDuration(g.Grace)
	}
	return s
}

func replicas(n int) string {
	if n == 1 {
		return "1 replica"
	}
	return strconv.Itoa(n) + " replicas"
}

// nodeID is a node's id in both languages: the kind's prefix, then the
// name with letters and digits kept, `_` doubled and any other byte written
// as `_` and two hex digits, so distinct names give distinct ids made only
// of [A-Za-z0-9_].
func nodeID(k nodeKind, name string) string {
	var b strings.Builder
	b.WriteString(k.idPrefix())
	for i := 0; i < len(name); i++ {
		switch ch := name[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
			b.WriteByte(ch)
		case ch == '_':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02x", ch)
		}
	}
	return b.String()
}

// maxDelayText is how much of a delay template a node shows.
const maxDelayText = 40

// delayText is the producer's delay as the file writes it (a duration, or
// the template's source, cut short), and false when it has none.
func (p *Producer) delayText() (string, bool) {
	if p.delay == nil {
		return "", false
	}
	if p.delay.t == nil {
		return config.ShortDuration(p.delay.d), true
	}
	s := p.delay.t.source()
	if r := []rune(s); len(r) > maxDelayText {
		s = string(r[:maxDelayText-1]) + "…"
	}
	return s, true
}

// hasWhen reports whether the consumer filters items with `when`.
func (c *Consumer) hasWhen() bool { return c.when != nil }

// backend is the queue's backend: memory or nats.
func (q *Queue) backend() string {
	if q.Backend == config.NATS {
		return string(config.NATS)
	}
	return string(config.Memory)
}

// source writes a string template back as the file wrote it, with `$${`
// for a literal `${`.
func (t *Template) source() string {
	if t.single != nil {
		return "${" + t.single.code + "}"
	}
	if t.parts == nil {
		return strings.ReplaceAll(Format(t.value), "${", "$${")
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(strings.ReplaceAll(p.lit, "${", "$${"))
		} else {
			b.WriteString("${" + p.prog.code + "}")
		}
	}
	return b.String()
}

// mermaid writes a Mermaid flowchart, left to right, with the title in its
// front matter. Labels are quoted, with `"`, `#`, `&`, `<` and `>` written as
// Mermaid entity codes so no name can break out of them.
func (d *drawing) mermaid() string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %s\n---\nflowchart LR\n", strconv.Quote(d.title))
	for _, n := range d.nodes {
		open, closing := "[", "]"
		switch n.kind {
		case queueNode:
			open, closing = "[(", ")]"
		case consumerNode:
			open, closing = "(", ")"
		}
		lines := make([]string, len(n.lines))
		for i, l := range n.lines {
			lines[i] = mermaidEscape.Replace(l)
		}
		fmt.Fprintf(&b, "    %s%s\"%s\"%s\n", n.id, open, strings.Join(lines, "<br>"), closing)
	}
	for _, e := range d.edges {
		arrow := "-->"
		if e.kind.dashed() {
			arrow = "-.->"
		}
		if l := e.kind.label(); l != "" {
			arrow += "|" + mermaidEscape.Replace(l) + "|"
		}
		fmt.Fprintf(&b, "    %s %s %s\n", e.from, arrow, e.to)
	}
	return b.String()
}

var mermaidEscape = strings.NewReplacer(
	"#", "#35;", `"`, "#quot;", "&", "#amp;", "<", "#lt;", ">", "#gt;", "|", "#124;", "\n", " ",
)

// dot writes a Graphviz digraph, left to right, with the title as the
// graph's label.
func (d *drawing) dot() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(d.title))
	fmt.Fprintf(&b, "  graph [label=%s, labelloc=t, rankdir=LR]\n", dotQuote(d.title))
	for _, n := range d.nodes {
		shape := "shape=box"
		switch n.kind {
		case queueNode:
			shape = "shape=cylinder"
		case consumerNode:
			shape = "shape=box, style=rounded"
		}
		fmt.Fprintf(&b, "  %s [%s, label=%s]\n", n.id, shape, dotQuote(n.lines...))
	}
	for _, e := range d.edges {
		var attrs []string
		if l := e.kind.label(); l != "" {
			attrs = append(attrs, "label="+dotQuote(l))
		}
		if e.kind.dashed() {
			attrs = append(attrs, "style=dashed")
		}
		fmt.Fprintf(&b, "  %s -> %s", e.from, e.to)
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote writes lines as one quoted dot string, one line each. Backslashes
// are doubled so no text turns into a dot escape such as \N or \l.
func dotQuote(lines ...string) string {
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = dotEscape.Replace(l)
	}
	return `"` + strings.Join(q, `\n`) + `"`
}

var dotEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
