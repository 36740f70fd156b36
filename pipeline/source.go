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
func (r *run) sourceProducer(p *stages.Producer, replica, row int) {
	w := p.Worker(replica)
	me := newWorker(w.Name(), p.Name, queue.Producer, r.stats[row])
	r.producing(p.Name, replica, me)
	rd := &reading{r: r, p: p, w: w, me: me, ctx: me.in(r.soft), q: r.queues[p.To], row: row, src: r.sources[row]}
	hard := me.in(r.hard)
	r.sources[row] = nil // this worker finishes it
	defer r.leave()
	defer r.lifetime(me)()
	defer r.producersLeft.Add(-1)
	defer r.writerDone(hard, p.To, p.Name)
	defer func() {
		r.spill.add(SpillRecord{Kind: "producer", Stage: p.Name, Replica: replica, Next: rd.next, Count: max(p.Count, 0)})
	}()
	defer rd.finish()
	unwatch := context.AfterFunc(rd.ctx, rd.src.Stop) // a stop ends a blocked read and the command
	defer unwatch()

	if !rd.skip(r.startIndex(p.Name, replica)) {
		return
	}
	rd.produce()
	if rd.ended && r.g.Strategy == config.Join {
		_ = rd.q.Join(rd.ctx) // JoinableQueue.join(); a stop ends the wait
	}
}

// reading is a source producer at work: its worker, its source, and how
// far it got.
type reading struct {
	r   *run
	p   *stages.Producer
	w   *stages.ProducerWorker
	me  *worker
	ctx context.Context // the soft context: a stop ends the reading
	q   queue.Queue
	row int
	src ioeffects.Reader
	// next counts the records consumed: made into items (put, abandoned
	// or failed). A resumed run skips that many records first.
	next  int
	ended bool // the source was read to its end
}

// skip skips the first n records, which the stopped run this one resumes
// consumed. It returns false when the producer must stop: the source
// ended, or could not be read.
func (rd *reading) skip(n int) bool {
	if n > 0 && !rd.p.Source.Resumable() {
		rd.r.opts.Log.Warn(fmt.Sprintf("resuming: producer %s skips the first %d record(s) of %s, which the stopped run read; "+
			"that is right only when it reads the same input again", rd.w.Name(), n, rd.src.Where()), "stage", rd.p.Name, "skip", n)
	}
	for ; rd.next < n; rd.next++ {
		_, err := rd.src.Next()
		var re *ioeffects.RecordError
		switch {
		case err == nil, errors.As(err, &re):
			continue // a bad record failed in the run that was stopped
		case errors.Is(err, io.EOF):
			rd.ended = true
		default:
			rd.fail("resuming, skipping record %d of %d: %v", rd.next+1, n, err)
		}
		return false
	}
	return true
}

// produce makes an item of each record until the source ends (ended),
// `count` records are consumed (finish then stops a command), the soft
// context ends, or an item fails.
func (rd *reading) produce() {
	for rd.p.Count == stages.Unlimited || rd.next < rd.p.Count {
		if rd.ctx.Err() != nil {
			return
		}
		rec, err := rd.src.Next()
		if err != nil {
			rd.readFailed(err)
			return
		}
		rd.w.SetRecord(rec)
		made, goOn := rd.r.produceOne(rd.ctx, rd.w, rd.me, rd.p, rd.q, rd.row, rd.next, "record")
		if made {
			rd.next++
		}
		if !goOn {
			return
		}
	}
}

// readFailed handles what Next returned instead of a record: the end of
// the source, a record that cannot be an item (it fails like an item),
// or an error reading the source (it fails the producer).
func (rd *reading) readFailed(err error) {
	var re *ioeffects.RecordError
	switch {
	case errors.Is(err, io.EOF):
		rd.ended = true
	case errors.As(err, &re):
		c := rd.r.stats[rd.row]
		c.produced.Add(1) // a record that cannot be an item fails like an item
		c.failed.Add(1)
		rd.r.fail(fmt.Sprintf("producer %s: record %d: %v", rd.w.Name(), rd.next, err))
		rd.next++
	default:
		rd.fail("%v", err)
	}
}

// finish finishes the source; its failing on its own (a command's
// non-zero exit) fails the producer, unless the run is stopping.
func (rd *reading) finish() {
	if err := rd.src.Finish(rd.ended); err != nil {
		rd.fail("%v", err)
	}
}

// fail fails the producer, unless the run is stopping: then an error
// reading is the stop's doing.
func (rd *reading) fail(format string, args ...any) {
	if rd.ctx.Err() == nil {
		rd.r.fail(fmt.Sprintf("producer %s: ", rd.w.Name()) + fmt.Sprintf(format, args...))
	}
}
