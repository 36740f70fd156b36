package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pcrun/pcrun/config"
	ioeffects "github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// SourceError is a producer source that could not be opened: a missing
// file, a program that cannot start. Nothing ran (exit 2).
type SourceError struct {
	Producer string
	Source   string // as the file writes it, e.g. "lines app.log"
	Err      error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("producer %s: %v", e.Producer, e.Err) // Err names the file or program
}

func (e *SourceError) Unwrap() error { return e.Err }

// openSources opens the source of every producer this run starts that
// reads one (stages.Producer.Source), before any worker starts: a missing
// file or a program that cannot start is a *SourceError, and nothing runs.
func (r *run) openSources() error {
	r.sources = make([]ioeffects.Reader, len(r.g.Producers))
	for i, p := range r.g.Producers {
		if p.Source == nil || !r.selected(p.Name) {
			continue
		}
		src, err := openSource(p.Source, r.opts.Stdin)
		if err != nil {
			r.closeSources()
			return &SourceError{Producer: p.Name, Source: p.Source.String(), Err: err}
		}
		r.sources[i] = src
	}
	return nil
}

// openSource opens a source with the Opener its kind registers
// (effects/source.go).
func openSource(s *stages.Source, stdin io.Reader) (ioeffects.Reader, error) {
	open, ok := ioeffects.LookupSource(s.Kind)
	if !ok {
		return nil, fmt.Errorf("no reader for source kind %q (a bug in pcrun)", s.Kind)
	}
	return open(s, ioeffects.SourceEnv{Stdin: stdin})
}

// closeSources releases the sources no producer finished: when the run
// could not start. Each producer finishes its own source.
func (r *run) closeSources() {
	for i, src := range r.sources {
		if src != nil {
			_ = src.Finish(false)
			r.sources[i] = nil
		}
	}
}

// sourceProducer runs a producer that reads a source (it has one
// replica): for each record, wait the delay, make the item (the record,
// or the `item` template with the record as `line`), put it, print. A put
// into a full queue blocks, and so the reading stops: a command's stdout
// pipe fills and the command waits. It stops at the end of the source,
// after `count` records, or when the soft context ends; a stop ends a read
// that waits (stdin, a command) and kills a command's process group.
//
// next counts the records consumed: made into items (put, abandoned or
// failed). A resumed run skips that many records first.
func (r *run) sourceProducer(p *stages.Producer, replica, row int) {
	w := p.Worker(replica)
	c := r.stats[row]
	me := newWorker(w.Name(), p.Name, queue.Producer, c)
	ctx := me.in(r.soft)
	hard := me.in(r.hard)
	q := r.queues[p.To]
	src := r.sources[row]
	r.sources[row] = nil // this worker finishes it
	next := 0
	defer r.leave()
	defer r.lifetime(me)()
	defer r.producersLeft.Add(-1)
	defer r.writerDone(hard, p.To, p.Name)
	defer func() {
		r.spill.add(SpillRecord{Kind: "producer", Stage: p.Name, Replica: replica, Next: next, Count: max(p.Count, 0)})
	}()
	ended := false
	defer func() {
		if err := src.Finish(ended); err != nil && ctx.Err() == nil {
			r.fail(fmt.Sprintf("producer %s: %v", w.Name(), err))
		}
	}()
	unwatch := context.AfterFunc(ctx, src.Stop) // a stop ends a blocked read and the command
	defer unwatch()

	fail := func(format string, args ...any) {
		if ctx.Err() == nil {
			r.fail(fmt.Sprintf("producer %s: ", w.Name()) + fmt.Sprintf(format, args...))
		}
	}
	skip := r.startIndex(p.Name, replica)
	if skip > 0 && !p.Source.Resumable() {
		r.opts.Log.Warn(fmt.Sprintf("resuming: producer %s skips the first %d record(s) of %s, which the stopped run read; "+
			"that is right only when it reads the same input again", w.Name(), skip, src.Where()), "stage", p.Name, "skip", skip)
	}
	for ; next < skip; next++ {
		if _, err := src.Next(); err != nil {
			var re *ioeffects.RecordError
			switch {
			case errors.Is(err, io.EOF):
				ended = true
				return
			case errors.As(err, &re):
				continue // it failed in the run that was stopped
			}
			fail("resuming, skipping record %d of %d: %v", next+1, skip, err)
			return
		}
	}
	for p.Count == stages.Unlimited || next < p.Count {
		if ctx.Err() != nil {
			return
		}
		rec, err := src.Next()
		var re *ioeffects.RecordError
		switch {
		case errors.Is(err, io.EOF):
			ended = true
		case errors.As(err, &re):
			c.produced.Add(1) // a record that cannot be an item fails like an item
			c.failed.Add(1)
			r.fail(fmt.Sprintf("producer %s: record %d: %v", w.Name(), next, err))
			next++
			return
		case err != nil:
			fail("%v", err)
			return
		}
		if ended {
			break
		}
		w.SetRecord(rec)
		made, goOn := r.produceOne(ctx, w, me, p, q, row, next, "record")
		if made {
			next++
		}
		if !goOn {
			return
		}
	}
	if !ended {
		return // count reached: finish stops the command
	}
	if r.g.Strategy == config.Join {
		_ = q.Join(ctx) // JoinableQueue.join(); a stop ends the wait
	}
}
