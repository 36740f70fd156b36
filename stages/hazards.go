package stages

import (
	"fmt"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
)

// hazards reports what a careful reviewer would flag in a valid graph:
// consumers no item can reach, producers the deadline cuts short, and
// producers that make nothing. Cycles and queue wiring are checked in
// checkQueues and checkCycles.
func (c *compiler) hazards(g *Graph, pl *config.Pipeline) {
	c.checkReach(g, pl)
	for i, p := range g.Producers {
		spec := pl.Producers[i]
		if c.badCount[p.Name] {
			continue
		}
		if p.Count == 0 && spec.CountSet {
			c.diags.Warnf(spec.CountPos, config.CodeNoItems, "give it a count of 1 or more, or remove the producer",
				"producer `%s` makes no items (count: 0)", p.Name)
			continue
		}
		c.checkDeadline(g, pl, p, spec)
	}
}

// checkReach warns about consumers whose input queue has writers, but
// only writers that no producer's items ever reach (for example a cycle
// with no way in), following emits and dead letters. Queues with no writer
// at all are queue-unwritten.
func (c *compiler) checkReach(g *Graph, pl *config.Pipeline) {
	reached := map[string]bool{}
	var queue []string
	for _, p := range g.Producers {
		if !reached[p.To] {
			reached[p.To] = true
			queue = append(queue, p.To)
		}
	}
	next := hops(g)
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		for _, h := range next[q] {
			if !reached[h.to] {
				reached[h.to] = true
				queue = append(queue, h.to)
			}
		}
	}
	for i, cs := range g.Consumers {
		q := g.Queue(cs.From)
		if q == nil || reached[cs.From] || len(q.Writers) == 0 {
			continue
		}
		c.diags.Warnf(pl.Consumers[i].Pos, config.CodeUnreachable,
			"feed one of those stages from a producer, or remove the stages that can never run",
			"consumer `%s` can never get an item: queue `%s` is written only by %s, which no producer's items reach",
			cs.Name, cs.From, config.Quoted(q.Writers))
	}
}

// checkDeadline warns when a producer's constant delays need longer than
// the deadline allows, so it stops before its last item.
func (c *compiler) checkDeadline(g *Graph, pl *config.Pipeline, p *Producer, spec config.Producer) {
	delay, ok := p.delay.Const()
	if g.Deadline <= 0 || !ok || delay <= 0 {
		return
	}
	need := time.Duration(p.Count) * delay
	if need < g.Deadline {
		return
	}
	pos := pl.Shutdown.DeadlinePos.Or(spec.Pos)
	made := int(g.Deadline / delay)
	if g.Deadline%delay == 0 {
		made-- // the item due at the deadline itself is not made
	}
	var what string
	if made <= 0 {
		what = "it makes no item at all"
	} else {
		what = fmt.Sprintf("it makes about %d of its %d items", made, p.Count)
	}
	c.diags.Warnf(pos, config.CodeDeadlineShort,
		fmt.Sprintf("raise the deadline above %s, or lower producer `%s`'s count or delay", need, p.Name),
		"deadline %s stops producer `%s` early: %d item(s) %s apart need %s; %s",
		g.Deadline, p.Name, p.Count, delay, need, what)
}

// cycleCapacity explains whether a cycle through the given queues can
// block itself on capacity: only when every queue in it is bounded.
func cycleCapacity(g *Graph, queues []string) string {
	var caps []string
	for _, name := range queues {
		q := g.Queue(name)
		if q == nil || q.Unbounded {
			return ""
		}
		caps = append(caps, fmt.Sprintf("%s=%d", name, q.Capacity))
	}
	return fmt.Sprintf("; every queue in it is bounded (%s), so once they fill, each stage waits to put into the next and the cycle deadlocks: make one of them `unbounded`",
		strings.Join(caps, ", "))
}
