package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// The processes of a multi-process run find each other in the pipeline's
// key-value bucket, PCRUN_<pipeline>, on each broker its NATS queues use:
//
//	gen            the run's generation: a new one is set by a run that
//	               resets the queues (--fresh, or a run of every stage),
//	               after it purged the streams and every other key. A
//	               process without --fresh joins the generation it finds
//	               (or creates the first one).
//	<gen>.<queue>  the queue's roster in that generation (JSON, Roster):
//	               which processes write to it and read from it, with how
//	               many replicas of which stage, whether each writer has
//	               finished, and whether the queue has ended.
//
// Keys carry the generation, so nothing an earlier run left, and nothing a
// process of an earlier generation still writes, is counted. Every change
// to a roster is a compare-and-set on its one key, so registering and
// ending are ordered: a process registers either before the queue ended
// (it is counted) or after (it sees that the queue has ended).
//
// The rule: a queue ends when every writer replica registered in its
// roster has finished and every writer stage the file names for it has
// registered at least once (so a stage whose process has not started yet
// keeps it open). The process whose writer finished last ends it: under
// `sentinel` it puts one end marker per reader replica registered then.
// Then:
//   - A process that registers writers of a queue that has ended is
//     refused (its items would follow the end): start every process that
//     writes to a queue before the first of them finishes, or start a new
//     run with --fresh.
//   - A process whose readers register after the end has no marker counted
//     for it: its readers take items until the queue is drained, as under
//     `close`, and hand back any end marker they take, which was counted
//     for another reader.
//   - A process that leaves before the queue ended withdraws its readers,
//     so no marker is put for them.
//   - A queue no stage of the file writes to (an outside publisher feeds
//     it) ends when the first process registers, without markers: its
//     readers drain it as under close.
//   - A process that finds the generation changed under it (another
//     process started with --fresh after it) joins the new generation if
//     it has not put, fetched or finished anything yet; otherwise it stops
//     with errReset. It looks on every empty fetch (at most every
//     natsPoll), when one of its writer stages finishes, and at once when
//     it fetches a message put in another generation (its message id).

// errReset stops a process whose queues were reset by another's --fresh.
var errReset = errors.New("the pipeline's NATS queues were reset by a run started with --fresh after this one; " +
	"start the --fresh process first, then the others")

// Roster is one NATS queue's record of a generation of a run, as kept on
// the broker (see above) and read by `pcrun status`.
type Roster struct {
	// Writers and Readers map a process (host/pid/id) to the stages it
	// runs that put into the queue, or take from it.
	Writers map[string]map[string]RosterEntry `json:"writers,omitempty"`
	Readers map[string]map[string]RosterEntry `json:"readers,omitempty"`
	// Ended: every writer has finished (see the rule above); EndedBy is
	// the process that found out, and Markers the end markers it put
	// (sentinel).
	Ended   bool   `json:"ended,omitempty"`
	EndedBy string `json:"ended_by,omitempty"`
	Markers int    `json:"markers,omitempty"`
}

// RosterEntry is one stage in one process.
type RosterEntry struct {
	Replicas int  `json:"replicas"`
	Finished bool `json:"finished,omitempty"` // writers: every replica has finished writing
	Late     bool `json:"late,omitempty"`     // readers: registered after the queue ended
	// Gone: writers: its process stopped without finishing, and other
	// processes took it for dead (procs.go); Finished is set too.
	Gone bool `json:"gone,omitempty"`
}

// StageEnded reports whether writer stage has registered and every
// process running it has finished writing.
func (r *Roster) StageEnded(stage string) bool {
	seen := false
	for _, stages := range r.Writers {
		if e, ok := stages[stage]; ok {
			seen = true
			if !e.Finished {
				return false
			}
		}
	}
	return seen
}

// Processes counts the processes registered with stage, as writer or
// reader, and their replicas.
func (r *Roster) Processes(stage string, writers bool) (procs, replicas int) {
	m := r.Readers
	if writers {
		m = r.Writers
	}
	for _, stages := range m {
		if e, ok := stages[stage]; ok {
			procs++
			replicas += e.Replicas
		}
	}
	return procs, replicas
}

// endable reports whether the queue may end: every writer stage of the
// file has registered and every registered writer has finished.
func (r *Roster) endable(fileWriters []string) bool {
	for _, s := range fileWriters {
		if !r.StageEnded(s) {
			return false
		}
	}
	for _, stages := range r.Writers {
		for _, e := range stages {
			if !e.Finished {
				return false
			}
		}
	}
	return true
}

// readers counts the reader replicas registered before the end.
func (r *Roster) readers() int {
	n := 0
	for _, stages := range r.Readers {
		for _, e := range stages {
			if !e.Late {
				n += e.Replicas
			}
		}
	}
	return n
}

