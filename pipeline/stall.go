package pipeline

import (
	"fmt"
	"strings"

	"github.com/pcrun/pcrun/queue"
)

// DeadlockError is returned by Run when the pipeline can make no more
// progress and the strategy gives it no way to end.
type DeadlockError struct {
	Stall    queue.Stall
	Strategy string
}

func (e *DeadlockError) Error() string {
	var b strings.Builder
	b.WriteString("deadlock: no live stage can make progress\n")
	type group struct {
		op, queue string
		depth     int
		capacity  int
		workers   []string
	}
	var groups []*group
	for _, w := range e.Stall.Waits {
		if n := len(groups); n > 0 && groups[n-1].op == w.Op && groups[n-1].queue == w.Queue {
			groups[n-1].workers = append(groups[n-1].workers, w.Worker)
			continue
		}
		groups = append(groups, &group{op: w.Op, queue: w.Queue, depth: w.Depth, capacity: w.Capacity, workers: []string{w.Worker}})
	}
	for _, g := range groups {
		state := "empty"
		switch {
		case g.op == "put into":
			state = fmt.Sprintf("full, %d/%d", g.depth, g.capacity)
		case g.op == "join":
			state = "items unfinished"
		case g.depth > 0:
			state = fmt.Sprintf("%d items", g.depth)
		}
		fmt.Fprintf(&b, "  %s wait to %s queue %q (%s)", strings.Join(g.workers, ", "), g.op, g.queue, state)
		if g.op == "take from" {
			b.WriteString(", and no live stage can write to it")
		}
		b.WriteByte('\n')
	}
	b.WriteString("hint: ")
	switch e.Strategy {
	case "none":
		b.WriteString("with `strategy: none` consumers are never told to stop; set `shutdown: {strategy: close}` " +
			"(readers exit when the queue is closed and drained), `sentinel` (one end marker per reader) or `join`")
	default:
		b.WriteString("a queue whose readers also write to it (directly or through other queues) never closes, " +
			"and a full queue in a cycle blocks its own readers; break the cycle, raise the capacity, or set a deadline")
	}
	return b.String()
}
