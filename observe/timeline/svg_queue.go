package timeline

import (
	"bytes"
	"fmt"
	"math"
)

// renderQueue draws one queue's depth chart with its top at y: per px
// column the greatest depth (light) over the least (dark).
func renderQueue(c *canvas, q *queue, y float64) {
	b, left := c.b, c.left
	fmt.Fprintf(b, "<g class=\"queue\" data-queue=\"%s\">\n", esc(q.name))
	scaleLabel, top, capacity := q.scale()
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" font-weight=\"bold\">%s<title>queue %s</title></text>\n",
		num(left-8), num(y+12), esc(truncate(q.name, 36)), esc(q.name))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" fill=\"#555\">%s</text>\n", num(left-8), num(y+26), scaleLabel)
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#bbb\"/>\n", num(left), num(y), plotW, queueH)
	base := y + queueH
	yOf := func(v int32) float64 { return base - float64(v)/float64(top)*(queueH-4) }
	fmt.Fprintf(b, "<g fill=\"#555\" font-size=\"9\" text-anchor=\"end\"><text x=\"%s\" y=\"%s\">0</text><text x=\"%s\" y=\"%s\">%d</text></g>\n",
		num(left+plotW+26), num(base), num(left+plotW+26), num(yOf(int32(top))+7), top)
	if len(q.depth.s) > 0 {
		hi, lo := depthColumns(q.depth.s, c.dur)
		stepPath(b, "depth-max", colorPeak, hi[:], left, base, yOf)
		stepPath(b, "depth-min", colorTrough, lo[:], left, base, yOf)
	}
	if capacity > 0 {
		fmt.Fprintf(b, "<line class=\"capacity\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n",
			num(left), num(left+plotW), num(yOf(int32(capacity))), num(yOf(int32(capacity))))
	}
	if q.closed >= 0 {
		fmt.Fprintf(b, "<g class=\"closed\"><line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#333\"/><text x=\"%s\" y=\"%s\" fill=\"#333\" font-size=\"9\">closed</text></g>\n",
			num(c.x(q.closed)), num(c.x(q.closed)), num(y), num(base), num(c.x(q.closed)+2), num(y+9))
	}
	b.WriteString("</g>\n")
}

// scale is how q's chart is scaled: the label beside it, the depth at its
// top, and the capacity drawn dashed where positive.
func (q *queue) scale() (label string, top, capacity int) {
	label, top = fmt.Sprintf("max depth %d", q.maxDepth), max(q.maxDepth, 1)
	capacity = q.capacity
	switch {
	case capacity > 0:
		label, top = fmt.Sprintf("capacity %d", capacity), max(capacity, q.maxDepth, 1)
	case capacity == 0:
		label = fmt.Sprintf("unbounded, max depth %d", q.maxDepth)
	case q.blocked: // not reported: a memory queue is full at its greatest depth
		label, capacity = fmt.Sprintf("capacity %d", q.maxDepth), q.maxDepth
	}
	if len(q.depth.s) == 0 {
		label = "depth not reported"
	}
	return label, top, capacity
}

// depthColumns is the greatest and the least depth of the samples s in
// each px column of a plot of dur ns.
func depthColumns(s []sample, dur int64) (hi, lo [plotW]int32) {
	cur, i := int32(0), 0
	for c := range plotW {
		colEnd := int64(math.Ceil(float64(c+1) / plotW * float64(dur)))
		hi[c], lo[c] = cur, cur
		for ; i < len(s) && (s[i].t < colEnd || c == plotW-1); i++ {
			hi[c], lo[c] = max(hi[c], s[i].max), min(lo[c], s[i].min)
			cur = s[i].last
		}
		hi[c], lo[c] = max(hi[c], cur), min(lo[c], cur)
	}
	return hi, lo
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
