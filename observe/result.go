package observe

import (
	"fmt"
	"strings"
	"time"
)

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

func (r *Received) Add(o Received) {
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

func (l *Ledger) Add(o Ledger) {
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
func (l Ledger) String() string { return l.Format(l.HandedOff != 0) }

// Format is the ledger line, with the handed-off term when handedOff is
// set (always in a shared run).
func (l Ledger) Format(handedOff bool) string {
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
	Received *Received `json:"received,omitempty"`
	// Run is the whole run's ledger as far as its processes recorded it,
	// when the queues keep such a record (a shared run on NATS).
	Run    *Whole        `json:"run,omitempty"`
	Stages []StageStats  `json:"stages"`
	Queues []QueueLedger `json:"queues"`
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
		l.Add(s.Ledger)
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
