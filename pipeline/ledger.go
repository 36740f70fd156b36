package pipeline

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// counters are one stage's live counts. As an origin (a producer, or a
// consumer that emits or dead-letters) it owns the ledger row: every item
// it produced ends done, filtered, failed, abandoned or handed off. As a
// consumer it counts what it took. The same counters hold the items a
// shared run took from a shared NATS queue (run.received), with handedOff
// counting those handed back to the broker.
type counters struct {
	produced, done, filtered, failed, abandoned atomic.Int64
	skipped, deadLettered                       atomic.Int64 // parts of failed
	handedOff                                   atomic.Int64
	taken                                       atomic.Int64
	// Nanoseconds its workers spent waiting for items (idle), waiting to
	// put into a full queue (blocked), and alive (added as each exits).
	idle, blocked, alive atomic.Int64
}

// ledger reads the counters' ledger.
func (c *counters) ledger() Ledger {
	return Ledger{
		Produced: c.produced.Load(), Done: c.done.Load(), Filtered: c.filtered.Load(),
		Failed: c.failed.Load(), Skipped: c.skipped.Load(), DeadLettered: c.deadLettered.Load(),
		Abandoned: c.abandoned.Load(), HandedOff: c.handedOff.Load(),
	}
}

// queueCounters are the ledger of the items put into one queue.
type queueCounters struct {
	done, filtered, failed, abandoned, handedOff atomic.Int64
}

// Ledger is the accounting of a run, a stage or a queue: every item
// produced ends exactly one way, so
// Produced = Done + Filtered + Failed + Abandoned + HandedOff, and Failed
// counts the skipped and dead-lettered items among others (failed with
// `stop`). HandedOff is 0 unless the run shares NATS queues with other
// processes (Options.Shared, Only): an item this run put into such a queue
// is handed off, its end counted by whichever process takes it (Received).
type Ledger struct {
	Produced     int64 `json:"produced"`
	Done         int64 `json:"done"`          // every step ran
	Filtered     int64 `json:"filtered"`      // `when` was false
	Failed       int64 `json:"failed"`        // a step failed after every attempt
	Skipped      int64 `json:"skipped"`       // failed, and `on_error: skip` went on
	DeadLettered int64 `json:"dead_lettered"` // failed, and put into a dead-letter queue
	Abandoned    int64 `json:"abandoned"`     // never finished: deadline, signal, stop
	HandedOff    int64 `json:"handed_off"`    // put into a NATS queue shared with other processes
}

// Balanced reports whether every item is accounted for.
func (l Ledger) Balanced() bool {
	return l.Produced == l.Done+l.Filtered+l.Failed+l.Abandoned+l.HandedOff && l.Skipped+l.DeadLettered <= l.Failed
}

// Received is the accounting, in one process of a shared run, of the
// items it took from NATS queues shared with other processes. Every
// delivery taken ends exactly one way here, so
// Taken = Done + Filtered + Failed + HandedBack; an item delivered twice
// (its first reader died or timed out) is taken twice. The stages that
// made these items, here or elsewhere, counted them as handed off.
type Received struct {
	Taken        int64 `json:"taken"`
	Done         int64 `json:"done"`
	Filtered     int64 `json:"filtered"`
	Failed       int64 `json:"failed"`
	Skipped      int64 `json:"skipped"`
	DeadLettered int64 `json:"dead_lettered"`
	HandedBack   int64 `json:"handed_back"` // unfinished when this process stopped: back on the broker for another reader
}

// Balanced reports whether every item taken is accounted for.
func (r Received) Balanced() bool {
	return r.Taken == r.Done+r.Filtered+r.Failed+r.HandedBack && r.Skipped+r.DeadLettered <= r.Failed
}

func (r *Received) add(o Received) {
	r.Taken += o.Taken
	r.Done += o.Done
	r.Filtered += o.Filtered
	r.Failed += o.Failed
	r.Skipped += o.Skipped
	r.DeadLettered += o.DeadLettered
	r.HandedBack += o.HandedBack
}

// String is the line of the summary: "20 taken from shared queues = 19
// done + 0 filtered + 1 failed (1 skipped, 0 dead-lettered) + 0 handed back".
func (r Received) String() string {
	failed := fmt.Sprintf("%d failed", r.Failed)
	if r.Skipped > 0 || r.DeadLettered > 0 {
		failed += fmt.Sprintf(" (%d skipped, %d dead-lettered)", r.Skipped, r.DeadLettered)
	}
	return fmt.Sprintf("%d taken from shared queues = %d done + %d filtered + %s + %d handed back",
		r.Taken, r.Done, r.Filtered, failed, r.HandedBack)
}

func (l *Ledger) add(o Ledger) {
	l.Produced += o.Produced
	l.Done += o.Done
	l.Filtered += o.Filtered
	l.Failed += o.Failed
	l.Skipped += o.Skipped
	l.DeadLettered += o.DeadLettered
	l.Abandoned += o.Abandoned
	l.HandedOff += o.HandedOff
}

// String is the ledger line: "10 produced = 6 done + 1 filtered + 2 failed
// (1 skipped, 1 dead-lettered) + 1 abandoned", with "+ N handed off" when
// some items were.
func (l Ledger) String() string { return l.format(l.HandedOff != 0) }

