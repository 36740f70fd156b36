package timeline

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
// the run returns (during a run it draws what happened so far, holding up
// the run's events while it does).
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
`, esc(name), esc(name))
	if started != "" {
		fmt.Fprintf(&b, "<p>Started %s.</p>\n", esc(started))
	}
	if ledger != "" {
		fmt.Fprintf(&b, "<p class=\"ledger\">%s</p>\n", esc(ledger))
	}
	fmt.Fprintf(&b, `<p>A row per worker, from its start to its end:
<span class="sw" style="background:%s"></span> busy (making or handling an item),
<span class="sw" style="background:%s"></span> idle (waiting for an item, or for a queue's items to be finished),
<span class="sw" style="background:%s"></span> blocked (waiting for room in a full queue);
paler where the picture merges short waits with work. Red ticks are failed items.
Beneath, each queue's depth over time (light: its peaks, dark: its troughs), with its capacity dashed.</p>
`, colorBusy, colorIdle, colorBlocked)
	b.Write(svg.Bytes())
	b.WriteString("</body>\n</html>\n")
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

// render writes the <svg> element.
func (t *Timeline) render(b *bytes.Buffer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	workers := t.sortedWorkers()
	queues := slices.Clone(t.queueList)
	slices.SortFunc(queues, func(a, b *queue) int { return strings.Compare(a.name, b.name) })

	labelChars := 18 // "depth not reported"
	for _, w := range workers {
		labelChars = max(labelChars, len([]rune(rowLabel(w))))
	}
	for _, q := range queues {
		labelChars = max(labelChars, len([]rune(q.name)))
	}
	labelChars = min(labelChars, 36)
	left := math.Round(float64(labelChars)*charW + 24)
	width := left + plotW + 40
	rowsTop := 96.0
	y := rowsTop
	prevStage := ""
	for i, w := range workers {
		if i > 0 && w.stage != prevStage {
			y += stageGap
		}
		prevStage = w.stage
		y += rowPitch
	}
	rowsBottom := y
	height := rowsBottom + 24 + float64(len(queues))*(queueH+queueGap) + 30

	dur := max(t.end, 1)
	x := func(ns int64) float64 { return left + float64(ns)/float64(dur)*plotW }

	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11">`+"\n",
		num(width), num(height), num(width), num(height))
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

	if len(workers) == 0 && len(queues) == 0 {
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" fill=\"#888\">no events recorded</text>\n</svg>\n", num(left), num(rowsTop+12))
		return
	}
	bottom := height - 30
	axis(b, x, dur, rowsTop-8, bottom+14, rowsTop-4, bottom)

	titles := 0
	y = rowsTop
	prevStage = ""
	for i, w := range workers {
		if i > 0 && w.stage != prevStage {
			y += stageGap
			fmt.Fprintf(b, "<line x1=\"16\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#ccc\"/>\n", num(width-16), num(y-stageGap/2-2), num(y-stageGap/2-2))
		}
		prevStage = w.stage
		t.renderWorker(b, w, x, left, y, dur, &titles)
		y += rowPitch
	}
	y = rowsBottom + 24
	for _, q := range queues {
		t.renderQueue(b, q, x, left, y, dur)
		y += queueH + queueGap
	}
	for _, d := range t.deadlocks {
		fmt.Fprintf(b, `<g class="deadlock"><line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 3"/><text x="%s" y="%s" fill="%s">deadlock</text><title>%s</title></g>`+"\n",
			num(x(d.t)), num(x(d.t)), num(rowsTop-2), num(bottom), colorFail, num(x(d.t)+3), num(rowsTop+9), colorFail, esc(d.msg))
	}
	b.WriteString("</svg>\n")
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

func rowLabel(w *worker) string {
	if w.stage == "" || w.stage == w.name {
		return w.name
	}
	return w.stage + " / " + w.name
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

// renderWorker draws one worker's row with its top at y: its life in the
// busy colour, its waits over it. A wait at least a px wide is drawn
// exactly (with a tooltip while there are fewer than maxTitles); the rest
// are summed per px column and drawn with their share as opacity.
func (t *Timeline) renderWorker(b *bytes.Buffer, w *worker, x func(int64) float64, left, y float64, dur int64, titles *int) {
	label := rowLabel(w)
	fmt.Fprintf(b, "<g class=\"worker\" data-stage=\"%s\" data-worker=\"%s\">\n", esc(w.stage), esc(w.name))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s<title>%s</title></text>\n",
		num(left-8), num(y+rowH-3), esc(truncate(label, 36)), esc(label))
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
		num(x(start)), num(y), num(max(x(stop)-x(start), 0.5)), rowH, colorBusy, esc(label), secs(start), secs(stop))
	var cols [2][plotW]float64 // idle, blocked share per column
	var exact [2]bytes.Buffer
	for _, sp := range w.spans.s {
		x0, x1 := x(sp.start)-left, x(sp.end)-left
		kind := 0
		if sp.blocked > sp.idle {
			kind = 1
		}
		if sp.n == 1 && x1-x0 >= 1 {
			fmt.Fprintf(&exact[kind], "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%d\">", num(x0+left), num(y), num(x1-x0), rowH)
			if *titles < maxTitles && x1-x0 >= 2 {
				*titles++
				what := "idle, waiting on"
				if kind == 1 {
					what = "blocked, full queue"
				}
				fmt.Fprintf(&exact[kind], "<title>%s: %s %s, %s–%s (%s)</title>", esc(label), what, esc(t.queueList[sp.q].name), secs(sp.start), secs(sp.end), shortDur(sp.end-sp.start))
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
				c := min(max(int(x0), 0), plotW-1)
				cols[k][c] += float64(waited) / float64(dur) * plotW
				continue
			}
			density := float64(waited) / length
			for c := max(int(x0), 0); c < plotW && float64(c) < x1; c++ {
				overlap := min(x1, float64(c+1)) - max(x0, float64(c))
				cols[k][c] += overlap * density
			}
		}
	}
	for k, class := range [2]string{"idle", "blocked"} {
		var runs bytes.Buffer
		columnRuns(&runs, cols[k][:], left, y)
		if exact[k].Len() == 0 && runs.Len() == 0 {
			continue
		}
		fill := colorIdle
		if k == 1 {
			fill = colorBlocked
		}
		fmt.Fprintf(b, "<g class=\"%s\" fill=\"%s\">\n", class, fill)
		b.Write(exact[k].Bytes())
		b.Write(runs.Bytes())
		b.WriteString("</g>\n")
	}
	if len(w.fails.s) > 0 {
		fmt.Fprintf(b, "<g class=\"failed\" stroke=\"%s\" stroke-width=\"1.5\">", colorFail)
		last := -1
		for _, f := range w.fails.s {
			if px := int(x(f.t)); px != last {
				last = px
				fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%s\" y2=\"%s\"/>", px, px, num(y-1), num(y+rowH+1))
			}
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")
}

