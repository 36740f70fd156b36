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
// consumer that emits) it owns the ledger row: every item it produced ends
// done, failed or abandoned. As a consumer it counts what it took.
type counters struct {
	produced, done, filtered, failed, abandoned atomic.Int64
	taken                                       atomic.Int64
}

// StageStats is one stage's line in the summary.
type StageStats struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // producer or consumer
	Workers int    `json:"workers"`
	Taken   int64  `json:"taken"` // items taken from its queue (consumers)
	// The ledger of the items this stage produced (put into a queue):
	// Produced = Done + Failed + Abandoned. Filtered items are done.
	Produced  int64 `json:"produced"`
	Done      int64 `json:"done"`
	Filtered  int64 `json:"filtered"`
	Failed    int64 `json:"failed"`
	Abandoned int64 `json:"abandoned"`
}

// Result is what a run did, whatever way it ended.
type Result struct {
	Pipeline string        `json:"pipeline"`
	Strategy string        `json:"strategy"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Stages   []StageStats  `json:"stages"`
	Queues   []QueueStats  `json:"queues"`
	// Stop says why producers stopped early: "", "deadline", "interrupt",
	// "failure" or "deadlock".
	Stop     string   `json:"stop,omitempty"`
	Failures []string `json:"failures,omitempty"`
}

// Totals sums the ledger over every origin stage.
func (r *Result) Totals() (produced, done, failed, abandoned int64) {
	for _, s := range r.Stages {
		produced += s.Produced
		done += s.Done
		failed += s.Failed
		abandoned += s.Abandoned
	}
	return
}

// Balanced returns an error naming every stage whose ledger does not hold
// (produced = done + failed + abandoned). It is nil on every correct run.
func (r *Result) Balanced() error {
	var bad []string
	for _, s := range r.Stages {
		if s.Produced != s.Done+s.Failed+s.Abandoned {
			bad = append(bad, fmt.Sprintf("%s: produced %d != done %d + failed %d + abandoned %d",
				s.Name, s.Produced, s.Done, s.Failed, s.Abandoned))
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
	p, d, f, a := r.Totals()
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
	fmt.Fprintf(w, "pcrun: %s %s in %s: %d produced = %d done + %d failed + %d abandoned\n",
		r.Pipeline, how, r.Elapsed.Round(time.Millisecond), p, d, f, a)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  stage\tkind\tworkers\ttaken\tproduced\tdone\tfiltered\tfailed\tabandoned")
	for _, s := range r.Stages {
		origin := s.Produced > 0 || s.Kind == "producer"
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, s.Workers,
			dash(s.Taken, s.Kind == "consumer"), dash(s.Produced, origin), dash(s.Done, origin),
			dash(s.Filtered, origin), dash(s.Failed, origin), dash(s.Abandoned, origin))
	}
	tw.Flush()
	fmt.Fprintln(tw, "  queue\tcapacity\tput\ttaken\tmax depth\tleft")
	for _, q := range r.Queues {
		c := "unbounded"
		if q.Capacity > 0 {
			c = fmt.Sprint(q.Capacity)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\n", q.Name, c, q.Put, q.Taken, q.MaxDepth, q.Abandoned)
	}
	tw.Flush()
}

func dash(n int64, show bool) string {
	if !show {
		return "-"
	}
	return fmt.Sprint(n)
}
