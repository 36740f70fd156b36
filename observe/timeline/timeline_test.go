package timeline

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/observe"
)

// These tests are inside the package, to see how much it keeps; those of
// real runs are in run_test.go.

var update = flag.Bool("update", false, "rewrite the golden file testdata/basic.svg")

// oddStage is a consumer stage whose name needs escaping in XML.
const oddStage = `eat<&">`

// basicEvents is a fixed run: producers make-1 and make-2 fill queue main
// (capacity 3), make-2 is blocked on it, consumers eat<&">-1 and -2 are idle
// at first, one item fails, the queue is closed and drained.
func basicEvents() []observe.Event {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	const mk = "make"
	var evs []observe.Event
	add := func(t int, k observe.EventKind, stage, worker, queue string, depth int, dur int) {
		evs = append(evs, observe.Event{T: ms(t), Kind: k, Stage: stage, Worker: worker, Queue: queue, Depth: depth, Dur: ms(dur)})
	}
	evs = append(evs, observe.Event{Kind: observe.EventRun, Stage: "basic", Msg: "2026-01-02T03:04:05Z", Depth: -1})
	add(0, observe.EventStarted, mk, "make-1", "", -1, 0)
	add(0, observe.EventStarted, mk, "make-2", "", -1, 0)
	add(0, observe.EventStarted, oddStage, oddStage+"-1", "", -1, 0)
	add(0, observe.EventStarted, oddStage, oddStage+"-2", "", -1, 0)
	add(10, observe.EventProduced, mk, "make-1", "main", 1, 0)
	add(20, observe.EventProduced, mk, "make-2", "main", 2, 0)
	add(30, observe.EventProduced, mk, "make-1", "main", 3, 0)
	add(60, observe.EventIdle, oddStage, oddStage+"-1", "main", -1, 60)
	add(60, observe.EventTaken, oddStage, oddStage+"-1", "main", 2, 0)
	add(60, observe.EventBlocked, mk, "make-2", "main", -1, 35)
	add(60, observe.EventProduced, mk, "make-2", "main", 3, 0)
	add(70, observe.EventIdle, oddStage, oddStage+"-2", "main", -1, 70)
	add(70, observe.EventTaken, oddStage, oddStage+"-2", "main", 2, 0)
	add(75, observe.EventProduced, mk, "make-1", "main", 3, 0)
	add(110, observe.EventBlocked, mk, "make-1", "main", -1, 30)
	add(110, observe.EventTaken, oddStage, oddStage+"-1", "main", 2, 0)
	add(110, observe.EventProduced, mk, "make-1", "main", 3, 0)
	add(120, observe.EventFailed, oddStage, oddStage+"-2", "main", -1, 0)
	add(120, observe.EventTaken, oddStage, oddStage+"-2", "main", 2, 0)
	add(120, observe.EventStopped, mk, "make-1", "", -1, 0)
	add(120, observe.EventStopped, mk, "make-2", "", -1, 0)
	add(125, observe.EventClosed, "", "", "main", -1, 0)
	add(160, observe.EventTaken, oddStage, oddStage+"-1", "main", 1, 0)
	add(170, observe.EventTaken, oddStage, oddStage+"-2", "main", 0, 0)
	add(210, observe.EventIdle, oddStage, oddStage+"-1", "main", -1, 10)
	add(210, observe.EventStopped, oddStage, oddStage+"-1", "", -1, 0)
	add(220, observe.EventStopped, oddStage, oddStage+"-2", "", -1, 0)
	evs = append(evs, observe.Event{T: ms(220), Kind: observe.EventEnd, Stage: "basic", Msg: "produced 6 = done 5 + filtered 0 + failed 1 + abandoned 0", Depth: -1})
	return evs
}

// svgDoc is what checkSVG found in a picture.
// Its fields are exported for run_test.go.
type svgDoc struct {
	Workers map[string]bool // "stage / worker" of each row, unescaped
	Queues  []string
	Classes map[string]int // elements by class
	Rects   map[string]int // rects inside a <g> of each class
}

// checkSVG parses an SVG document with encoding/xml, checks its root, and
// counts its parts.
func checkSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	doc := svgDoc{Workers: map[string]bool{}, Classes: map[string]int{}, Rects: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []string // class of each open element
	root := true
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			if root {
				root = false
				checkRoot(t, tok.Name, attr)
			}
			doc.count(tok.Name.Local, attr, stack)
			stack = append(stack, attr["class"])
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root {
		t.Fatal("no root element")
	}
	return doc
}

