package stages

import (
	"context"

	"github.com/pcrun/pcrun/config"
)

func init() {
	register(&action{
		name:  "emit",
		doc:   "emit: TEMPLATE puts a new item into the consumer's `to` queue (a value, map or list template).",
		emits: true,
		compile: func(c *compiler, st config.Step) Step {
			t := c.compileTemplate(st.Arg, c.consumerEnv())
			if t == nil {
				return nil
			}
			return &emitStep{t: t}
		},
	})
}

type emitStep struct{ t *Template }

func (s *emitStep) Run(ctx context.Context, w *ConsumerWorker) error {
	v, err := s.t.Eval(&w.m, &w.env)
	if err != nil {
		return err
	}
	if err := w.fx.Emit(ctx, v); err != nil && ctx.Err() == nil {
		return &RuntimeError{Pos: s.t.Pos(), Msg: "emit: " + err.Error(), Err: err}
	} else if err != nil {
		return err
	}
	return nil
}
