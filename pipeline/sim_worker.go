package pipeline

import (
	"context"
	"errors"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// The simulated workers: producer and consumer run the run's own steps and
// accounting (worker.go), on the simulator's clock and queues.

// producer runs one producer replica, as run.producer does, with the
// run's own step (produceOne); a simulation puts one item at a time.
func (s *sim) producer(pr *proc, p *stages.Producer, replica, row int) {
	r := s.r
	w := p.Worker(replica)
	ctx := s.ctx(r.soft, pr)
	hard := s.ctx(r.hard, pr)
	q := r.queues[p.To]
	defer r.lifetime(pr.w)()
	defer func() { s.producersLeft-- }()
	defer s.writerDone(hard, p.To)
	for i := 0; i < p.Count; {
		made, goOn := r.produceOne(ctx, w, pr.w, p, q, row, i, "item")
		if made {
			i++
		}
		if !goOn {
			return
		}
	}
	if r.g.Strategy == config.Join {
		_ = q.Join(ctx)
	}
}

// writerDone is called as each writer replica of a queue exits; the last
// ends the queue as the strategy says.
func (s *sim) writerDone(ctx context.Context, queue string) {
	if s.writersLeft[queue]--; s.writersLeft[queue] == 0 {
		s.endOfWriters(ctx, queue, s.r.g.Queue(queue).ReaderReplicas)
	}
}

func (s *sim) endOfWriters(ctx context.Context, queue string, markers int) {
	q := s.byName[queue]
	switch s.r.g.Strategy {
	case config.Close:
		q.Close()
	case config.Sentinel:
		for range markers {
			if q.Put(ctx, Item{marker: true}) != nil {
				return
			}
		}
	}
}

// consumer runs one consumer replica, as run.consumer does, with the
// run's own handle, giveUp and effects.
func (s *sim) consumer(pr *proc, cs *stages.Consumer, replica, row int) {
	r := s.r
	ctx := s.ctx(r.hard, pr)
	fx := &simEffects{effects{r: r, row: row, me: pr.w}}
	w := cs.Worker(replica, fx)
	defer r.lifetime(pr.w)()
	if cs.Emits {
		fx.out = r.queues[cs.To]
		defer s.writerDone(ctx, cs.To)
	}
	if cs.WritesDeadLetter() {
		defer s.writerDone(ctx, cs.OnError.DeadLetter)
	}
	in := s.byName[cs.From]
	qc := r.qstats[cs.From]
	c := r.stats[row]
	for {
		it, err := in.Get(ctx)
		if err != nil || it.marker {
			return
		}
		c.taken.Add(1)
		origin := r.stats[it.Origin]
		switch outcome, attempts, err := r.handle(ctx, cs, w, it.Value); {
		case err == nil && outcome == stages.Filtered:
			origin.filtered.Add(1)
			qc.filtered.Add(1)
			r.itemEvent(pr.w, EventFiltered, cs.From, it.ID, nil)
		case err == nil:
			origin.done.Add(1)
			qc.done.Add(1)
			r.itemEvent(pr.w, EventDone, cs.From, it.ID, nil)
		case ctx.Err() != nil:
			origin.abandoned.Add(1)
			qc.abandoned.Add(1)
			r.abandonedEvent(pr.w, cs.From, it.ID)
		default:
			origin.failed.Add(1)
			qc.failed.Add(1)
			r.itemEvent(pr.w, EventFailed, cs.From, it.ID, cause(err))
			r.giveUp(ctx, cs, pr.w.name, row, origin, it, attempts, err)
		}
		in.Ack(it)
	}
}

// simEffects carries out a consumer's steps in a simulation: the run's
// effects (print, emit, sleep on the run's hooks), but never a command
// or a file: Simulate refuses a graph with such steps.
type simEffects struct{ effects }

var errSimulated = errors.New("pcrun bug: a step that does real work reached a simulation")

func (fx *simEffects) Exec(context.Context, *stages.Cmd) (stages.ExecResult, error) {
	return stages.ExecResult{}, errSimulated
}

func (fx *simEffects) Write(string, []byte) error { return errSimulated }
