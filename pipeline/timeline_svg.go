package pipeline

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rendering of the Timeline (timeline.go records): SVG, and an HTML page
// around it.

// WriteSVG writes the picture as a standalone SVG document. Call it after
// Run returns (during a run it draws what happened so far, holding up the
// run's events while it does).
func (t *Timeline) WriteSVG(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	t.render(&b)
	_, err := w.Write(b.Bytes())
	return err
}

// WriteHTML writes a standalone page: a title, the ledger line, a legend
// and the SVG picture inline, with no external resources.
func (t *Timeline) WriteHTML(w io.Writer) error {
	var svg bytes.Buffer
	t.render(&svg)
	t.mu.Lock()
	name, ledger, started := t.name, t.ledger, t.started
	t.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pcrun timeline: %s</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.ledger { font-family: monospace; }
.sw { display: inline-block; width: 1.8em; height: 0.9em; vertical-align: middle; border: 1px solid #999; }
svg { max-width: 100%%; height: auto; }
</style>
</head>
<body>
<h1>%s</h1>
`, tlEsc(name), tlEsc(name))
	if started != "" {
		fmt.Fprintf(&b, "<p>Started %s.</p>\n", tlEsc(started))
	}
	if ledger != "" {
		fmt.Fprintf(&b, "<p class=\"ledger\">%s</p>\n", tlEsc(ledger))
	}
	fmt.Fprintf(&b, `<p>A row per worker, from its start to its end:
<span class="sw" style="background:%s"></span> busy (making or handling an item),
<span class="sw" style="background:%s"></span> idle (waiting for an item, or for a queue's items to be finished),
<span class="sw" style="background:%s"></span> blocked (waiting for room in a full queue);
paler where the picture merges short waits with work. Red ticks are failed items.
Beneath, each queue's depth over time (light: its peaks, dark: its troughs), with its capacity dashed.</p>
`, tlBusy, tlIdle, tlBlocked)
	b.Write(svg.Bytes())
	b.WriteString("</body>\n</html>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// Colours and geometry of the picture, in px.
const (
	tlBusy    = "#8fcf8f"
	tlIdle    = "#dedede"
	tlBlocked = "#e8590c"
	tlFail    = "#c00000"
	tlPeak    = "#9cc3e8"
	tlTrough  = "#3f7fbf"

	tlPlotW     = 960 // the time axis, one column per px
	tlRowH      = 14
	tlRowPitch  = 18
	tlStageGap  = 8
	tlQueueH    = 60
	tlQueueGap  = 30
	tlCharW     = 6.5 // of the 11px labels, roughly
	tlMaxTitles = 2000
)

// render writes the <svg> element.
func (t *Timeline) render(b *bytes.Buffer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	workers := t.sortedWorkers()
	queues := slices.Clone(t.queueList)
	slices.SortFunc(queues, func(a, b *tlQueue) int { return strings.Compare(a.name, b.name) })

	labelChars := 18 // "depth not reported"
	for _, w := range workers {
		labelChars = max(labelChars, len([]rune(tlLabel(w))))
	}
	for _, q := range queues {
		labelChars = max(labelChars, len([]rune(q.name)))
	}
	labelChars = min(labelChars, 36)
	left := math.Round(float64(labelChars)*tlCharW + 24)
	width := left + tlPlotW + 40
	rowsTop := 96.0
	y := rowsTop
	prevStage := ""
	for i, w := range workers {
		if i > 0 && w.stage != prevStage {
			y += tlStageGap
		}
		prevStage = w.stage
		y += tlRowPitch
	}
	rowsBottom := y
	height := rowsBottom + 24 + float64(len(queues))*(tlQueueH+tlQueueGap) + 30

	dur := max(t.end, 1)
	x := func(ns int64) float64 { return left + float64(ns)/float64(dur)*tlPlotW }

	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">`+"\n",
		tlNum(width), tlNum(height), tlNum(width), tlNum(height))
	fmt.Fprintf(b, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n")
	title := t.name
	if title == "" {
		title = "pcrun run"
	}
	wall := "the run did not end"
	if t.ended {
		wall = tlDur(t.end) + " wall time"
	}
	fmt.Fprintf(b, "<title>%s</title>\n", tlEsc(title+": "+wall))
	fmt.Fprintf(b, `<text class="title" x="16" y="24" font-size="16" font-weight="bold">%s <tspan font-weight="normal" fill="#555">— %s</tspan></text>`+"\n", tlEsc(title), tlEsc(wall))
	sub := t.ledger
	if t.started != "" {
		sub = strings.TrimPrefix(sub+"  ·  started "+t.started, "  ·  ")
	}
	fmt.Fprintf(b, "<text class=\"ledger\" x=\"16\" y=\"42\" fill=\"#444\">%s</text>\n", tlEsc(sub))
	tlLegend(b, 16, 62)

	if len(workers) == 0 && len(queues) == 0 {
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" fill=\"#888\">no events recorded</text>\n</svg>\n", tlNum(left), tlNum(rowsTop+12))
		return
	}
	bottom := height - 30
	tlAxis(b, x, dur, rowsTop-8, bottom+14, rowsTop-4, bottom)

	titles := 0
	y = rowsTop
	prevStage = ""
	for i, w := range workers {
		if i > 0 && w.stage != prevStage {
			y += tlStageGap
			fmt.Fprintf(b, "<line x1=\"16\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#ccc\"/>\n", tlNum(width-16), tlNum(y-tlStageGap/2-2), tlNum(y-tlStageGap/2-2))
		}
		prevStage = w.stage
		t.renderWorker(b, w, x, left, y, dur, &titles)
		y += tlRowPitch
	}
	y = rowsBottom + 24
	for _, q := range queues {
		t.renderQueue(b, q, x, left, y, dur)
		y += tlQueueH + tlQueueGap
	}
	for _, d := range t.deadlocks {
		fmt.Fprintf(b, `<g class="deadlock"><line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 3"/><text x="%s" y="%s" fill="%s">deadlock</text><title>%s</title></g>`+"\n",
			tlNum(x(d.t)), tlNum(x(d.t)), tlNum(rowsTop-2), tlNum(bottom), tlFail, tlNum(x(d.t)+3), tlNum(rowsTop+9), tlFail, tlEsc(d.msg))
	}
	b.WriteString("</svg>\n")
}

// sortedWorkers orders the rows: producers' stages, then consumers', then
// the rest, stages by name, workers in natural order (w-2 before w-10).
func (t *Timeline) sortedWorkers() []*tlWorker {
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
	var ws []*tlWorker
	for _, w := range t.workers {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *tlWorker) int {
		if c := rank[a.stage] - rank[b.stage]; c != 0 {
			return c
		}
		if c := strings.Compare(a.stage, b.stage); c != 0 {
			return c
		}
		if c := tlNaturalCompare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name) // w-02 and w-2
	})
	return ws
}