// ReadRoster reads the current generation of a pipeline's run on the
// broker js talks to, and queue's roster in it; gen is "" and r nil when
// no run has registered there. It blocks on the broker until ctx ends.
func ReadRoster(ctx context.Context, js jetstream.JetStream, pipeline, queue string) (gen string, r *Roster, err error) {
	kv, err := js.KeyValue(ctx, bucketName(pipeline))
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("key-value bucket %s: %v", bucketName(pipeline), err)
	}
	gen, err = readGen(ctx, kv)
	if err != nil || gen == "" {
		return "", nil, err
	}
	e, err := kv.Get(ctx, rosterKey(gen, kvToken(queue)))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return gen, nil, nil
	}
	if err != nil {
		return gen, nil, fmt.Errorf("key %s in bucket %s: %v", rosterKey(gen, kvToken(queue)), bucketName(pipeline), err)
	}
	r = new(Roster)
	if err := json.Unmarshal(e.Value(), r); err != nil {
		return gen, nil, fmt.Errorf("key %s in bucket %s: %v", e.Key(), bucketName(pipeline), err)
	}
	return gen, r, nil
}

const genKey = "gen"

func rosterKey(gen, queueToken string) string { return gen + "." + queueToken }

// readGen returns the generation, "" when there is none.
func readGen(ctx context.Context, kv jetstream.KeyValue) (string, error) {
	e, err := kv.Get(ctx, genKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// processID names this process in rosters: host/pid/unique.
func processID() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + nuid.Next()
}

// brokerState is what a run keeps about its generation on one broker.
type brokerState struct {
	rmu            sync.Mutex // serializes this process's roster changes and rejoining
	gen            atomic.Pointer[string]
	touched        atomic.Bool // something was put, fetched or finished in this generation
	lastCheck      atomic.Int64
	queues         []*natsQueue
	joined         bool                  // registered (run's goroutine only)
	pipelineQueues []*stages.Queue       // every NATS queue of the pipeline on this broker, as the run names them (scope.go)
	keepRun        bool                  // join the current run even if it has ended (--resume-run)
	beforeEnd      func(context.Context) // writes this process's record (procs.go); nil before it has one
	resumed        *resumption           // the dead process this one takes over (resume.go)
	notice         func(string)          // a line on stderr
}

func (b *natsBroker) redacted() string { return stages.Redacted(b.url) }

func (b *natsBroker) generation() string {
	if g := b.gen.Load(); g != nil {
		return *g
	}
	return ""
}

// updateRoster changes a roster by compare-and-set, calling f on the
// current value (again after a conflict). With mustExist, a missing key
// means the generation was reset: errReset.
//
// A failure a cluster gives while it elects the bucket's leader is
// retried from the read (retry.go): a change whose answer was lost may
// have been made, and f sees it.
func (b *natsBroker) updateRoster(ctx context.Context, key string, mustExist bool, f func(*Roster) error) error {
	retry := episode{log: b.log, what: fmt.Sprintf("changing key %s of bucket %s on %s", key, b.kv.Bucket(), b.redacted())}
	for {
		var r Roster
		var rev uint64
		e, err := getKey(ctx, b.kv, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if mustExist {
				return errReset
			}
		case err != nil && retry.retry(ctx, err):
			continue
		case err != nil:
			return fmt.Errorf("key %s on %s: %v", key, b.redacted(), err)
		default:
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				return fmt.Errorf("key %s on %s: %v", key, b.redacted(), err)
			}
			rev = e.Revision()
		}
		if err := f(&r); err != nil {
			return err
		}
		data, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		err = putKey(ctx, b.kv, key, data, rev)
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // changed since we read it
		}
		if err != nil && retry.retry(ctx, err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("key %s on %s: %v", key, b.redacted(), err)
		}
		retry.ok()
		return nil
	}
}

// LateWriterError refuses a process whose writers would put into a queue
// that has already ended.
type LateWriterError struct {
	Queue  string
	Stages []string
}

func (e *LateWriterError) Error() string {
	return fmt.Sprintf("queue %s has already ended: every writer registered with it had finished before this process started, "+
		"so %s may not put into it (its readers may have left); start every process that writes to a queue before the first "+
		"of them finishes, or start a new run with --fresh", e.Queue, joinNames(e.Stages))
}

