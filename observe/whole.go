package observe

import (
	"fmt"
	"strings"
)

// A run whose stages run in several processes over shared queues has a
// ledger in each: the items each process produced, and what it did with
// the items it took from the shared queues. Part is one process's; Whole
// sums the parts that the processes recorded where the others can read
// them (the NATS backend keeps them in the run's key-value bucket).

// Part is one process's share of a run spread over several processes.
type Part struct {
	Ledger      Ledger   `json:"ledger"`   // the items this process produced
	Received    Received `json:"received"` // the items it took from shared queues
	Redelivered int64    `json:"redelivered"`
	// Positions: for each producer stage and replica here, the index of
	// the next item it would make (where a resumed run starts it).
	Positions map[string]map[int]int64 `json:"positions,omitempty"`
	// Made counts the items each producer stage here has made (its
	// ledger's produced).
	Made map[string]int64 `json:"made,omitempty"`
	// Resumed: items this process makes again that the process whose
	// run it resumed (after that one died) had counted already.
	Resumed int64 `json:"resumed,omitempty"`
}

// Whole is the ledger of a run spread over processes, summed from what
// each process recorded (as far as known: a process that died recorded
// only what it had done up to its last heartbeat).
type Whole struct {
	Processes int `json:"processes"`
	Running   int `json:"running"`
	Gone      int `json:"gone"` // stopped recording without ending: killed, or its host lost
	// Produced counts every item made, in any process; each ended one way
	// in some process: Done, Filtered, Failed (of which Skipped and
	// DeadLettered), Abandoned, or is still InFlight (handed off to a
	// shared queue and not finished yet, or lost with a gone process).
	Produced     int64 `json:"produced"`
	Done         int64 `json:"done"`
	Filtered     int64 `json:"filtered"`
	Failed       int64 `json:"failed"`
	Skipped      int64 `json:"skipped"`
	DeadLettered int64 `json:"dead_lettered"`
	Abandoned    int64 `json:"abandoned"`
	InFlight     int64 `json:"in_flight"`
	// Redelivered counts the extra deliveries of items (at least once):
	// never in the ledger.
	Redelivered int64 `json:"redelivered"`
}

// Add adds one process's part.
func (w *Whole) Add(p Part) {
	w.Produced += p.Ledger.Produced - p.Resumed
	w.Done += p.Ledger.Done + p.Received.Done
	w.Filtered += p.Ledger.Filtered + p.Received.Filtered
	w.Failed += p.Ledger.Failed + p.Received.Failed
	w.Skipped += p.Ledger.Skipped + p.Received.Skipped
	w.DeadLettered += p.Ledger.DeadLettered + p.Received.DeadLettered
	w.Abandoned += p.Ledger.Abandoned
	w.Redelivered += p.Redelivered
	// A gone process's record may lag behind what it handed off before
	// it died: items others finished can outnumber those it recorded.
	w.InFlight = max(0, w.Produced-w.Done-w.Filtered-w.Failed-w.Abandoned)
}

// String is the summary's line: "1500 produced = 1490 done + 0 filtered
// + 0 failed + 0 abandoned + 10 in flight (3 processes, 1 running)".
func (w Whole) String() string {
	failed := fmt.Sprintf("%d failed", w.Failed)
	if w.Skipped > 0 || w.DeadLettered > 0 {
		failed += fmt.Sprintf(" (%d skipped, %d dead-lettered)", w.Skipped, w.DeadLettered)
	}
	s := fmt.Sprintf("%d produced = %d done + %d filtered + %s + %d abandoned + %d in flight",
		w.Produced, w.Done, w.Filtered, failed, w.Abandoned, w.InFlight)
	var procs []string
	procs = append(procs, plural(w.Processes, "process", "processes"))
	if w.Running > 0 {
		procs = append(procs, fmt.Sprintf("%d running", w.Running))
	}
	if w.Gone > 0 {
		procs = append(procs, fmt.Sprintf("%d gone", w.Gone))
	}
	if w.Gone > 0 {
		procs = append(procs, "counted as far as recorded")
	}
	s += " (" + strings.Join(procs, ", ")
	if w.Redelivered > 0 {
		s += fmt.Sprintf("; %d redelivered", w.Redelivered)
	}
	return s + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Count counts one process: running, gone (taken for dead), or ended.
func (w *Whole) Count(running, gone bool) {
	w.Processes++
	if running {
		w.Running++
	}
	if gone {
		w.Gone++
	}
}
