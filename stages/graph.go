package stages

import (
	"slices"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
)

// Graph is a compiled pipeline: its queues and stages, ready to run.
// It is immutable; the pipeline package builds workers from it.
type Graph struct {
	Name     string
	File     string
	Strategy config.Strategy
	Deadline time.Duration // 0: none
	Grace    time.Duration
	// Spill is the spill file of `shutdown.spill`, relative to the
	// working directory ("" : none).
	Spill string
	// Seed is the seed of the run's random functions: Options.Seed, or
	// the one Compile picked. Printing it lets a run be repeated.
	Seed      uint64
	Queues    []*Queue
	Producers []*Producer
	Consumers []*Consumer
}

// Queue is a queue of the graph with the stages around it.
type Queue struct {
	Name      string
	Capacity  int // ignored when Unbounded
	Unbounded bool
	Writers   []string // stages that put into it
	Readers   []string // stages that take from it
	// DeadLetterWriters are the Writers that put failed items into it, as
	// their on_error.dead_letter says (some may also emit into it).
	DeadLetterWriters []string
	// WriterReplicas and ReaderReplicas count workers, not stages.
	WriterReplicas int
	ReaderReplicas int
	// Backend is config.NATS for a NATS queue, else "" (memory); the rest
	// is for NATS queues only (see queue.go).
	Backend    config.Backend
	URL        string // evaluated once by Compile; may hold credentials: print Redacted()
	Stream     string
	Subject    string
	MaxDeliver int
	AckWait    time.Duration
	// Replicas and Storage are what the file declares for the stream
	// (0 and "": whatever an existing stream has, else 1 and file).
	Replicas int
	Storage  string
	// Auth is how the connection to the broker authenticates and checks
	// the broker (queue_auth.go); the same for every queue of one URL.
	Auth NATSAuth
}

// Queue returns the queue named name, or nil.
func (g *Graph) Queue(name string) *Queue {
	for _, q := range g.Queues {
		if q.Name == name {
			return q
		}
	}
	return nil
}

// Stages returns the names of all stages, producers first, in file order.
func (g *Graph) Stages() []string {
	var out []string
	for _, p := range g.Producers {
		out = append(out, p.Name)
	}
	for _, c := range g.Consumers {
		out = append(out, c.Name)
	}
	return out
}

// link fills in every queue's writers and readers and reports hazards in
// the shape of the graph.
func (c *compiler) link(g *Graph, pl *config.Pipeline) {
	for i := range pl.Queues {
		g.Queues = append(g.Queues, c.queue(pl, &pl.Queues[i]))
	}
	c.checkStreams(g, pl)
	c.checkAuth(g, pl)
	for _, p := range g.Producers {
		if q := g.Queue(p.To); q != nil {
			q.Writers = append(q.Writers, p.Name)
			q.WriterReplicas += p.Replicas
		}
	}
	for _, cs := range g.Consumers {
		if q := g.Queue(cs.From); q != nil {
			q.Readers = append(q.Readers, cs.Name)
			q.ReaderReplicas += cs.Replicas
		}
		for _, out := range cs.Outputs() {
			if q := g.Queue(out); q != nil {
				q.Writers = append(q.Writers, cs.Name)
				q.WriterReplicas += cs.Replicas
			}
		}
		if q := g.Queue(cs.OnError.DeadLetter); q != nil {
			q.DeadLetterWriters = append(q.DeadLetterWriters, cs.Name)
		}
	}
	c.checkQueues(g, pl)
	c.checkCycles(g, pl)
	c.hazards(g, pl)
	if g.Strategy == config.None && len(g.Consumers) > 0 {
		what := "the run will deadlock (pcrun detects it and exits 3)"
		for _, cs := range g.Consumers {
			if q := g.Queue(cs.From); q != nil && q.Backend == config.NATS {
				// A reader of a NATS queue may be fed by another process:
				// no stall is ever certain, so none is reported.
				what = "the run will wait forever for items on its NATS queues, until a signal"
				break
			}
		}
		c.diags.Warnf(pl.Shutdown.StrategyPos, config.CodeWillDeadlock,
			"use `strategy: close` (readers stop when the queue is closed and empty), `sentinel` or `join`",
			"strategy `none` never tells consumers to stop: once the producers finish, %s", what)
	}
}

func (c *compiler) checkQueues(g *Graph, pl *config.Pipeline) {
	for i, q := range g.Queues {
		spec := pl.Queues[i]
		pos := spec.Pos
		switch {
		case len(q.Writers) > 0 && len(q.Readers) == 0:
			if spec.Implicit {
				pos = c.writerPos(pl, q.Name)
			}
			hint := "add a consumer with `from: " + q.Name + "`; items put there would never be taken"
			if len(q.DeadLetterWriters) > 0 {
				hint = "add a consumer with `from: " + q.Name + "`; the failed items put there would be lost"
			}
			c.diags.Errorf(pos, config.CodeQueueUnread, hint,
				"queue `%s` is written by %s but no consumer reads it", q.Name, q.writers())
		case len(q.Writers) == 0 && len(q.Readers) > 0:
			if spec.Implicit {
				pos = c.readerPos(pl, q.Name)
			}
			c.diags.Warnf(pos, config.CodeQueueUnwritten,
				"add a producer with `to: "+q.Name+"`, or an `emit` step in a consumer with `to: "+q.Name+"`",
				"queue `%s` is read by %s but no stage writes to it", q.Name, config.Quoted(q.Readers))
		case len(q.Writers) == 0 && len(q.Readers) == 0 && !spec.Implicit:
			c.diags.Warnf(pos, config.CodeQueueUnused, "remove it, or connect a stage to it with `to:` or `from:`",
				"queue `%s` is not used by any stage", q.Name)
		}
	}
}

