package timeline

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Rendering of the Timeline (timeline.go records) as SVG: the picture's
// frame here, the workers' rows in svg_worker.go, the queues' charts in
// svg_queue.go; html.go puts a page around it.

// WriteSVG writes the picture as a standalone SVG document. Call it after
// the run returns (during a run it draws what happened so far, holding up
// the run's events while it does).
func (t *Timeline) WriteSVG(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	t.render(&b)
	_, err := w.Write(b.Bytes())
	return err
}

// Colours and geometry of the picture, in px.
const (
	colorBusy    = "#8fcf8f"
	colorIdle    = "#dedede"
	colorBlocked = "#e8590c"
	colorFail    = "#c00000"
	colorPeak    = "#9cc3e8"
	colorTrough  = "#3f7fbf"

	plotW     = 960 // the time axis, one column per px
	rowH      = 14
	rowPitch  = 18
	stageGap  = 8
	queueH    = 60
	queueGap  = 30
	charW     = 6.5 // of the 11px labels, roughly
	maxTitles = 2000
)

// canvas is one drawing under way: where its plot begins, the time the
// plot spans, and how many waits have a tooltip so far.
type canvas struct {
	b      *bytes.Buffer
	left   float64 // the plot's left edge: time 0
	dur    int64   // ns the plot spans, at least 1
	titles int     // waits drawn with a tooltip, at most maxTitles
}

// x is where ns since the run started falls, in px.
func (c *canvas) x(ns int64) float64 { return c.left + float64(ns)/float64(c.dur)*plotW }

// layout is where the parts of the picture go, in px.
type layout struct {
	left          float64 // the plot's left edge, past the longest label
	width, height float64
	rowsTop       float64   // the first worker row's top, under the legend
	rows          []float64 // each worker row's top, a gap between stages
	rowsBottom    float64   // below the last worker row
}

// newLayout places the rows of workers and, beneath them, the charts of
// queues.
func newLayout(workers []*worker, queues []*queue) layout {
	labelChars := 18 // "depth not reported"
	for _, w := range workers {
		labelChars = max(labelChars, len([]rune(rowLabel(w))))
	}
	for _, q := range queues {
		labelChars = max(labelChars, len([]rune(q.name)))
	}
	labelChars = min(labelChars, 36)
	l := layout{left: math.Round(float64(labelChars)*charW + 24), rowsTop: 96}
	l.width = l.left + plotW + 40
	y := l.rowsTop
	for i, w := range workers {
		if i > 0 && w.stage != workers[i-1].stage {
			y += stageGap
		}
		l.rows = append(l.rows, y)
		y += rowPitch
	}
	l.rowsBottom = y
	l.height = l.rowsBottom + 24 + float64(len(queues))*(queueH+queueGap) + 30
	return l
}

// render writes the <svg> element.
func (t *Timeline) render(b *bytes.Buffer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	workers := t.sortedWorkers()
	queues := slices.Clone(t.queueList)
	slices.SortFunc(queues, func(a, b *queue) int { return strings.Compare(a.name, b.name) })
	l := newLayout(workers, queues)
	t.header(b, l)
	if len(workers) == 0 && len(queues) == 0 {
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" fill=\"#888\">no events recorded</text>\n</svg>\n", num(l.left), num(l.rowsTop+12))
		return
	}
	c := &canvas{b: b, left: l.left, dur: max(t.end, 1)}
	bottom := l.height - 30
	axis(b, c.x, c.dur, l.rowsTop-8, bottom+14, l.rowsTop-4, bottom)
	for i, w := range workers {
		if i > 0 && w.stage != workers[i-1].stage {
			sep := l.rows[i] - stageGap/2 - 2
			fmt.Fprintf(b, "<line x1=\"16\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#ccc\"/>\n", num(l.width-16), num(sep), num(sep))
		}
		t.renderWorker(c, w, l.rows[i])
	}
	y := l.rowsBottom + 24
	for _, q := range queues {
		renderQueue(c, q, y)
		y += queueH + queueGap
	}
	t.renderDeadlocks(c, l.rowsTop, bottom)
	b.WriteString("</svg>\n")
}

// header writes the <svg> start tag, the background, the title with the
// wall time, the ledger line and the legend.
func (t *Timeline) header(b *bytes.Buffer, l layout) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">`+"\n",
		num(l.width), num(l.height), num(l.width), num(l.height))
	fmt.Fprintf(b, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n")
	title := t.name
	if title == "" {
		title = "pcrun run"
	}
	wall := "the run did not end"
	if t.ended {
		wall = shortDur(t.end) + " wall time"
	}
	fmt.Fprintf(b, "<title>%s</title>\n", esc(title+": "+wall))
	fmt.Fprintf(b, `<text class="title" x="16" y="24" font-size="16" font-weight="bold">%s <tspan font-weight="normal" fill="#555">— %s</tspan></text>`+"\n", esc(title), esc(wall))
	sub := t.ledger
	if t.started != "" {
		sub = strings.TrimPrefix(sub+"  ·  started "+t.started, "  ·  ")
	}
	fmt.Fprintf(b, "<text class=\"ledger\" x=\"16\" y=\"42\" fill=\"#444\">%s</text>\n", esc(sub))
	legend(b, 16, 62)
}