func tlLabel(w *tlWorker) string {
	if w.stage == "" || w.stage == w.name {
		return w.name
	}
	return w.stage + " / " + w.name
}

// tlLegend draws the key to the colours at (x0, y0), the baseline.
func tlLegend(b *bytes.Buffer, x0, y0 float64) {
	b.WriteString("<g class=\"legend\">\n")
	x := x0
	for _, k := range []struct{ name, fill, what string }{
		{"busy", tlBusy, "busy"},
		{"idle", tlIdle, "idle (waiting for an item or a join)"},
		{"blocked", tlBlocked, "blocked (queue full)"},
	} {
		fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"22\" height=\"10\" fill=\"%s\" stroke=\"#999\" stroke-width=\"0.5\"/><text x=\"%s\" y=\"%s\">%s</text>\n",
			tlNum(x), tlNum(y0-9), k.fill, tlNum(x+27), tlNum(y0), k.what)
		x += 27 + float64(len(k.what))*tlCharW + 18
	}
	fmt.Fprintf(b, "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/><text x=\"%s\" y=\"%s\">failed item</text>\n",
		tlNum(x+4), tlNum(x+4), tlNum(y0-10), tlNum(y0+1), tlFail, tlNum(x+10), tlNum(y0))
	x += 10 + 11*tlCharW + 18
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"22\" height=\"10\" fill=\"%s\"/><rect x=\"%s\" y=\"%s\" width=\"22\" height=\"5\" fill=\"%s\"/><text x=\"%s\" y=\"%s\">queue depth</text>\n",
		tlNum(x), tlNum(y0-9), tlPeak, tlNum(x), tlNum(y0-4), tlTrough, tlNum(x+27), tlNum(y0))
	x += 27 + 11*tlCharW + 18
	fmt.Fprintf(b, "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"%s\" y=\"%s\">capacity</text>\n",
		tlNum(x), tlNum(x+22), tlNum(y0-4), tlNum(y0-4), tlNum(x+27), tlNum(y0))
	b.WriteString("</g>\n")
}