// writers lists the queue's writers for messages, marking those that put
// only failed items into it.
func (q *Queue) writers() string {
	out := make([]string, len(q.Writers))
	for i, w := range q.Writers {
		out[i] = "`" + w + "`"
		if slices.Contains(q.DeadLetterWriters, w) {
			out[i] += " (dead letters)"
		}
	}
	return strings.Join(out, ", ")
}

func (c *compiler) writerPos(pl *config.Pipeline, q string) config.Pos {
	for _, p := range pl.Producers {
		if p.To.Name == q {
			return p.Pos
		}
	}
	for _, cs := range pl.Consumers {
		if cs.To.Name == q || cs.OnError.DeadLetter.Name == q {
			return cs.Pos
		}
	}
	return config.Pos{File: pl.File, Line: 1, Col: 1}
}

func (c *compiler) readerPos(pl *config.Pipeline, q string) config.Pos {
	for _, cs := range pl.Consumers {
		if cs.From.Name == q {
			return cs.Pos
		}
	}
	return config.Pos{File: pl.File, Line: 1, Col: 1}
}

// hop is a consumer taking items from its queue and putting items into
// another: the edges that checkCycles and checkReach follow.
type hop struct {
	cs         *Consumer
	to         string
	pos        config.Pos // where the file names `to`
	deadLetter bool       // only failed items take it
}

// hops returns, for each queue, the hops of the consumers that read it:
// into their `to` when they emit, and into their dead-letter queue. A
// consumer dead-lettering into the queue it reads is an error of its own
// (dead-letter-loop), not a hop.
func hops(g *Graph) map[string][]hop {
	next := map[string][]hop{}
	for _, cs := range g.Consumers {
		if cs.Emits && cs.To != "" {
			next[cs.From] = append(next[cs.From], hop{cs: cs, to: cs.To, pos: cs.ToPos})
		}
		if dl := cs.OnError.DeadLetter; cs.WritesDeadLetter() && dl != cs.From {
			next[cs.From] = append(next[cs.From], hop{cs: cs, to: dl, pos: cs.DeadLetterPos, deadLetter: true})
		}
	}
	return next
}

// DownstreamOrder lists the graph's queues so that a queue comes after
// every queue whose readers put into it, by emits or dead letters (file
// order within a cycle).
func (g *Graph) DownstreamOrder() []string {
	next := hops(g)
	in := map[string]int{}
	for _, hs := range next {
		for _, h := range hs {
			in[h.to]++
		}
	}
	var order, ready []string
	for _, q := range g.Queues {
		if in[q.Name] == 0 {
			ready = append(ready, q.Name)
		}
	}
	seen := map[string]bool{}
	for len(ready) > 0 {
		q := ready[0]
		ready = ready[1:]
		seen[q] = true
		order = append(order, q)
		for _, h := range next[q] {
			if in[h.to]--; in[h.to] == 0 {
				ready = append(ready, h.to)
			}
		}
	}
	for _, q := range g.Queues { // in a cycle
		if !seen[q.Name] {
			order = append(order, q.Name)
		}
	}
	return order
}

// checkCycles warns about queues that feed themselves through consumers
// (emits or dead letters): under close and sentinel they never learn that
// their writers finished.
func (c *compiler) checkCycles(g *Graph, pl *config.Pipeline) {
	next := hops(g)
	const (
		unseen = iota
		active
		finished
	)
	state := map[string]int{}
	var path []hop
	var visit func(q string)
	visit = func(q string) {
		state[q] = active
		for _, h := range next[q] {
			path = append(path, h)
			switch state[h.to] {
			case unseen:
				visit(h.to)
			case active:
				var loop, queues []string
				start := 0
				for i, s := range path {
					if s.cs.From == h.to {
						start = i
					}
				}
				for _, s := range path[start:] {
					step := s.cs.From + " → " + s.cs.Name
					if s.deadLetter {
						step += " (dead letter)"
					}
					loop = append(loop, step)
					queues = append(queues, s.cs.From)
				}
				c.diags.Warnf(h.pos, config.CodeCycle,
					"a queue in a cycle is never closed and never joins while items circulate: its readers wait for its own writers; filter with `when` so items leave it, break the cycle, or set a deadline",
					"queues form a cycle: %s → %s%s", joinArrows(loop), h.to, cycleCapacity(g, queues))
			}
			path = path[:len(path)-1]
		}
		state[q] = finished
	}
	for _, q := range g.Queues {
		if state[q.Name] == unseen {
			visit(q.Name)
		}
	}
}

func joinArrows(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " → "
		}
		out += x
	}
	return out
}