// format is the ledger line, with the handed-off term when handedOff is
// set (always in a shared run).
func (l Ledger) format(handedOff bool) string {
	failed := fmt.Sprintf("%d failed", l.Failed)
	if l.Skipped > 0 || l.DeadLettered > 0 {
		failed += fmt.Sprintf(" (%d skipped, %d dead-lettered)", l.Skipped, l.DeadLettered)
	}
	s := fmt.Sprintf("%d produced = %d done + %d filtered + %s + %d abandoned",
		l.Produced, l.Done, l.Filtered, failed, l.Abandoned)
	if handedOff {
		s += fmt.Sprintf(" + %d handed off", l.HandedOff)
	}
	return s
}

// StageStats is one stage's line in the summary.
type StageStats struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // producer, consumer, or replay (items put back from a spill file)
	Workers int    `json:"workers"`
	Taken   int64  `json:"taken"` // items taken from its queue (consumers)
	// The ledger of the items this stage produced (put into a queue).
	Ledger
	// Rate is items per second of the run's wall time: taken, for a
	// consumer; produced, for a producer.
	Rate float64 `json:"rate"`
	// Busy is the share of its workers' lives spent neither waiting for
	// an item (Idle) nor waiting to put into a full queue (Blocked), from
	// 0 to 1. The durations are summed over its workers.
	Busy    float64       `json:"busy"`
	Idle    time.Duration `json:"idle_ns"`
	Blocked time.Duration `json:"blocked_ns"`
}

// QueueLedger is one queue's line in the summary: its counters, and the
// ledger of the items put into it (Produced is the number put). For a NATS
// queue shared with other processes, every item put is handed off, and
// Received accounts for the items taken from it here.
type QueueLedger struct {
	QueueStats
	// Shared: a NATS queue shared with other processes.
	Shared   bool      `json:"shared,omitempty"`
	Ledger   Ledger    `json:"ledger"`
	Received *Received `json:"received,omitempty"` // when this process reads a shared queue
}

// Result is what a run did, whatever way it ended.
type Result struct {
	Pipeline string        `json:"pipeline"`
	Strategy string        `json:"strategy"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Total    Ledger        `json:"ledger"`
	// Shared: the run shares NATS queues with other processes, and its
	// result is this process's part of the whole (see Ledger, Received).
	Shared bool `json:"shared,omitempty"`
	// Received sums the queues' Received: the items taken here from
	// shared NATS queues (a shared run only).
	Received *Received     `json:"received,omitempty"`
	Stages   []StageStats  `json:"stages"`
	Queues   []QueueLedger `json:"queues"`
	// Stop says why producers stopped early: "", "deadline", "interrupt",
	// "failure" or "deadlock".
	Stop     string   `json:"stop,omitempty"`
	Failures []string `json:"failures,omitempty"`
	// Spilled is the number of items written to the spill file.
	Spilled int `json:"spilled,omitempty"`
}

// Ledger sums the ledger over every origin stage.
func (r *Result) Ledger() Ledger {
	var l Ledger
	for _, s := range r.Stages {
		l.add(s.Ledger)
	}
	return l
}

// Balanced returns an error naming every stage and queue whose ledger does
// not hold. It is nil on every correct run.
func (r *Result) Balanced() error {
	var bad []string
	for _, s := range r.Stages {
		if !s.Ledger.Balanced() {
			bad = append(bad, "stage "+s.Name+": "+s.Ledger.String())
		}
	}
	for _, q := range r.Queues {
		if !q.Ledger.Balanced() {
			bad = append(bad, "queue "+q.Name+": "+q.Ledger.String())
		}
		if q.Received != nil && !q.Received.Balanced() {
			bad = append(bad, "queue "+q.Name+": "+q.Received.String())
		}
	}
	if bad == nil {
		return nil
	}
	return fmt.Errorf("pcrun bug: the ledger does not balance: %s", strings.Join(bad, "; "))
}

// WriteSummary prints the end-of-run summary: the ledger line with the
// wall time, then an aligned table of the stages (workers, items taken,
// the ledger of the items each produced, rate and busy share) and one of
// the queues (capacity, items put and taken, maximum depth, the ledger of
// the items put into each, and how long items waited there).
func (r *Result) WriteSummary(w io.Writer) {
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
	fmt.Fprintf(w, "pcrun: %s %s in %s: %s\n", r.Pipeline, how, r.Elapsed.Round(time.Millisecond), r.Total.format(r.Shared))
	if r.Received != nil {
		fmt.Fprintf(w, "pcrun: %s: %s\n", r.Pipeline, r.Received)
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
	st.write(w)
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
			mean, p50, p99 = shortDuration(ws.Mean), shortDuration(ws.P50), shortDuration(ws.P99)
		}
		qt.row(q.Name, c, fmt.Sprint(q.Put), fmt.Sprint(q.Taken), fmt.Sprint(q.MaxDepth), dash(l.Done, local),
			dash(l.Filtered, local), dash(l.Failed, local), fmt.Sprint(l.Abandoned), when(r.Shared, fmt.Sprint(l.HandedOff)),
			mean, p50, p99)
	}
	qt.write(w)
	for _, q := range r.Queues {
		if q.Received != nil && q.Received.Taken > 0 {
			fmt.Fprintf(w, "  queue %s: %s\n", q.Name, strings.Replace(q.Received.String(), "from shared queues", "here", 1))
		}
	}
	for _, q := range r.Queues {
		if q.Redelivered > 0 { // NATS: delivery is at least once
			fmt.Fprintf(w, "  queue %s: %d delivery(ies) of items delivered before (a reader died or timed out)\n", q.Name, q.Redelivered)
		}
	}
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

// shortDuration formats d in three significant digits: 812ns, 35.3µs,
// 1.24ms, 2.5s.
func shortDuration(d time.Duration) string {
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