// tlAxis draws the time axis: labels above the rows (at yTop) and below the
// queues (at yBottom), and grid lines from g0 to g1.
func tlAxis(b *bytes.Buffer, x func(int64) float64, dur int64, yTop, yBottom, g0, g1 float64) {
	tlSecs := float64(dur) / 1e9
	step := tlNiceStep(tlSecs, 10)
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	b.WriteString("<g class=\"axis\" fill=\"#555\" text-anchor=\"middle\">\n")
	for i := 0; float64(i)*step <= tlSecs*(1+1e-9); i++ {
		v := float64(i) * step
		px := tlNum(x(int64(math.Round(v * 1e9))))
		label := strconv.FormatFloat(v, 'f', decimals, 64) + "s"
		fmt.Fprintf(b, "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#eee\"/><text x=\"%s\" y=\"%s\">%s</text><text x=\"%s\" y=\"%s\">%s</text>\n",
			px, px, tlNum(g0), tlNum(g1), px, tlNum(yTop), label, px, tlNum(yBottom), label)
	}
	b.WriteString("</g>\n")
}

// tlNiceStep is the 1, 2 or 5 times a power of ten that cuts total into at
// most about n steps.
func tlNiceStep(total float64, n int) float64 {
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

// renderWorker draws one worker's row with its top at y: its life in the
// busy colour, its waits over it. A wait at least a px wide is drawn
// exactly (with a tooltip while there are fewer than tlMaxTitles); the rest
// are summed per px column and drawn with their share as opacity.
func (t *Timeline) renderWorker(b *bytes.Buffer, w *tlWorker, x func(int64) float64, left, y float64, dur int64, titles *int) {
	label := tlLabel(w)
	fmt.Fprintf(b, "<g class=\"worker\" data-stage=\"%s\" data-worker=\"%s\">\n", tlEsc(w.stage), tlEsc(w.name))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s<title>%s</title></text>\n",
		tlNum(left-8), tlNum(y+tlRowH-3), tlEsc(tlTruncate(label, 36)), tlEsc(label))
	start, stop := w.start, w.stop
	if len(w.spans.s) > 0 && (start < 0 || w.spans.s[0].start < start) {
		start = w.spans.s[0].start
	}
	if start < 0 {
		start = 0
	}
	if stop < 0 {
		stop = dur
	}
	fmt.Fprintf(b, "<rect class=\"busy\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%d\" fill=\"%s\"><title>%s: alive %s–%s</title></rect>\n",
		tlNum(x(start)), tlNum(y), tlNum(max(x(stop)-x(start), 0.5)), tlRowH, tlBusy, tlEsc(label), tlSecs(start), tlSecs(stop))
	var cols [2][tlPlotW]float64 // idle, blocked share per column
	var exact [2]bytes.Buffer
	for _, sp := range w.spans.s {
		x0, x1 := x(sp.start)-left, x(sp.end)-left
		kind := 0
		if sp.blocked > sp.idle {
			kind = 1
		}
		if sp.n == 1 && x1-x0 >= 1 {
			fmt.Fprintf(&exact[kind], "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%d\">", tlNum(x0+left), tlNum(y), tlNum(x1-x0), tlRowH)
			if *titles < tlMaxTitles && x1-x0 >= 2 {
				*titles++
				what := "idle, waiting on"
				if kind == 1 {
					what = "blocked, full queue"
				}
				fmt.Fprintf(&exact[kind], "<title>%s: %s %s, %s–%s (%s)</title>", tlEsc(label), what, tlEsc(t.queueList[sp.q].name), tlSecs(sp.start), tlSecs(sp.end), tlDur(sp.end-sp.start))
			}
			exact[kind].WriteString("</rect>\n")
			continue
		}
		length := float64(sp.end - sp.start)
		for k, waited := range [2]int64{sp.idle, sp.blocked} {
			if waited == 0 {
				continue
			}
			if length == 0 || x1-x0 < 1e-9 {
				c := min(max(int(x0), 0), tlPlotW-1)
				cols[k][c] += float64(waited) / float64(dur) * tlPlotW
				continue
			}
			density := float64(waited) / length
			for c := max(int(x0), 0); c < tlPlotW && float64(c) < x1; c++ {
				overlap := min(x1, float64(c+1)) - max(x0, float64(c))
				cols[k][c] += overlap * density
			}
		}
	}
	for k, class := range [2]string{"idle", "blocked"} {
		var runs bytes.Buffer
		tlColumnRuns(&runs, cols[k][:], left, y)
		if exact[k].Len() == 0 && runs.Len() == 0 {
			continue
		}
		fill := tlIdle
		if k == 1 {
			fill = tlBlocked
		}
		fmt.Fprintf(b, "<g class=\"%s\" fill=\"%s\">\n", class, fill)
		b.Write(exact[k].Bytes())
		b.Write(runs.Bytes())
		b.WriteString("</g>\n")
	}
	if len(w.fails.s) > 0 {
		fmt.Fprintf(b, "<g class=\"failed\" stroke=\"%s\" stroke-width=\"1.5\">", tlFail)
		last := -1
		for _, f := range w.fails.s {
			if px := int(x(f.t)); px != last {
				last = px
				fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%s\" y2=\"%s\"/>", px, px, tlNum(y-1), tlNum(y+tlRowH+1))
			}
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")
}

// tlColumnRuns draws the columns' shares, in tenths, as runs of equal
// opacity.
func tlColumnRuns(b *bytes.Buffer, cols []float64, left, y float64) {
	for c := 0; c < len(cols); {
		q := min(int(math.Round(cols[c]*10)), 10)
		end := c + 1
		for end < len(cols) && min(int(math.Round(cols[end]*10)), 10) == q {
			end++
		}
		if q > 0 {
			opacity := ""
			if q < 10 {
				opacity = fmt.Sprintf(" fill-opacity=\"0.%d\"", q)
			}
			fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%d\" height=\"%d\"%s/>\n", tlNum(left+float64(c)), tlNum(y), end-c, tlRowH, opacity)
		}
		c = end
	}
}