func joinNames(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// register records this process's writers and readers of the queue in
// gen's roster. Called with the broker's rmu.
func (q *natsQueue) register(ctx context.Context, gen string) error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	var unmarked, ended bool
	var absent []string // writer stages of the file not registered yet
	var waiting bool    // for a process resuming a lost writer (resume.go)
	err := q.b.updateRoster(ctx, rosterKey(gen, q.key), false, func(r *Roster) error {
		q.takeOver(r)               // resume.go
		waiting = q.awaitsResume(r) // resume.go
		unmarked, ended = r.Ended && !waiting, r.Ended && !waiting
		absent = absent[:0]
		for _, s := range q.spec.Writers {
			if _, ok := q.writers[s]; !ok && !r.registered(s) {
				absent = append(absent, s)
			}
		}
		if r.Ended && len(q.writers) > 0 {
			return &LateWriterError{Queue: q.spec.Name, Stages: slices.Sorted(maps.Keys(q.writers))}
		}
		if len(q.writers) > 0 {
			if r.Writers == nil {
				r.Writers = map[string]map[string]RosterEntry{}
			}
			m := map[string]RosterEntry{}
			for s, n := range q.writers {
				m[s] = RosterEntry{Replicas: n, Finished: q.localLeft[s] <= 0}
			}
			r.Writers[q.proc] = m
		}
		if len(q.readers) > 0 {
			if r.Readers == nil {
				r.Readers = map[string]map[string]RosterEntry{}
			}
			m := map[string]RosterEntry{}
			for s, n := range q.readers {
				m[s] = RosterEntry{Replicas: n, Late: ended}
			}
			r.Readers[q.proc] = m
		}
		if !r.Ended && len(q.spec.Writers) == 0 && len(r.Writers) == 0 {
			// No writer anywhere: ended from the start, without markers;
			// its readers drain it as under close.
			r.Ended, r.EndedBy = true, q.proc
			unmarked, ended = true, true
		}
		return nil
	})
	if err != nil {
		return err
	}
	q.unmarked.Store(unmarked)
	q.ended.Store(ended)
	q.registered = true
	if waiting && len(q.readers) > 0 {
		q.env.Log.Info(fmt.Sprintf("queue %s: waiting for a process started with --resume-run to take over its lost writer", q.spec.Name),
			"queue", q.spec.Name)
	}
	if len(q.readers) > 0 && !ended && len(absent) > 0 {
		q.env.Log.Info(fmt.Sprintf("queue %s: waiting for %s, which write to it, to start in another process", q.spec.Name, joinNames(absent)),
			"queue", q.spec.Name)
	}
	return nil
}

// registered reports whether a process has registered writer stage.
func (r *Roster) registered(stage string) bool {
	for _, stages := range r.Writers {
		if _, ok := stages[stage]; ok {
			return true
		}
	}
	return false
}

// finishStage records that every replica of writer stage in this process
// has finished, and reports whether that ended the queue (this process
// then ends it as the strategy says) and with how many end markers.
func (q *natsQueue) finishStage(ctx context.Context, stage string) (ended bool, markers int, err error) {
	b := q.b
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if err := b.checkGenLocked(ctx); err != nil {
		return false, 0, err
	}
	b.touched.Store(true)
	err = b.updateRoster(ctx, rosterKey(b.generation(), q.key), true, func(r *Roster) error {
		ended, markers = false, 0
		if r.Ended && r.EndedBy == q.proc {
			// This call ended it, and the answer was lost (a leader
			// change): no other call here can find the queue ended by
			// this process, as it ends only after every writer here.
			ended, markers = true, r.Markers
			return nil
		}
		if r.Writers[q.proc] == nil {
			return errReset // our registration is gone: the generation was reset
		}
		e := r.Writers[q.proc][stage]
		e.Finished = true
		r.Writers[q.proc][stage] = e
		if !r.Ended && r.endable(q.spec.Writers) {
			r.Ended, r.EndedBy = true, q.proc
			if q.env.Strategy == config.Sentinel {
				r.Markers = r.readers()
			}
			ended, markers = true, r.Markers
		}
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	if ended {
		q.ended.Store(true)
	}
	return ended, markers, nil
}

// roster reads the queue's roster in this process's generation; nil when
// it is gone (the generation was reset).
func (q *natsQueue) roster(ctx context.Context) (*Roster, error) {
	e, err := q.b.kv.Get(ctx, rosterKey(q.b.generation(), q.key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := new(Roster)
	if err := json.Unmarshal(e.Value(), r); err != nil {
		return nil, err
	}
	return r, nil
}

// withdraw removes this process's readers from the roster if the queue has
// not ended: no end marker is to be put for them any more.
func (q *natsQueue) withdraw() {
	if !q.registered || len(q.readers) == 0 || q.ended.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q.b.rmu.Lock()
	defer q.b.rmu.Unlock()
	_ = q.b.updateRoster(ctx, rosterKey(q.b.generation(), q.key), true, func(r *Roster) error {
		if !r.Ended {
			delete(r.Readers, q.proc)
		}
		return nil
	})
}
