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
	defer r.writerDone(hard, p.To, p.Name)
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

// consumer runs one consumer replica, as run.consumer does, with the
// run's own finish (handle, giveUp) and effects.
func (s *sim) consumer(pr *proc, cs *stages.Consumer, replica, row int) {
	r := s.r
	ctx := s.ctx(r.hard, pr)
	fx := &simEffects{effects{r: r, row: row, me: pr.w}}
	w := cs.Worker(replica, fx)
	defer r.lifetime(pr.w)()
	if cs.Emits {
		fx.out = r.queues[cs.To]
		defer r.writerDone(ctx, cs.To, cs.Name)
	}
	if cs.WritesDeadLetter() {
		defer r.writerDone(ctx, cs.OnError.DeadLetter, cs.Name)
	}
	r.consume(ctx, r.reader(cs, w, pr.w, row))
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
