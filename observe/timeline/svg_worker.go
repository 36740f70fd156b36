package timeline

import (
	"bytes"
	"fmt"
	"math"
)

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

// rowLabel names w's row: its stage and its name, or its name alone where
// they are the same.
func rowLabel(w *worker) string {
	if w.stage == "" || w.stage == w.name {
		return w.name
	}
	return w.stage + " / " + w.name
}
