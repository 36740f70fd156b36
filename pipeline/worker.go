package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// producer runs one producer replica: wait the delay, make the item, put
// it, print. It stops when the soft context ends (deadline, signal,
// failure); an item made but not put is abandoned, never dropped.
func (r *run) producer(p *stages.Producer, replica, row int) {
	w := p.Worker(replica)
	ctx := withWorker(r.soft, &worker{name: w.Name()})
	hard := withWorker(r.hard, &worker{name: w.Name()})
	c := r.stats[row]
	q := r.queues[p.To]
	defer r.world.leave()
	defer r.producersLeft.Add(-1)
	defer r.writerDone(hard, p.To)
	for i := 0; i < p.Count; i++ {
		d, err := w.Delay(i)
		if err != nil {
			c.produced.Add(1)
			c.failed.Add(1)
			r.fail(fmt.Sprintf("producer %s: item %d: delay: %v", w.Name(), i, err))
			return
		}
		if sleep(ctx, d) != nil {
			return
		}
		v, err := w.Item(i)
		if err != nil {
			c.produced.Add(1)
			c.failed.Add(1)
			r.fail(fmt.Sprintf("producer %s: item %d: %v", w.Name(), i, err))
			return
		}
		c.produced.Add(1)
		if err := q.Put(ctx, Item{ID: r.ids.Add(1), Origin: row, Value: v}); err != nil {
			c.abandoned.Add(1)
			return
		}
		if r.opts.OnPut != nil {
			r.opts.OnPut(p.To, v)
		}
		line, ok, err := w.Line(i, v)
		if err != nil {
			r.fail(fmt.Sprintf("producer %s: item %d: print: %v", w.Name(), i, err))
			return
		}
		if ok {
			r.out.Print(line)
		}
	}
	if r.g.Strategy == config.Join {
		_ = q.Join(ctx) // JoinableQueue.join(); a stop ends the wait
	}
}

// consumer runs one consumer replica until its queue is closed and empty,
// it takes its end marker, or the hard context ends.
func (r *run) consumer(cs *stages.Consumer, replica, row int) {
	ctx := withWorker(r.hard, &worker{})
	fx := &effects{r: r, row: row}
	w := cs.Worker(replica, fx)
	workerFrom(ctx).name = w.Name()
	defer r.world.leave() // runs last: after the end of our output queue
	if cs.Emits {
		fx.out = r.queues[cs.To]
		defer r.writerDone(ctx, cs.To)
	}
	in := r.queues[cs.From]
	c := r.stats[row]
	for {
		it, err := in.Get(ctx)
		if err != nil || it.marker {
			return // closed and drained, cancelled, or our end marker
		}
		c.taken.Add(1)
		origin := r.stats[it.Origin]
		outcome, err := w.Handle(ctx, it.Value)
		var se *stages.StepError
		switch {
		case err == nil:
			origin.done.Add(1)
			if outcome == stages.Filtered {
				origin.filtered.Add(1)
			}
		case errors.As(err, &se):
			origin.failed.Add(1)
			r.fail(fmt.Sprintf("consumer %s: item %s: %v", se.Worker, stages.Quote(se.Item), se.Err))
		default:
			origin.abandoned.Add(1) // interrupted mid-steps
		}
		in.Ack(it)
	}
}

// effects carries out a consumer's steps for one worker.
type effects struct {
	r   *run
	row int
	out Queue
}

func (fx *effects) Print(line string) error { return fx.r.out.Print(line) }

func (fx *effects) Emit(ctx context.Context, v any) error {
	c := fx.r.stats[fx.row]
	c.produced.Add(1)
	if err := fx.out.Put(ctx, Item{ID: fx.r.ids.Add(1), Origin: fx.row, Value: v}); err != nil {
		c.abandoned.Add(1)
		return err
	}
	if fx.r.opts.OnPut != nil {
		fx.r.opts.OnPut(fx.out.Name(), v)
	}
	return nil
}

func (fx *effects) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
