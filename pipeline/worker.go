package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/pcrun/pcrun/config"
	ioeffects "github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// producer runs one producer replica: wait the delay, make the item, put
// it, print. It stops when the soft context ends (deadline, signal,
// failure); an item made but not put is abandoned, never dropped. Where it
// stopped is recorded for a spill file.
func (r *run) producer(p *stages.Producer, replica, row int) {
	if p.Source != nil {
		r.sourceProducer(p, replica, row) // source.go
		return
	}
	w := p.Worker(replica)
	c := r.stats[row]
	me := newWorker(w.Name(), p.Name, queue.Producer, c)
	r.producing(p.Name, replica, me)
	ctx := me.in(r.soft)
	hard := me.in(r.hard)
	q := r.queues[p.To]
	i := r.startIndex(p.Name, replica)
	defer r.leave()
	defer r.lifetime(me)()
	defer r.producersLeft.Add(-1)
	defer r.writerDone(hard, p.To, p.Name)
	defer func() {
		r.spill.add(SpillRecord{Kind: "producer", Stage: p.Name, Replica: replica, Next: i, Count: p.Count})
	}()
	if bq, ok := q.(queue.Batcher); ok && p.OnlyItems() {
		if !r.produceBatched(ctx, w, p.Count, p.To, bq, row, &i) { // batch.go
			return
		}
	}
	for i < p.Count {
		made, goOn := r.produceOne(ctx, w, me, p, q, row, i, "item")
		if made {
			i++
		}
		if !goOn {
			return
		}
	}
	if r.g.Strategy == config.Join {
		_ = q.Join(ctx) // JoinableQueue.join(); a stop ends the wait
	}
}

// startIndex is where a producer replica starts: 0, or where it stopped in
// the run being resumed.
func (r *run) startIndex(stage string, replica int) int {
	if r.opts.Resume == nil {
		return 0
	}
	return r.opts.Resume.Next[stage][replica]
}

// replay puts the items of a spill file back into their queues, as the
// producer of its own ledger row. It is a writer of each of those queues.
func (r *run) replay(row int, queues []string) {
	c := r.stats[row]
	me := newWorker(replayStage, replayStage, queue.Producer, c)
	ctx := me.in(r.soft)
	hard := me.in(r.hard)
	defer r.leave()
	defer r.lifetime(me)()
	defer r.producersLeft.Add(-1)
	defer func() {
		for _, q := range queues {
			r.writerDone(hard, q, replayStage)
		}
	}()
	for _, rec := range r.opts.Resume.Items {
		c.produced.Add(1)
		id := r.ids.Add(1)
		if ctx.Err() != nil || r.put(ctx, r.queues[rec.Queue], queue.Item{ID: id, Origin: int32(row), Value: rec.Item}) != nil {
			c.abandoned.Add(1)
			r.abandonedEvent(&me.Worker, rec.Queue, id)
			r.spillItem(rec.Queue, row, id, rec.Item)
			continue
		}
		if r.puts != nil {
			r.puts.Put(rec.Queue, rec.Item)
		}
	}
	if r.g.Strategy == config.Join {
		for _, q := range queues {
			_ = r.queues[q].Join(ctx)
		}
	}
}

// consumer runs one consumer replica until its queue is closed and empty,
// it takes its end marker, or the hard context ends.
func (r *run) consumer(cs *stages.Consumer, replica, row int) {
	me := newWorker("", cs.Name, queue.Consumer, r.stats[row])
	ctx := me.in(r.hard)
	fx := &effects{r: r, row: row, me: me}
	w := cs.Worker(replica, fx)
	me.Name = w.Name()
	defer r.leave() // runs last: after the end of our output queues
	defer r.lifetime(me)()
	if cs.Emits {
		fx.out = r.queues[cs.To]
		defer r.writerDone(ctx, cs.To, cs.Name)
	}
	if cs.WritesDeadLetter() {
		defer r.writerDone(ctx, cs.OnError.DeadLetter, cs.Name)
	}
	r.consume(ctx, r.reader(cs, w, me, row))
}

// reader is what a consumer replica's loop needs, looked up once.
type reader struct {
	cs  *stages.Consumer
	w   *stages.ConsumerWorker
	me  *worker
	row int
	in  queue.Queue
	c   *counters      // the consumer's own
	qc  *queueCounters // its queue's
	// received, when the queue is shared with other processes, counts
	// the end of the items taken here instead of their origin's row.
	received *counters
}

func (r *run) reader(cs *stages.Consumer, w *stages.ConsumerWorker, me *worker, row int) *reader {
	return &reader{cs: cs, w: w, me: me, row: row, in: r.queues[cs.From], c: r.stats[row],
		qc: r.qstats[cs.From], received: r.received[cs.From]}
}

// consume takes items until the queue is closed and drained, the
// worker's end marker comes, or ctx ends.
func (r *run) consume(ctx context.Context, rd *reader) {
	for {
		it, err := rd.in.Get(ctx)
		var expired *queue.ExpiredError
		if err != nil {
			if expired = expiredOf(err); expired != nil {
				it, err = expired.Item, nil
			}
		}
		if err != nil || it.Marker {
			return // closed and drained, cancelled, or our end marker
		}
		rd.c.taken.Add(1)
		if r.finish(ctx, rd, it, expired) {
			rd.in.Ack(it)
		}
	}
}

