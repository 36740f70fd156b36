package timeline

import (
	"bytes"
	"fmt"
	"math"
)

// renderWorker draws one worker's row with its top at y: its life in the
// busy colour, its waits over it (renderWaits), its failed items.
func (t *Timeline) renderWorker(c *canvas, w *worker, y float64) {
	label := rowLabel(w)
	fmt.Fprintf(c.b, "<g class=\"worker\" data-stage=\"%s\" data-worker=\"%s\">\n", esc(w.stage), esc(w.name))
	fmt.Fprintf(c.b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s<title>%s</title></text>\n",
		num(c.left-8), num(y+rowH-3), esc(truncate(label, 36)), esc(label))
	start, stop := w.life(c.dur)
	fmt.Fprintf(c.b, "<rect class=\"busy\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%d\" fill=\"%s\"><title>%s: alive %s–%s</title></rect>\n",
		num(c.x(start)), num(y), num(max(c.x(stop)-c.x(start), 0.5)), rowH, colorBusy, esc(label), secs(start), secs(stop))
	t.renderWaits(c, w.spans.s, label, y)
	renderFails(c, w.fails.s, y)
	c.b.WriteString("</g>\n")
}

// life is when w lived: from its start, or its first wait if that came
// before, to its stop; from the run's start or to dur where not seen.
func (w *worker) life(dur int64) (start, stop int64) {
	start, stop = w.start, w.stop
	if len(w.spans.s) > 0 && (start < 0 || w.spans.s[0].start < start) {
		start = w.spans.s[0].start
	}
	if start < 0 {
		start = 0
	}
	if stop < 0 {
		stop = dur
	}
	return start, stop
}

// The two kinds of wait, as indexes into waits' arrays.
const (
	waitIdle    = 0
	waitBlocked = 1
)

// waitKind is what sp mostly waited for: an item (idle) or room (blocked).
func (sp span) waitKind() int {
	if sp.blocked > sp.idle {
		return waitBlocked
	}
	return waitIdle
}

// waits are a row's waits being drawn, idle and blocked apart.
type waits struct {
	rects [2]bytes.Buffer   // one rect per wait drawn exactly
	cols  [2][plotW]float64 // the share of each px column waited in the others
}

// renderWaits draws a row's waits, spans, over its life at y. A wait at
// least a px wide is drawn exactly (with a tooltip while there are fewer
// than maxTitles); the rest are summed per px column and drawn with their
// share as opacity.
func (t *Timeline) renderWaits(c *canvas, spans []span, label string, y float64) {
	var ws waits
	for _, sp := range spans {
		x0, x1 := c.x(sp.start)-c.left, c.x(sp.end)-c.left
		if sp.n == 1 && x1-x0 >= 1 {
			title := ""
			if c.titles < maxTitles && x1-x0 >= 2 {
				c.titles++
				title = t.waitTitle(label, sp)
			}
			fmt.Fprintf(&ws.rects[sp.waitKind()], "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%d\">%s</rect>\n", num(x0+c.left), num(y), num(x1-x0), rowH, title)
			continue
		}
		ws.spread(sp, x0, x1, c.dur)
	}
	ws.write(c.b, c.left, y)
}

// waitTitle is the tooltip of a wait drawn exactly.
func (t *Timeline) waitTitle(label string, sp span) string {
	what := "idle, waiting on"
	if sp.waitKind() == waitBlocked {
		what = "blocked, full queue"
	}
	return fmt.Sprintf("<title>%s: %s %s, %s–%s (%s)</title>", esc(label), what, esc(t.queueList[sp.q].name), secs(sp.start), secs(sp.end), shortDur(sp.end-sp.start))
}

// spread adds the time sp waited, from x0 to x1 on the plot of dur ns, to
// the columns it covers, evenly; a span with no width adds it all to its
// column.
func (ws *waits) spread(sp span, x0, x1 float64, dur int64) {
	length := float64(sp.end - sp.start)
	for k, waited := range [2]int64{sp.idle, sp.blocked} {
		if waited == 0 {
			continue
		}
		if length == 0 || x1-x0 < 1e-9 {
			c := min(max(int(x0), 0), plotW-1)
			ws.cols[k][c] += float64(waited) / float64(dur) * plotW
			continue
		}
		density := float64(waited) / length
		for c := max(int(x0), 0); c < plotW && float64(c) < x1; c++ {
			overlap := min(x1, float64(c+1)) - max(x0, float64(c))
			ws.cols[k][c] += overlap * density
		}
	}
}

// write draws the waits on the row at y: a group of each kind that has
// any, in its colour, its exact rects then its columns.
func (ws *waits) write(b *bytes.Buffer, left, y float64) {
	for k, class := range [2]string{"idle", "blocked"} {
		var runs bytes.Buffer
		columnRuns(&runs, ws.cols[k][:], left, y)
		if ws.rects[k].Len() == 0 && runs.Len() == 0 {
			continue
		}
		fill := colorIdle
		if k == waitBlocked {
			fill = colorBlocked
		}
		fmt.Fprintf(b, "<g class=\"%s\" fill=\"%s\">\n", class, fill)
		b.Write(ws.rects[k].Bytes())
		b.Write(runs.Bytes())
		b.WriteString("</g>\n")
	}
}

// renderFails draws a red tick on the row at y for each px column in which
// items failed.
func renderFails(c *canvas, fails []sample, y float64) {
	if len(fails) == 0 {
		return
	}
	fmt.Fprintf(c.b, "<g class=\"failed\" stroke=\"%s\" stroke-width=\"1.5\">", colorFail)
	last := -1
	for _, f := range fails {
		if px := int(c.x(f.t)); px != last {
			last = px
			fmt.Fprintf(c.b, "<line x1=\"%d\" x2=\"%d\" y1=\"%s\" y2=\"%s\"/>", px, px, num(y-1), num(y+rowH+1))
		}
	}
	c.b.WriteString("</g>\n")
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

// rowLabel names w's row: its stage and its name, or its name alone where
// they are the same.
func rowLabel(w *worker) string {
	if w.stage == "" || w.stage == w.name {
		return w.name
	}
	return w.stage + " / " + w.name
}
