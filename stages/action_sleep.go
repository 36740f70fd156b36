package stages

import (
	"context"

	"github.com/pcrun/pcrun/config"
)

func init() {
	register(&action{
		name: "sleep",
		doc:  "sleep: DURATION waits (simulated work); a duration or a template giving one.",
		compile: func(c *compiler, st config.Step) Step {
			d := c.duration(st.Arg, c.consumerEnv(), "sleep")
			if d == nil {
				return nil
			}
			return &sleepStep{d: d}
		},
	})
}

type sleepStep struct{ d *Duration }

func (s *sleepStep) Run(ctx context.Context, w *ConsumerWorker) error {
	d, err := s.d.Eval(&w.m, &w.env)
	if err != nil {
		return err
	}
	return w.fx.Sleep(ctx, d)
}
