package pipeline

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// counters are one stage's live counts. As an origin (a producer, or a
// consumer that emits or dead-letters) it owns the ledger row: every item
// it produced ends done, filtered, failed or abandoned. As a consumer it
// counts what it took.
type counters struct {
	produced, done, filtered, failed, abandoned atomic.Int64
	skipped, deadLettered                       atomic.Int64 // parts of failed
	taken                                       atomic.Int64
}

// queueCounters are the ledger of the items put into one queue.
type queueCounters struct {
	done, filtered, failed, abandoned atomic.Int64
}

// Ledger is the accounting of a run, a stage or a queue: every item
// produced ends exactly one way, so
// Produced = Done + Filtered + Failed + Abandoned, and Failed counts the
// skipped and dead-lettered items among others (failed with `stop`).
type Ledger struct {
	Produced     int64 `json:"produced"`
	Done         int64 `json:"done"`          // every step ran
	Filtered     int64 `json:"filtered"`      // `when` was false
	Failed       int64 `json:"failed"`        // a step failed after every attempt
	Skipped      int64 `json:"skipped"`       // failed, and `on_error: skip` went on
	DeadLettered int64 `json:"dead_lettered"` // failed, and put into a dead-letter queue
	Abandoned    int64 `json:"abandoned"`     // never finished: deadline, signal, stop
}

// Balanced reports whether every item is accounted for.
func (l Ledger) Balanced() bool {
	return l.Produced == l.Done+l.Filtered+l.Failed+l.Abandoned && l.Skipped+l.DeadLettered <= l.Failed
}

func (l *Ledger) add(o Ledger) {
	l.Produced += o.Produced
	l.Done += o.Done
	l.Filtered += o.Filtered
	l.Failed += o.Failed
	l.Skipped += o.Skipped
	l.DeadLettered += o.DeadLettered
	l.Abandoned += o.Abandoned
}

// String is the ledger line: "10 produced = 6 done + 1 filtered + 2 failed
// (1 skipped, 1 dead-lettered) + 1 abandoned".
func (l Ledger) String() string {
	failed := fmt.Sprintf("%d failed", l.Failed)
	if l.Skipped > 0 || l.DeadLettered > 0 {
		failed += fmt.Sprintf(" (%d skipped, %d dead-lettered)", l.Skipped, l.DeadLettered)
	}
	return fmt.Sprintf("%d produced = %d done + %d filtered + %s + %d abandoned",
		l.Produced, l.Done, l.Filtered, failed, l.Abandoned)
}

// StageStats is one stage's line in the summary.
type StageStats struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // producer, consumer, or replay (items put back from a spill file)
	Workers int    `json:"workers"`
	Taken   int64  `json:"taken"` // items taken from its queue (consumers)
	// The ledger of the items this stage produced (put into a queue).
	Ledger
}

// QueueLedger is one queue's line in the summary: its counters, and the
// ledger of the items put into it (Produced is the number put).
type QueueLedger struct {
	QueueStats
	Ledger Ledger `json:"ledger"`
}

// Result is what a run did, whatever way it ended.
type Result struct {
	Pipeline string        `json:"pipeline"`
	Strategy string        `json:"strategy"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Total    Ledger        `json:"ledger"`
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
	}
	if bad == nil {
		return nil
	}
	return fmt.Errorf("pcrun bug: the ledger does not balance: %s", strings.Join(bad, "; "))
}

// WriteSummary prints the end-of-run summary: the ledger line, a line per
// stage and a line per queue.
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
	fmt.Fprintf(w, "pcrun: %s %s in %s: %s\n", r.Pipeline, how, r.Elapsed.Round(time.Millisecond), r.Total)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  stage\tkind\tworkers\ttaken\tproduced\tdone\tfiltered\tfailed\tskipped\tdead-lettered\tabandoned\t")
	for _, s := range r.Stages {
		origin := s.Produced > 0 || s.Kind != "consumer"
		l := s.Ledger
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, s.Kind, s.Workers,
			dash(s.Taken, s.Kind == "consumer"), dash(l.Produced, origin), dash(l.Done, origin),
			dash(l.Filtered, origin), dash(l.Failed, origin), dash(l.Skipped, origin),
			dash(l.DeadLettered, origin), dash(l.Abandoned, origin))
	}
	tw.Flush()
	fmt.Fprintln(tw, "  queue\tcapacity\tput\ttaken\tmax depth\tdone\tfiltered\tfailed\tabandoned\t")
	for _, q := range r.Queues {
		c := "unbounded"
		if q.Capacity > 0 {
			c = fmt.Sprint(q.Capacity)
		}
		l := q.Ledger
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", q.Name, c, q.Put, q.Taken, q.MaxDepth,
			l.Done, l.Filtered, l.Failed, l.Abandoned)
	}
	tw.Flush()
	for _, q := range r.Queues {
		if q.Redelivered > 0 { // NATS: delivery is at least once
			fmt.Fprintf(w, "  queue %s: %d delivery(ies) of items delivered before (a reader died or timed out)\n", q.Name, q.Redelivered)
		}
	}
}

func dash(n int64, show bool) string {
	if !show {
		return "-"
	}
	return fmt.Sprint(n)
}
