package stages

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// handMadeGraph has names dot and mermaid reserve (end, graph, subgraph,
// node), a name with `-`, an unbounded queue, and a two-level chain of
// emitting consumers: end → subgraph → graph → node_2 → my-q → x-end.
func handMadeGraph() *Graph {
	return &Graph{
		Name: "odd names", Strategy: config.Sentinel, Deadline: 90 * time.Second, Grace: 5 * time.Second,
		Queues: []*Queue{
			{Name: "end", Unbounded: true},
			{Name: "graph", Capacity: 5},
			{Name: "my-q", Capacity: 1},
		},
		Producers: []*Producer{
			{Name: "end", Replicas: 2, To: "end", Count: 3, delay: &Duration{d: 250 * time.Millisecond}},
		},
		Consumers: []*Consumer{
			{Name: "subgraph", Replicas: 1, From: "end", To: "graph", Emits: true, when: &program{code: "item > 0"}},
			{Name: "node_2", Replicas: 3, From: "graph", To: "my-q", Emits: true},
			{Name: "x-end", Replicas: 1, From: "my-q"},
		},
	}
}

const handMadeMermaid = `---
title: "odd names · shutdown: sentinel, deadline 1m30s, grace 5s"
---
flowchart LR
    p_end["end<br>producer · 2 replicas<br>count 3 · delay 250ms"]
    q_end[("end<br>capacity ∞ · memory")]
    q_graph[("graph<br>capacity 5 · memory")]
    q_my_2dq[("my-q<br>capacity 1 · memory")]
    c_subgraph("subgraph<br>consumer · 1 replica<br>when filter")
    c_node__2("node_2<br>consumer · 3 replicas")
    c_x_2dend("x-end<br>consumer · 1 replica")
    p_end --> q_end
    q_end --> c_subgraph
    c_subgraph -->|emit| q_graph
    q_graph --> c_node__2
    c_node__2 -->|emit| q_my_2dq
    q_my_2dq --> c_x_2dend
`

const handMadeDot = `digraph "odd names · shutdown: sentinel, deadline 1m30s, grace 5s" {
  graph [label="odd names · shutdown: sentinel, deadline 1m30s, grace 5s", labelloc=t, rankdir=LR]
  p_end [shape=box, label="end\nproducer · 2 replicas\ncount 3 · delay 250ms"]
  q_end [shape=cylinder, label="end\ncapacity ∞ · memory"]
  q_graph [shape=cylinder, label="graph\ncapacity 5 · memory"]
  q_my_2dq [shape=cylinder, label="my-q\ncapacity 1 · memory"]
  c_subgraph [shape=box, style=rounded, label="subgraph\nconsumer · 1 replica\nwhen filter"]
  c_node__2 [shape=box, style=rounded, label="node_2\nconsumer · 3 replicas"]
  c_x_2dend [shape=box, style=rounded, label="x-end\nconsumer · 1 replica"]
  p_end -> q_end
  q_end -> c_subgraph
  c_subgraph -> q_graph [label="emit"]
  q_graph -> c_node__2
  c_node__2 -> q_my_2dq [label="emit"]
  q_my_2dq -> c_x_2dend
}
`

func renderText(t *testing.T, g *Graph, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, g, format); err != nil {
		t.Fatalf("Render %s: %v", format, err)
	}
	return b.String()
}

func TestRenderHandMade(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{FormatMermaid, handMadeMermaid},
		{FormatDot, handMadeDot},
	} {
		t.Run(tc.format, func(t *testing.T) {
			g := handMadeGraph()
			got := renderText(t, g, tc.format)
			if got != tc.want {
				t.Errorf("Render %s:\n--- got:\n%s\n--- want:\n%s", tc.format, got, tc.want)
			}
			if again := renderText(t, g, tc.format); again != got {
				t.Errorf("Render %s is not deterministic:\n%s\n---\n%s", tc.format, got, again)
			}
		})
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Render(&b, handMadeGraph(), "svg")
	if err == nil || !strings.Contains(err.Error(), "`mermaid`, `dot`") {
		t.Errorf("Render svg: err %v, want one listing the formats", err)
	}
	if b.Len() > 0 {
		t.Errorf("Render svg wrote %q", b.String())
	}
}