// checkRoot checks the root element of an SVG document.
func checkRoot(t *testing.T, name xml.Name, attr map[string]string) {
	t.Helper()
	if name.Local != "svg" || name.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v, want svg in the SVG namespace", name)
	}
	for _, a := range []string{"width", "height", "viewBox"} {
		if attr[a] == "" {
			t.Errorf("root element lacks %s", a)
		}
	}
}

// count adds an element, with its local name and attributes, inside the
// open elements of the classes in stack.
func (doc *svgDoc) count(name string, attr map[string]string, stack []string) {
	class := attr["class"]
	doc.Classes[class]++
	if name == "rect" && len(stack) > 0 {
		doc.Rects[stack[len(stack)-1]]++
	}
	switch class {
	case "worker":
		doc.Workers[attr["data-stage"]+" / "+attr["data-worker"]] = true
	case "queue":
		doc.Queues = append(doc.Queues, attr["data-queue"])
	}
}

func TestSVG(t *testing.T) {
	tl := New()
	for _, e := range basicEvents() {
		tl.Observe(e)
	}
	var b bytes.Buffer
	if err := tl.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	checkBasic(t, checkSVG(t, b.Bytes()))
	s := b.String()
	if strings.Contains(s, oddStage) || !strings.Contains(s, "eat&lt;&amp;&#34;&gt;") {
		t.Errorf("the stage name %s is not escaped", oddStage)
	}
	for _, part := range []string{">basic <tspan", "— 220.0ms wall time", "capacity 3", "produced 6 = done 5"} {
		if !strings.Contains(s, part) {
			t.Errorf("the picture lacks %q", part)
		}
	}
	checkGolden(t, filepath.Join("testdata", "basic.svg"), b.Bytes())
	var again bytes.Buffer
	_ = tl.WriteSVG(&again)
	if !bytes.Equal(again.Bytes(), b.Bytes()) {
		t.Error("a second WriteSVG wrote another picture")
	}
}

// checkBasic checks the parts of the picture of basicEvents.
func checkBasic(t *testing.T, doc svgDoc) {
	t.Helper()
	want := []string{"make / make-1", "make / make-2", oddStage + " / " + oddStage + "-1", oddStage + " / " + oddStage + "-2"}
	if len(doc.Workers) != len(want) || doc.Classes["worker"] != len(want) {
		t.Errorf("worker rows %v, want %q", doc.Workers, want)
	}
	for _, w := range want {
		if !doc.Workers[w] {
			t.Errorf("no row for %q", w)
		}
	}
	if doc.Rects["blocked"] != 2 || doc.Rects["idle"] != 3 {
		t.Errorf("%d blocked and %d idle spans, want 2 and 3", doc.Rects["blocked"], doc.Rects["idle"])
	}
	if len(doc.Queues) != 1 || doc.Queues[0] != "main" || doc.Classes["depth-max"] != 1 || doc.Classes["capacity"] != 1 {
		t.Errorf("queues %q with %d depth paths and %d capacity lines, want main with 1 and 1", doc.Queues, doc.Classes["depth-max"], doc.Classes["capacity"])
	}
	if doc.Classes["failed"] != 1 || doc.Classes["closed"] != 1 {
		t.Errorf("%d failed marks and %d closed marks, want 1 and 1", doc.Classes["failed"], doc.Classes["closed"])
	}
}

// checkGolden compares got with the golden file, which go test -update
// writes first.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(g, got) {
		t.Errorf("the picture differs from %s (go test -run SVG -update rewrites it)", golden)
	}
}

func TestHTML(t *testing.T) {
	tl := New()
	for _, e := range basicEvents() {
		tl.Observe(e)
	}
	var b bytes.Buffer
	if err := tl.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if !strings.HasPrefix(s, "<!DOCTYPE html>\n") || !strings.HasSuffix(s, "</html>\n") {
		t.Errorf("not a whole HTML page:\n%.200s", s)
	}
	for _, part := range []string{"<title>pcrun timeline: basic</title>", "<h1>basic</h1>",
		`<p class="ledger">produced 6 = done 5`, "blocked (waiting for room in a full queue)"} {
		if !strings.Contains(s, part) {
			t.Errorf("the page lacks %q", part)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", oddStage} {
		if strings.Contains(s, bad) {
			t.Errorf("the page has %q", bad)
		}
	}
	i, j := strings.Index(s, "<svg "), strings.Index(s, "</svg>")
	if i < 0 || j < i {
		t.Fatal("no inline <svg>")
	}
	checkSVG(t, []byte(s[i:j+len("</svg>")]))
}

// A timeline of nothing is still a picture.
func TestEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := New().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes())
}