// renderDeadlocks marks each deadlock with a line across the picture, from
// just above the rows at top down to bottom.
func (t *Timeline) renderDeadlocks(c *canvas, top, bottom float64) {
	for _, d := range t.deadlocks {
		x := c.x(d.t)
		fmt.Fprintf(c.b, `<g class="deadlock"><line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 3"/><text x="%s" y="%s" fill="%s">deadlock</text><title>%s</title></g>`+"\n",
			num(x), num(x), num(top-2), num(bottom), colorFail, num(x+3), num(top+9), colorFail, esc(d.msg))
	}
}

// sortedWorkers orders the rows: producers' stages, then consumers', then
// the rest, stages by name, workers in natural order (w-2 before w-10).
func (t *Timeline) sortedWorkers() []*worker {
	rank := map[string]int{}
	for _, w := range t.workers {
		r := 2
		switch w.kind {
		case 'p':
			r = 0
		case 'c':
			r = 1
		}
		if old, ok := rank[w.stage]; !ok || r < old {
			rank[w.stage] = r
		}
	}
	var ws []*worker
	for _, w := range t.workers {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *worker) int {
		if c := rank[a.stage] - rank[b.stage]; c != 0 {
			return c
		}
		if c := strings.Compare(a.stage, b.stage); c != 0 {
			return c
		}
		if c := naturalCompare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name) // w-02 and w-2
	})
	return ws
}

// legend draws the key to the colours at (x0, y0), the baseline.
func legend(b *bytes.Buffer, x0, y0 float64) {
	b.WriteString("<g class=\"legend\">\n")
	x := x0
	for _, k := range []struct{ name, fill, what string }{
		{"busy", colorBusy, "busy"},
		{"idle", colorIdle, "idle (waiting for an item or a join)"},
		{"blocked", colorBlocked, "blocked (queue full)"},
	} {
		fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"22\" height=\"10\" fill=\"%s\" stroke=\"#999\" stroke-width=\"0.5\"/><text x=\"%s\" y=\"%s\">%s</text>\n",
			num(x), num(y0-9), k.fill, num(x+27), num(y0), k.what)
		x += 27 + float64(len(k.what))*charW + 18
	}
	fmt.Fprintf(b, "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/><text x=\"%s\" y=\"%s\">failed item</text>\n",
		num(x+4), num(x+4), num(y0-10), num(y0+1), colorFail, num(x+10), num(y0))
	x += 10 + 11*charW + 18
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"22\" height=\"10\" fill=\"%s\"/><rect x=\"%s\" y=\"%s\" width=\"22\" height=\"5\" fill=\"%s\"/><text x=\"%s\" y=\"%s\">queue depth</text>\n",
		num(x), num(y0-9), colorPeak, num(x), num(y0-4), colorTrough, num(x+27), num(y0))
	x += 27 + 11*charW + 18
	fmt.Fprintf(b, "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"%s\" y=\"%s\">capacity</text>\n",
		num(x), num(x+22), num(y0-4), num(y0-4), num(x+27), num(y0))
	b.WriteString("</g>\n")
}

// axis draws the time axis: labels above the rows (at yTop) and below the
// queues (at yBottom), and grid lines from g0 to g1.
func axis(b *bytes.Buffer, x func(int64) float64, dur int64, yTop, yBottom, g0, g1 float64) {
	total := float64(dur) / 1e9
	step := niceStep(total, 10)
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	b.WriteString("<g class=\"axis\" fill=\"#555\" text-anchor=\"middle\">\n")
	for i := 0; float64(i)*step <= total*(1+1e-9); i++ {
		v := float64(i) * step
		px := num(x(int64(math.Round(v * 1e9))))
		label := strconv.FormatFloat(v, 'f', decimals, 64) + "s"
		fmt.Fprintf(b, "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#eee\"/><text x=\"%s\" y=\"%s\">%s</text><text x=\"%s\" y=\"%s\">%s</text>\n",
			px, px, num(g0), num(g1), px, num(yTop), label, px, num(yBottom), label)
	}
	b.WriteString("</g>\n")
}

// niceStep is the 1, 2 or 5 times a power of ten that cuts total into at
// most about n steps.
func niceStep(total float64, n int) float64 {
	raw := total / float64(n)
	if !(raw > 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}