// TestNodeIDs checks ids are distinct, prefixed by kind, and made only of
// characters both languages take bare, whatever the name.
func TestNodeIDs(t *testing.T) {
	safe := regexp.MustCompile(`^[pqc]_[A-Za-z0-9_]+$`)
	names := []string{"end", "End", "graph", "subgraph", "node", "a-b", "a_b", "a__b", "a_2db", "_", "__", "-", "x", "o", "a b", "ü"}
	seen := map[string]string{}
	for _, k := range []nodeKind{producerNode, queueNode, consumerNode} {
		for _, n := range names {
			id := nodeID(k, n)
			if !safe.MatchString(id) {
				t.Errorf("nodeID(%d, %q) = %q: not a safe id", k, n, id)
			}
			if prev, dup := seen[id]; dup {
				t.Errorf("nodeID gives %q for both %s and %q", id, prev, n)
			}
			seen[id] = n
		}
	}
}

// TestRenderDeadLetterEdge draws a dead-letter edge by itself.
func TestRenderDeadLetterEdge(t *testing.T) {
	d := &drawing{
		title: "dl",
		nodes: []node{
			{id: "c_x", kind: consumerNode, lines: []string{"x"}},
			{id: "q_dlq", kind: queueNode, lines: []string{"dlq"}},
		},
		edges: []edge{{from: "c_x", to: "q_dlq", kind: deadLetterEdge}},
	}
	if got, want := d.mermaid(), "    c_x -.->|dead letter| q_dlq\n"; !strings.HasSuffix(got, want) {
		t.Errorf("mermaid:\n%s\nwant it to end with %q", got, want)
	}
	if got, want := d.dot(), "  c_x -> q_dlq [label=\"dead letter\", style=dashed]\n}\n"; !strings.HasSuffix(got, want) {
		t.Errorf("dot:\n%s\nwant it to end with %q", got, want)
	}
	checkDot(t, d.dot())
}

func TestRenderEscapes(t *testing.T) {
	d := &drawing{
		title: `say "hi" \N #1 <b>`,
		nodes: []node{{id: "p_x", kind: producerNode, lines: []string{`a"b`, `c\l#<&>|`}}},
	}
	if got, want := d.mermaid(), "title: \"say \\\"hi\\\" \\\\N #1 <b>\"\n"; !strings.Contains(got, want) {
		t.Errorf("mermaid title:\n%s\nwant %q", got, want)
	}
	if got, want := d.mermaid(), `p_x["a#quot;b<br>c\l#35;#lt;#amp;#gt;#124;"]`; !strings.Contains(got, want) {
		t.Errorf("mermaid label:\n%s\nwant %q", got, want)
	}
	if got, want := d.dot(), `p_x [shape=box, label="a\"b\nc\\l#<&>|"]`; !strings.Contains(got, want) {
		t.Errorf("dot label:\n%s\nwant %q", got, want)
	}
	checkDot(t, d.dot())
}

// TestRenderCompiled draws a compiled file: a delay template shows its
// source, a constant `when` still counts as a filter, an implicit queue
// keeps the default capacity, and the default grace is left out.
func TestRenderCompiled(t *testing.T) {
	src := `name: t
shutdown:
  strategy: join
producers:
  - name: p
    count: 1
    delay: "${ i * 10 }ms $${x}"
    item: x
  - name: q
    count: 2
    delay: 1h
    item: x
consumers:
  - name: c
    when: 'true'
    do:
      - print: x
`
	pl, ds := config.Parse("t.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatalf("parse: %v", ds)
	}
	g, ds := Compile(pl, Options{Environ: []string{}})
	if g == nil {
		t.Fatalf("compile: %v", ds)
	}
	got := renderText(t, g, FormatMermaid)
	for _, want := range []string{
		`title: "t · shutdown: join"` + "\n",
		`p_p["p<br>producer · 1 replica<br>count 1 · delay ${ i * 10 }ms $${x}"]`,
		`p_q["q<br>producer · 1 replica<br>count 2 · delay 1h"]`,
		`q_main[("main<br>capacity 1000 · memory")]`,
		`c_c("c<br>consumer · 1 replica<br>when filter")`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, got)
		}
	}
}

func TestRenderDotRuns(t *testing.T) {
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("Graphviz `dot` is not installed")
	}
	checkDot(t, renderText(t, handMadeGraph(), FormatDot))
}

// checkDot runs Graphviz on text when it is installed; without it, the
// test's other checks still count.
func checkDot(t *testing.T, text string) {
	t.Helper()
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Log("Graphviz `dot` is not installed: dot output not checked")
		return
	}
	cmd := exec.Command(dot, "-Tsvg", "-o", "/dev/null")
	cmd.Stdin = strings.NewReader(text)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Errorf("dot -Tsvg: %v\n%s\ninput:\n%s", err, errb.String(), text)
	}
}