// However many events, the recording stays within its bounds, keeps the
// time waited and the deepest spike.
func TestBounded(t *testing.T) {
	tl := New()
	idle := longRun(tl)
	for _, w := range tl.workers {
		if l := len(w.spans.s); l > spanBound || cap(w.spans.s) > 2*spanBound {
			t.Errorf("worker %s keeps %d spans (capacity %d), bound %d", w.name, l, cap(w.spans.s), spanBound)
		}
	}
	c, q := tl.workers[workerKey{"c", "c-1"}], tl.queues["q"]
	if c.spans.res == 0 || q.depth.res == 0 {
		t.Fatal("nothing was coalesced")
	}
	var sum time.Duration
	for _, sp := range c.spans.s {
		sum += time.Duration(sp.idle)
	}
	if sum != idle {
		t.Errorf("spans hold %v of idle time, want %v", sum, idle)
	}
	checkSamples(t, q)
	var b bytes.Buffer
	if err := tl.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes())
	if b.Len() > 1<<20 {
		t.Errorf("the picture of a long run is %d bytes", b.Len())
	}
}

// longRun feeds tl a long run: a million items put by p-1 and taken by c-1
// from q, with one deep spike, c-1 often idle and p-1 often blocked. It
// returns the time c-1 was idle.
func longRun(tl *Timeline) time.Duration {
	tl.Observe(observe.Event{Kind: observe.EventRun, Stage: "long", Depth: -1})
	const n = 1_000_000 // 2 million puts and takes
	var idle time.Duration
	for i := range n {
		at := time.Duration(i+1) * time.Microsecond
		depth := i % 7
		if i == n/3 {
			depth = 1000
		}
		tl.Observe(observe.Event{T: at, Kind: observe.EventProduced, Stage: "p", Worker: "p-1", Queue: "q", Item: uint64(i + 1), Depth: depth})
		tl.Observe(observe.Event{T: at, Kind: observe.EventTaken, Stage: "c", Worker: "c-1", Queue: "q", Item: uint64(i + 1), Depth: max(depth-1, 0)})
		if i%3 == 0 {
			d := time.Duration(300+i%500) * time.Nanosecond
			idle += d
			tl.Observe(observe.Event{T: at, Kind: observe.EventIdle, Stage: "c", Worker: "c-1", Queue: "q", Dur: d, Depth: -1})
		}
		if i%5 == 0 {
			tl.Observe(observe.Event{T: at, Kind: observe.EventBlocked, Stage: "p", Worker: "p-1", Queue: "q", Dur: 200 * time.Nanosecond, Depth: -1})
		}
	}
	tl.Observe(observe.Event{T: (n + 1) * time.Microsecond, Kind: observe.EventEnd, Stage: "long", Depth: -1})
	return idle
}

// checkSamples checks that the long run's queue keeps its samples within
// their bound, and the spike.
func checkSamples(t *testing.T, q *queue) {
	t.Helper()
	if l := len(q.depth.s); l > sampleBound || cap(q.depth.s) > 2*sampleBound {
		t.Errorf("queue keeps %d samples (capacity %d), bound %d", l, cap(q.depth.s), sampleBound)
	}
	deepest := int32(0)
	for _, s := range q.depth.s {
		deepest = max(deepest, s.max)
	}
	if deepest != 1000 || q.maxDepth != 1000 {
		t.Errorf("deepest sample %d, max depth %d; want the spike, 1000", deepest, q.maxDepth)
	}
}

func TestNaturalOrder(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"w-2", "w-10", true}, {"w-10", "w-2", false}, {"a", "b", true}, {"w-02", "w-3", true}, {"w", "w-1", true}} {
		if got := naturalCompare(c.a, c.b) < 0; got != c.less {
			t.Errorf("naturalCompare(%q, %q) < 0 = %v", c.a, c.b, got)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	tl := New()
	for i := range b.N {
		at := time.Duration(i+1) * time.Microsecond
		tl.Observe(observe.Event{T: at, Kind: observe.EventTaken, Stage: "c", Worker: "c-1", Queue: "q", Item: uint64(i + 1), Depth: i % 7})
	}
}