// expiredOf returns the *queue.ExpiredError err carries, or nil. (Apart
// from consume, so that only an error pays for the pointer errors.As
// needs on the heap.)
func expiredOf(err error) *queue.ExpiredError {
	var e *queue.ExpiredError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// finish runs an item through the consumer's steps and counts its end.
// One that expired (delivered too often) fails at once. It reports
// whether the item is to be acknowledged: not when it was handed back to
// a shared queue.
func (r *run) finish(ctx context.Context, rd *reader, it queue.Item, expired *queue.ExpiredError) bool {
	cs, qc := rd.cs, rd.qc
	// Where the item's end is counted: its origin's row, or, when
	// another process may have put it, what this process received (its
	// origin counted it handed off).
	origin := r.stats[it.Origin]
	if rd.received != nil {
		origin = rd.received
		origin.taken.Add(1)
	}
	if expired != nil { // its readers kept dying on it
		origin.failed.Add(1)
		qc.failed.Add(1)
		r.itemEvent(rd.me, observe.EventFailed, cs.From, it.ID, expired)
		r.giveUp(ctx, cs, rd.w.Name(), rd.row, origin, it, 1, expired)
		return true
	}
	switch outcome, attempts, err := r.handle(ctx, cs, rd.w, it.Value); {
	case err == nil && outcome == stages.Filtered:
		origin.filtered.Add(1)
		qc.filtered.Add(1)
		if r.obs != nil {
			r.itemEvent(rd.me, observe.EventFiltered, cs.From, it.ID, nil)
		}
	case err == nil:
		origin.done.Add(1)
		qc.done.Add(1)
		if r.obs != nil {
			r.itemEvent(rd.me, observe.EventDone, cs.From, it.ID, nil)
		}
	case ctx.Err() != nil && r.handBack(rd.in, it):
		origin.handedOff.Add(1) // back on the broker, for another process's reader
		return false
	case ctx.Err() != nil:
		origin.abandoned.Add(1) // interrupted mid-steps: it may run again on resume
		qc.abandoned.Add(1)
		r.spillItem(cs.From, int(it.Origin), it.ID, it.Value)
		r.abandonedEvent(&rd.me.Worker, cs.From, it.ID)
	default:
		origin.failed.Add(1)
		qc.failed.Add(1)
		r.itemEvent(rd.me, observe.EventFailed, cs.From, it.ID, cause(err))
		r.giveUp(ctx, cs, rd.w.Name(), rd.row, origin, it, attempts, err)
	}
	return true
}

// handle runs an item through a consumer's steps, retrying as its
// on_error says. It returns how many attempts were made.
func (r *run) handle(ctx context.Context, cs *stages.Consumer, w *stages.ConsumerWorker, v any) (stages.Outcome, int, error) {
	pol := cs.OnError
	from := -1
	for attempt := 1; ; attempt++ {
		outcome, err := r.try(ctx, w, v, attempt, from)
		if err == nil || ctx.Err() != nil || attempt >= pol.Attempts {
			return outcome, attempt, err
		}
		var se *stages.StepError
		if errors.As(err, &se) {
			from = se.Step // the steps before it already took effect
		}
		wait := pol.Wait(attempt, r.jitter())
		r.opts.Log.Warn(fmt.Sprintf("retry: %v (attempt %d of %d failed; next in %s)", err, attempt, pol.Attempts, wait.Round(time.Millisecond)),
			"stage", cs.Name, "worker", w.Name(), "attempt", attempt, "attempts", pol.Attempts, "backoff", wait, "err", cause(err).Error())
		if r.clock.Sleep(ctx, wait) != nil {
			return outcome, attempt, ctx.Err()
		}
	}
}

// try makes one attempt. A panic inside a step fails the item (with the
// stack on stderr, so the bug is seen) instead of killing the run.
func (r *run) try(ctx context.Context, w *stages.ConsumerWorker, v any, attempt, from int) (out stages.Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.opts.Log.Error(fmt.Sprintf("panic in a step of %s: %v\n%s", w.Name(), p, debug.Stack()), "worker", w.Name(), "panic", fmt.Sprint(p))
			err = &stages.StepError{Worker: w.Name(), Item: v, Err: fmt.Errorf("panic: %v", p), Step: -1}
		}
	}()
	return w.Retry(ctx, v, attempt, from)
}

