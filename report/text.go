package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pcrun/pcrun/observe"
)

// Text writes the end-of-run summary: the ledger line with the
// wall time, then an aligned table of the stages (workers, items taken,
// the ledger of the items each produced, rate and busy share) and one of
// the queues (capacity, items put and taken, maximum depth, the ledger of
// the items put into each, and how long items waited there).
func Text(out io.Writer, r *observe.Result) error {
	var w bytes.Buffer
	how := "finished"
	switch r.Stop {
	case "deadline":
		how = "stopped at its deadline"
	case "interrupt":
		how = "interrupted"
	case "failure":
		how = "stopped after a failure"
	case "deadlock":
		how = "deadlocked"
	}
	fmt.Fprintf(&w, "pcrun: %s %s in %s: %s\n", r.Pipeline, how, r.Elapsed.Round(time.Millisecond), r.Total.Format(r.Shared))
	if r.Received != nil {
		fmt.Fprintf(&w, "pcrun: %s: %s\n", r.Pipeline, r.Received)
	}
	if r.Run != nil {
		fmt.Fprintf(&w, "pcrun: %s: whole run so far: %s\n", r.Pipeline, r.Run)
	}
	var failedParts bool // show the skipped and dead-lettered columns
	for _, s := range r.Stages {
		failedParts = failedParts || s.Skipped > 0 || s.DeadLettered > 0
	}
	st := &table{}
	st.row("stage", "kind", "workers", "taken", "produced", "done", "filtered", "failed",
		when(failedParts, "skipped"), when(failedParts, "dead-lettered"), "abandoned", when(r.Shared, "handed off"), "rate/s", "busy")
	for _, s := range r.Stages {
		origin := s.Produced > 0 || s.Kind != "consumer"
		l := s.Ledger
		st.row(s.Name, s.Kind, fmt.Sprint(s.Workers), dash(s.Taken, s.Kind == "consumer"), dash(l.Produced, origin),
			dash(l.Done, origin), dash(l.Filtered, origin), dash(l.Failed, origin),
			when(failedParts, dash(l.Skipped, origin)), when(failedParts, dash(l.DeadLettered, origin)),
			dash(l.Abandoned, origin), when(r.Shared, dash(l.HandedOff, origin)), rate(s.Rate), fmt.Sprintf("%.0f%%", 100*s.Busy))
	}
	st.write(&w)
	qt := &table{}
	qt.row("queue", "capacity", "put", "taken", "max depth", "done", "filtered", "failed", "abandoned",
		when(r.Shared, "handed off"), "wait mean", "p50", "p99")
	for _, q := range r.Queues {
		c := "unbounded"
		if q.Capacity > 0 {
			c = fmt.Sprint(q.Capacity)
		}
		l := q.Ledger
		local := !q.Shared // a shared queue hands off every item put; Received has the rest
		mean, p50, p99 := "-", "-", "-"
		if ws := q.Wait; ws != nil {
			mean, p50, p99 = threeDigits(ws.Mean), threeDigits(ws.P50), threeDigits(ws.P99)
		}
		qt.row(q.Name, c, fmt.Sprint(q.Put), fmt.Sprint(q.Taken), fmt.Sprint(q.MaxDepth), dash(l.Done, local),
			dash(l.Filtered, local), dash(l.Failed, local), fmt.Sprint(l.Abandoned), when(r.Shared, fmt.Sprint(l.HandedOff)),
			mean, p50, p99)
	}
	qt.write(&w)
	for _, q := range r.Queues {
		if q.Received != nil && q.Received.Taken > 0 {
			fmt.Fprintf(&w, "  queue %s: %s\n", q.Name, strings.Replace(q.Received.String(), "from shared queues", "here", 1))
		}
	}
	for _, q := range r.Queues {
		if q.Redelivered > 0 { // NATS: delivery is at least once
			fmt.Fprintf(&w, "  queue %s: %d delivery(ies) of items delivered before (a reader died or timed out)\n", q.Name, q.Redelivered)
		}
	}
	_, err := out.Write(w.Bytes())
	return err
}

// rate formats items per second in three significant digits: 0.5, 12.3,
// 4.57k, 2.31M.
func rate(r float64) string {
	switch {
	case r >= 1e6:
		return strconv.FormatFloat(r/1e6, 'f', digitsAfter(r/1e6), 64) + "M"
	case r >= 1e3:
		return strconv.FormatFloat(r/1e3, 'f', digitsAfter(r/1e3), 64) + "k"
	case r == 0:
		return "0"
	}
	return strconv.FormatFloat(r, 'f', digitsAfter(r), 64)
}

// digitsAfter is how many decimals show three significant digits of x
// (at most 2).
func digitsAfter(x float64) int {
	switch {
	case x >= 100:
		return 0
	case x >= 10:
		return 1
	}
	return 2
}

// threeDigits formats d in three significant digits (the summary's
// precision; config.ShortDuration writes a duration as a file would): 812ns, 35.3µs,
// 1.24ms, 2.5s.
func threeDigits(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', digitsAfter(float64(d)/1e3), 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', digitsAfter(float64(d)/1e6), 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', digitsAfter(d.Seconds()), 64) + "s"
}

// table is an aligned table of the summary. A cell made by when(false, ...)
// drops its column.
type table struct{ rows [][]string }

// hidden marks a cell whose column is not shown.
const hidden = "\x00"

func when(show bool, cell string) string {
	if !show {
		return hidden
	}
	return cell
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// write writes the rows indented by two spaces, columns two spaces apart,
// with no trailing spaces.
func (t *table) write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString("  ")
		first := true
		for _, c := range r {
			if c == hidden {
				continue
			}
			if !first {
				b.WriteByte('\t')
			}
			first = false
			b.WriteString(c)
		}
		b.WriteByte('\n')
		fmt.Fprint(tw, b.String())
	}
	tw.Flush()
}

func dash(n int64, show bool) string {
	if !show {
		return "-"
	}
	return fmt.Sprint(n)
}
