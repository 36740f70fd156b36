package stages

import (
	"context"

	"github.com/pcrun/pcrun/config"
)

func init() {
	register(&action{
		name: "print",
		doc:  "print: TEMPLATE writes the rendered line to stdout, whole.",
		compile: func(c *compiler, st config.Step) Step {
			if st.Arg.Kind != config.ScalarValue {
				c.diags.Errorf(st.Arg.Pos, config.CodeType, "quote the line, e.g. print: \"${worker} got ${item}\"", "`print` takes a line template, not a mapping or list")
				return nil
			}
			t := c.compileString(st.Arg.Text, c.consumerEnv())
			if t == nil {
				return nil
			}
			return &printStep{t: t}
		},
	})
}

type printStep struct{ t *Template }

func (s *printStep) Run(_ context.Context, w *ConsumerWorker) error {
	line, err := s.t.Append(w.m.buf[:0], &w.m, &w.env)
	w.m.keep(line)
	if err != nil {
		return err
	}
	return w.fx.Print(line)
}
