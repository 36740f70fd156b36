package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// The simulated workers: producer, consumer and their accounting, as
// worker.go does them, on the simulator's clock and queues.

// lifetime reports a worker's start and returns the function that
// reports its end and adds its virtual life to its stage's.
func (s *sim) lifetime(w *worker) func() {
	start := s.now
	s.event(Event{Kind: EventStarted, Stage: w.stage, Worker: w.name, Depth: -1})
	return func() {
		if w.c != nil {
			w.c.alive.Add(int64(s.now - start))
		}
		s.event(Event{Kind: EventStopped, Stage: w.stage, Worker: w.name, Depth: -1})
	}
}

func (s *sim) abandonedEvent(w *worker, queue string, id uint64) {
	s.event(Event{Kind: EventAbandoned, Stage: w.stage, Worker: w.name, Queue: queue, Item: id, Depth: -1})
}

func (s *sim) itemEvent(w *worker, kind EventKind, queue string, id uint64, err error) {
	if s.r.opts.Observer == nil {
		return
	}
	e := Event{Kind: kind, Stage: w.stage, Worker: w.name, Queue: queue, Item: id, Depth: -1}
	if err != nil {
		e.Msg = err.Error()
	}
	s.event(e)
}

// producer runs one producer replica, as run.producer does (no batching:
// a simulation puts one item at a time).
func (s *sim) producer(pr *proc, p *stages.Producer, replica, row int) {
	r := s.r
	w := p.Worker(replica)
	c := r.stats[row]
	ctx := s.ctx(r.soft, pr)
	hard := s.ctx(r.hard, pr)
	q := s.byName[p.To]
	defer s.lifetime(pr.w)()
	defer func() { s.producersLeft-- }()
	defer s.writerDone(hard, p.To)
	for i := 0; i < p.Count; i++ {
		d, err := w.Delay(i)
		if err != nil {
			c.produced.Add(1)
			c.failed.Add(1)
			s.fail(fmt.Sprintf("producer %s: item %d: delay: %v", w.Name(), i, err))
			return
		}
		if s.sleep(ctx, d) != nil || ctx.Err() != nil {
			return
		}
		v, err := w.Item(i)
		if err != nil {
			c.produced.Add(1)
			c.failed.Add(1)
			s.fail(fmt.Sprintf("producer %s: item %d: %v", w.Name(), i, err))
			return
		}
		c.produced.Add(1)
		s.ids++
		id := s.ids
		if err := q.Put(ctx, Item{ID: id, Origin: int32(row), Value: v}); err != nil {
			c.abandoned.Add(1)
			s.abandonedEvent(pr.w, p.To, id)
			return
		}
		if r.opts.OnPut != nil {
			r.opts.OnPut(p.To, v)
		}
		line, ok, err := w.Line(i, v)
		if err != nil {
			s.fail(fmt.Sprintf("producer %s: item %d: print: %v", w.Name(), i, err))
			return
		}
		if ok {
			_ = s.print([]byte(line))
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

// consumer runs one consumer replica, as run.consumer does.
func (s *sim) consumer(pr *proc, cs *stages.Consumer, replica, row int) {
	r := s.r
	ctx := s.ctx(r.hard, pr)
	fx := &simEffects{s: s, row: row, me: pr.w}
	w := cs.Worker(replica, fx)
	defer s.lifetime(pr.w)()
	if cs.Emits {
		fx.out = s.byName[cs.To]
		defer s.writerDone(ctx, cs.To)
	}
	if dl := cs.OnError.DeadLetter; dl != "" && (dl != cs.To || !cs.Emits) {
		defer s.writerDone(ctx, dl)
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
		switch outcome, attempts, err := s.r.handle(ctx, cs, w, it.Value); {
		case err == nil && outcome == stages.Filtered:
			origin.filtered.Add(1)
			qc.filtered.Add(1)
			s.itemEvent(pr.w, EventFiltered, cs.From, it.ID, nil)
		case err == nil:
			origin.done.Add(1)
			qc.done.Add(1)
			s.itemEvent(pr.w, EventDone, cs.From, it.ID, nil)
		case ctx.Err() != nil:
			origin.abandoned.Add(1)
			qc.abandoned.Add(1)
			s.abandonedEvent(pr.w, cs.From, it.ID)
		default:
			origin.failed.Add(1)
			qc.failed.Add(1)
			s.itemEvent(pr.w, EventFailed, cs.From, it.ID, cause(err))
			s.giveUp(ctx, cs, pr.w, row, origin, it, attempts, err)
		}
		in.Ack(it)
	}
}

// giveUp ends an item whose last attempt failed, as on_error says.
func (s *sim) giveUp(ctx context.Context, cs *stages.Consumer, me *worker, row int, origin *counters, it Item, attempts int, err error) {
	r := s.r
	msg := fmt.Sprintf("consumer %s: item %s: %v", me.name, stages.Quote(it.Value), cause(err))
	if attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", attempts)
	}
	switch cs.OnError.Then {
	case config.Skip:
		origin.skipped.Add(1)
		r.opts.Log.Warn("skipped: "+msg, "stage", cs.Name, "worker", me.name, "attempts", attempts, "err", cause(err).Error())
	case config.DeadLetter:
		origin.deadLettered.Add(1)
		letter := map[string]any{
			"item": it.Value, "error": cause(err).Error(), "at": "", "stage": cs.Name, "worker": me.name,
			"attempts": attempts, "origin": r.stageName(int(it.Origin)),
		}
		var re *stages.RuntimeError
		if errors.As(err, &re) {
			letter["error"], letter["at"] = re.Msg, re.Pos.String()
		}
		c := r.stats[row]
		c.produced.Add(1)
		s.ids++
		id := s.ids
		dl := cs.OnError.DeadLetter
		if perr := s.byName[dl].Put(ctx, Item{ID: id, Origin: int32(row), Value: letter}); perr != nil {
			c.abandoned.Add(1)
			s.abandonedEvent(me, dl, id)
			if !errors.Is(perr, context.Canceled) && ctx.Err() == nil {
				s.fail(fmt.Sprintf("%s; dead letter to %s: %v", msg, dl, perr))
			}
			return
		}
		if r.opts.OnPut != nil {
			r.opts.OnPut(dl, letter)
		}
		r.opts.Log.Warn(fmt.Sprintf("dead-lettered to %s: %s", dl, msg), "stage", cs.Name, "worker", me.name, "queue", dl,
			"attempts", attempts, "err", cause(err).Error())
	default:
		s.fail(msg)
	}
}

// simEffects carries out a consumer's steps in a simulation. Exec and
// Write are never called: Simulate refuses a graph with such steps.
type simEffects struct {
	s   *sim
	row int
	out *simQueue
	me  *worker
}

func (fx *simEffects) Print(line []byte) error { return fx.s.print(line) }

func (fx *simEffects) Emit(ctx context.Context, v any) error {
	s := fx.s
	c := s.r.stats[fx.row]
	c.produced.Add(1)
	s.ids++
	id := s.ids
	if err := fx.out.Put(ctx, Item{ID: id, Origin: int32(fx.row), Value: v}); err != nil {
		c.abandoned.Add(1)
		s.abandonedEvent(fx.me, fx.out.name, id)
		return err
	}
	if s.r.opts.OnPut != nil {
		s.r.opts.OnPut(fx.out.name, v)
	}
	return nil
}

func (fx *simEffects) Sleep(ctx context.Context, d time.Duration) error { return fx.s.sleep(ctx, d) }

var errSimulated = errors.New("pcrun bug: a step that does real work reached a simulation")

func (fx *simEffects) Exec(context.Context, *stages.Cmd) (stages.ExecResult, error) {
	return stages.ExecResult{}, errSimulated
}

func (fx *simEffects) Write(string, []byte) error { return errSimulated }