// giveUp ends an item whose last attempt failed, as on_error says: stop the
// run, skip it, or put it into the dead-letter queue.
// origin counts the item's end.
func (r *run) giveUp(ctx context.Context, cs *stages.Consumer, worker string, row int, origin *counters, it queue.Item, attempts int, err error) {
	msg := fmt.Sprintf("consumer %s: item %s: %v", worker, stages.Quote(it.Value), cause(err))
	if attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", attempts)
	}
	switch cs.OnError.Then {
	case config.Skip:
		origin.skipped.Add(1)
		r.opts.Log.Warn("skipped: "+msg, "stage", cs.Name, "worker", worker, "attempts", attempts, "err", cause(err).Error())
	case config.DeadLetter:
		origin.deadLettered.Add(1)
		letter := map[string]any{
			"item": it.Value, "error": cause(err).Error(), "at": "", "stage": cs.Name, "worker": worker,
			"attempts": attempts, "origin": r.stageName(int(it.Origin)),
		}
		var re *stages.RuntimeError
		if errors.As(err, &re) {
			letter["error"], letter["at"] = re.Msg, re.Pos.String() // the message, and where in the file
		}
		c := r.stats[row]
		c.produced.Add(1)
		id := r.ids.Add(1)
		dl := cs.OnError.DeadLetter
		if perr := r.put(ctx, r.queues[dl], queue.Item{ID: id, Origin: int32(row), Value: letter}); perr != nil {
			c.abandoned.Add(1)
			r.spillItem(dl, row, id, letter)
			r.abandonedEvent(queue.WorkerFrom(ctx), dl, id)
			if !errors.Is(perr, context.Canceled) && ctx.Err() == nil {
				r.fail(fmt.Sprintf("%s; dead letter to %s: %v", msg, dl, perr))
			}
			return
		}
		if r.puts != nil {
			r.puts.Put(dl, letter)
		}
		r.opts.Log.Warn(fmt.Sprintf("dead-lettered to %s: %s", dl, msg), "stage", cs.Name, "worker", worker, "queue", dl,
			"attempts", attempts, "err", cause(err).Error())
	default:
		r.fail(msg)
	}
}

// cause strips the StepError wrapper: messages name the worker and item
// themselves.
func cause(err error) error {
	var se *stages.StepError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// effects carries out a consumer's steps for one worker.
type effects struct {
	r   *run
	row int
	out queue.Queue
	me  *worker
}

func (fx *effects) Print(line []byte) error { return fx.r.out.PrintBytes(line) }

func (fx *effects) Emit(ctx context.Context, v any) error {
	c := fx.r.stats[fx.row]
	c.produced.Add(1)
	id := fx.r.ids.Add(1)
	if err := fx.r.put(ctx, fx.out, queue.Item{ID: id, Origin: int32(fx.row), Value: v}); err != nil {
		// Not spilled: the item being handled is, and running it again
		// on resume makes this emit again.
		c.abandoned.Add(1)
		fx.r.abandonedEvent(&fx.me.Worker, fx.out.Name(), id)
		return err
	}
	if fx.r.puts != nil {
		fx.r.puts.Put(fx.out.Name(), v)
	}
	return nil
}

func (fx *effects) Sleep(ctx context.Context, d time.Duration) error { return fx.r.clock.Sleep(ctx, d) }

func (fx *effects) Exec(ctx context.Context, c *stages.Cmd) (stages.ExecResult, error) {
	return ioeffects.Exec(ctx, c) // the process's own group, killed when ctx ends
}

func (fx *effects) Write(path string, line []byte) error { return fx.r.files.Write(path, line) }

// produceOne waits the delay of item i, makes it, puts it and prints its
// line: one step of a producer, of templates or of a source (what names
// i in messages: "item" or "record"). made says that i became an item
// (put, abandoned or failed: it counts in the ledger, and the producer
// moves on to i+1); goOn is false when the producer must stop: stopped
// during the delay (nothing made), the item failed, its put was cut off
// (it is abandoned and spilled), or its line could not be printed.
func (r *run) produceOne(ctx context.Context, w *stages.ProducerWorker, me *worker, p *stages.Producer, q queue.Queue, row, i int, what string) (made, goOn bool) {
	c := r.stats[row]
	d, err := w.Delay(i)
	if err != nil {
		c.produced.Add(1)
		c.failed.Add(1)
		r.fail(fmt.Sprintf("producer %s: %s %d: delay: %v", w.Name(), what, i, err))
		return true, false
	}
	if r.clock.Sleep(ctx, d) != nil || ctx.Err() != nil {
		return false, false // stopped before the item was made
	}
	v, err := w.Item(i)
	if err != nil {
		c.produced.Add(1)
		c.failed.Add(1)
		r.fail(fmt.Sprintf("producer %s: %s %d: %v", w.Name(), what, i, err))
		return true, false
	}
	c.produced.Add(1)
	id := r.ids.Add(1)
	me.Index.Store(int64(i))
	if err := r.put(ctx, q, queue.Item{ID: id, Origin: int32(row), Value: v}); err != nil {
		c.abandoned.Add(1)
		r.abandonedEvent(&me.Worker, p.To, id)
		r.spillItem(p.To, row, id, v)
		return true, false
	}
	me.Index.Store(int64(i) + 1)
	if r.puts != nil {
		r.puts.Put(p.To, v)
	}
	line, ok, err := w.Line(i, v)
	if err != nil {
		r.fail(fmt.Sprintf("producer %s: %s %d: print: %v", w.Name(), what, i, err))
		return true, false
	}
	if ok {
		_ = r.out.Print(line)
	}
	return true, true
}