// renderQueue draws one queue's depth chart with its top at y: per px
// column the greatest depth (light) over the least (dark).
func (t *Timeline) renderQueue(b *bytes.Buffer, q *tlQueue, x func(int64) float64, left, y float64, dur int64) {
	fmt.Fprintf(b, "<g class=\"queue\" data-queue=\"%s\">\n", tlEsc(q.name))
	scaleLabel, top := fmt.Sprintf("max depth %d", q.maxDepth), max(q.maxDepth, 1)
	capacity := q.capacity
	switch {
	case capacity > 0:
		scaleLabel, top = fmt.Sprintf("capacity %d", capacity), max(capacity, q.maxDepth, 1)
	case capacity == 0:
		scaleLabel = fmt.Sprintf("unbounded, max depth %d", q.maxDepth)
	case q.blocked: // not reported: a memory queue is full at its greatest depth
		scaleLabel, capacity = fmt.Sprintf("capacity %d", q.maxDepth), q.maxDepth
	}
	if len(q.depth.s) == 0 {
		scaleLabel = "depth not reported"
	}
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" font-weight=\"bold\">%s<title>queue %s</title></text>\n",
		tlNum(left-8), tlNum(y+12), tlEsc(tlTruncate(q.name, 36)), tlEsc(q.name))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" fill=\"#555\">%s</text>\n", tlNum(left-8), tlNum(y+26), scaleLabel)
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#bbb\"/>\n", tlNum(left), tlNum(y), tlPlotW, tlQueueH)
	base := y + tlQueueH
	yOf := func(v int32) float64 { return base - float64(v)/float64(top)*(tlQueueH-4) }
	fmt.Fprintf(b, "<g fill=\"#555\" font-size=\"9\" text-anchor=\"end\"><text x=\"%s\" y=\"%s\">0</text><text x=\"%s\" y=\"%s\">%d</text></g>\n",
		tlNum(left+tlPlotW+26), tlNum(base), tlNum(left+tlPlotW+26), tlNum(yOf(int32(top))+7), top)
	if len(q.depth.s) > 0 {
		var hi, lo [tlPlotW]int32
		cur, i := int32(0), 0
		s := q.depth.s
		for c := range tlPlotW {
			colEnd := int64(math.Ceil(float64(c+1) / tlPlotW * float64(dur)))
			hi[c], lo[c] = cur, cur
			for ; i < len(s) && (s[i].t < colEnd || c == tlPlotW-1); i++ {
				hi[c], lo[c] = max(hi[c], s[i].max), min(lo[c], s[i].min)
				cur = s[i].last
			}
			hi[c], lo[c] = max(hi[c], cur), min(lo[c], cur)
		}
		tlStepPath(b, "depth-max", tlPeak, hi[:], left, base, yOf)
		tlStepPath(b, "depth-min", tlTrough, lo[:], left, base, yOf)
	}
	if capacity > 0 {
		fmt.Fprintf(b, "<line class=\"capacity\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n",
			tlNum(left), tlNum(left+tlPlotW), tlNum(yOf(int32(capacity))), tlNum(yOf(int32(capacity))))
	}
	if q.closed >= 0 {
		fmt.Fprintf(b, "<g class=\"closed\"><line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#333\"/><text x=\"%s\" y=\"%s\" fill=\"#333\" font-size=\"9\">closed</text></g>\n",
			tlNum(x(q.closed)), tlNum(x(q.closed)), tlNum(y), tlNum(base), tlNum(x(q.closed)+2), tlNum(y+9))
	}
	b.WriteString("</g>\n")
}