// columnRuns draws the columns' shares, in tenths, as runs of equal
// opacity.
func columnRuns(b *bytes.Buffer, cols []float64, left, y float64) {
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
			fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%d\" height=\"%d\"%s/>\n", num(left+float64(c)), num(y), end-c, rowH, opacity)
		}
		c = end
	}
}

// renderQueue draws one queue's depth chart with its top at y: per px
// column the greatest depth (light) over the least (dark).
func (t *Timeline) renderQueue(b *bytes.Buffer, q *queue, x func(int64) float64, left, y float64, dur int64) {
	fmt.Fprintf(b, "<g class=\"queue\" data-queue=\"%s\">\n", esc(q.name))
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
		num(left-8), num(y+12), esc(truncate(q.name, 36)), esc(q.name))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" fill=\"#555\">%s</text>\n", num(left-8), num(y+26), scaleLabel)
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#bbb\"/>\n", num(left), num(y), plotW, queueH)
	base := y + queueH
	yOf := func(v int32) float64 { return base - float64(v)/float64(top)*(queueH-4) }
	fmt.Fprintf(b, "<g fill=\"#555\" font-size=\"9\" text-anchor=\"end\"><text x=\"%s\" y=\"%s\">0</text><text x=\"%s\" y=\"%s\">%d</text></g>\n",
		num(left+plotW+26), num(base), num(left+plotW+26), num(yOf(int32(top))+7), top)
	if len(q.depth.s) > 0 {
		var hi, lo [plotW]int32
		cur, i := int32(0), 0
		s := q.depth.s
		for c := range plotW {
			colEnd := int64(math.Ceil(float64(c+1) / plotW * float64(dur)))
			hi[c], lo[c] = cur, cur
			for ; i < len(s) && (s[i].t < colEnd || c == plotW-1); i++ {
				hi[c], lo[c] = max(hi[c], s[i].max), min(lo[c], s[i].min)
				cur = s[i].last
			}
			hi[c], lo[c] = max(hi[c], cur), min(lo[c], cur)
		}
		stepPath(b, "depth-max", colorPeak, hi[:], left, base, yOf)
		stepPath(b, "depth-min", colorTrough, lo[:], left, base, yOf)
	}
	if capacity > 0 {
		fmt.Fprintf(b, "<line class=\"capacity\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n",
			num(left), num(left+plotW), num(yOf(int32(capacity))), num(yOf(int32(capacity))))
	}
	if q.closed >= 0 {
		fmt.Fprintf(b, "<g class=\"closed\"><line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#333\"/><text x=\"%s\" y=\"%s\" fill=\"#333\" font-size=\"9\">closed</text></g>\n",
			num(x(q.closed)), num(x(q.closed)), num(y), num(base), num(x(q.closed)+2), num(y+9))
	}
	b.WriteString("</g>\n")
}

// stepPath draws vals, one per column, as a filled step area on base.
func stepPath(b *bytes.Buffer, class, fill string, vals []int32, left, base float64, yOf func(int32) float64) {
	fmt.Fprintf(b, "<path class=\"%s\" fill=\"%s\" d=\"M%s %s", class, fill, num(left), num(base))
	prev := int32(-1)
	for c, v := range vals {
		if v != prev {
			if prev >= 0 {
				fmt.Fprintf(b, "H%s", num(left+float64(c)))
			}
			fmt.Fprintf(b, "V%s", num(yOf(v)))
			prev = v
		}
	}
	fmt.Fprintf(b, "H%s V%s Z\"/>\n", num(left+float64(len(vals))), num(base))
}

// num formats a coordinate with at most one decimal.
func num(f float64) string {
	s := strconv.FormatFloat(math.Round(f*10)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		return "0"
	}
	return s
}

func secs(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s" }

func shortDur(ns int64) string {
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

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// naturalCompare orders strings with their digit runs compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
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

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
