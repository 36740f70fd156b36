package pipeline

import (
	"fmt"
	"slices"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// A run may start only some of a graph's stages (Options.Only, `pcrun run
// --only`): the others run in other pcrun processes, on this host or
// another. Only a NATS queue can connect stages in different processes,
// so every memory queue must have all of its writers and readers inside
// the selection, or none of them. A run builds only the queues its
// selected stages use, and its result holds only those stages and queues:
// each process prints its own part of the ledger.
//
// Writers: under close and sentinel a queue ends once its last writer
// replica finished. A run counts only its own writers: for a memory queue
// they are all of them (localWriters, the run's writersLeft); for a NATS
// queue each process registers its writers and readers in the queue's
// roster on the broker, and the process whose writer finishes last, in
// every process, ends the queue (queue/nats/roster.go), so a run with no
// writer of a NATS queue never ends it itself.

// CheckOnly checks a selection of stages (Options.Only) against g and
// returns every problem, in the order of the names and of g's queues; nil
// when the selection can run (a nil or empty selection is every stage).
// Each problem is an error with code config.CodeSelection and no
// position (it is one of the command line, not of the file): a name that
// is not a stage, or a memory queue the selection would cut.
func CheckOnly(g *stages.Graph, only []string) config.Diagnostics {
	if len(only) == 0 {
		return nil
	}
	var errs config.Diagnostics
	all := g.Stages()
	for _, name := range only {
		if !slices.Contains(all, name) {
			errs.Errorf(config.Pos{}, config.CodeSelection, config.DidYouMean(name, all),
				"--only: pipeline %s has no stage %q", g.Name, name)
		}
	}
	for _, q := range g.Queues {
		if q.Backend == config.NATS {
			continue
		}
		in, out := "", ""
		for _, s := range slices.Concat(q.Writers, q.Readers) {
			switch {
			case slices.Contains(only, s) && in == "":
				in = s
			case !slices.Contains(only, s) && out == "":
				out = s
			}
		}
		if in != "" && out != "" {
			errs.Errorf(config.Pos{}, config.CodeSelection,
				fmt.Sprintf("add %s to --only, or give queue %s `backend: nats` (and run `pcrun broker`)", out, q.Name),
				"--only: queue %s connects selected stage %s to unselected stage %s; only a queue with `backend: nats` can cross processes",
				q.Name, in, out)
		}
	}
	return errs
}

// selected reports whether the run starts the stage's workers.
func (r *run) selected(stage string) bool {
	return len(r.opts.Only) == 0 || slices.Contains(r.opts.Only, stage)
}

// uses reports whether a selected stage writes to or reads from q: the
// run builds, ends and reports only those queues.
func (r *run) uses(q *stages.Queue) bool {
	return slices.ContainsFunc(q.Writers, r.selected) || slices.ContainsFunc(q.Readers, r.selected)
}

// localWriters counts the writer replicas of q that this run starts: for
// a memory queue, the number of writerDone calls after which the run ends
// q. It is q.WriterReplicas when every stage is selected, and always for a
// memory queue of a selection CheckOnly accepts.
func (r *run) localWriters(q *stages.Queue) int {
	n := 0
	for _, p := range r.g.Producers {
		if slices.Contains(q.Writers, p.Name) && r.selected(p.Name) {
			n += p.Replicas
		}
	}
	for _, c := range r.g.Consumers {
		if slices.Contains(q.Writers, c.Name) && r.selected(c.Name) {
			n += c.Replicas // one writer however it puts into q, as stages counts it
		}
	}
	return n
}