// tlStepPath draws vals, one per column, as a filled step area on base.
func tlStepPath(b *bytes.Buffer, class, fill string, vals []int32, left, base float64, yOf func(int32) float64) {
	fmt.Fprintf(b, "<path class=\"%s\" fill=\"%s\" d=\"M%s %s", class, fill, tlNum(left), tlNum(base))
	prev := int32(-1)
	for c, v := range vals {
		if v != prev {
			if prev >= 0 {
				fmt.Fprintf(b, "H%s", tlNum(left+float64(c)))
			}
			fmt.Fprintf(b, "V%s", tlNum(yOf(v)))
			prev = v
		}
	}
	fmt.Fprintf(b, "H%s V%s Z\"/>\n", tlNum(left+float64(len(vals))), tlNum(base))
}

// tlNum formats a coordinate with at most one decimal.
func tlNum(f float64) string {
	s := strconv.FormatFloat(math.Round(f*10)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		return "0"
	}
	return s
}

func tlSecs(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s" }

func tlDur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", ns)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(ns)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(ns)/1e6)
	}
	return fmt.Sprintf("%.2fs", float64(ns)/1e9)
}

// tlEsc escapes s for XML text and attribute values.
func tlEsc(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

func tlTruncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// tlNaturalCompare orders strings with their digit runs compared as numbers.
func tlNaturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := tlDigitRun(a), tlDigitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func tlDigitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
