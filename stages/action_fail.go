package stages

import (
	"context"

	"github.com/pcrun/pcrun/config"
)

func init() {
	register(&action{
		name: "fail",
		doc: "fail: TEMPLATE fails the item when the template gives true or a non-empty string (the error message); " +
			"nil, false or \"\" let it pass, e.g. fail: \"${item % 7 == 0 ? 'unlucky' : ''}\". On the item's failure, see on_error.",
		compile: func(c *compiler, st config.Step) Step {
			if st.Arg.Kind != config.ScalarValue {
				c.diags.Errorf(st.Arg.Pos, config.CodeType, "quote it, e.g. fail: \"${item > 9 ? 'too big' : ''}\"",
					"`fail` takes a template giving a message or a boolean, not a mapping or list")
				return nil
			}
			t := c.compileTemplate(st.Arg, c.consumerEnv())
			if t == nil {
				return nil
			}
			return &failStep{t: t, pos: st.Arg.Pos}
		},
	})
}

// failMessage is the error of a `fail` step whose template gives true.
const failMessage = "failed by the `fail` step"

type failStep struct {
	t   *Template
	pos config.Pos // the step's template: the error points at it
}

// Run fails the item, with a *RuntimeError at the step, when the template
// gives true, a non-empty string (the message) or any other value but nil
// and false (the message is the value, formatted).
func (s *failStep) Run(_ context.Context, w *ConsumerWorker) error {
	v, err := s.t.Eval(&w.m, &w.env)
	if err != nil {
		return err
	}
	var msg string
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		if !x {
			return nil
		}
		msg = failMessage
	case string:
		if x == "" {
			return nil
		}
		msg = x
	default:
		msg = Format(v)
	}
	return &RuntimeError{Pos: s.pos, Msg: msg}
}
