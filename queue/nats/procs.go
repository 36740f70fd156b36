package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/observe"
)

// Every process of a run keeps a record of itself in the run's key-value
// bucket on each broker its NATS queues use, under
//
//	<gen>.p.<process>   its ProcessRecord (JSON): host, pid, stages, state,
//	                    its part of the run's ledger, and a heartbeat.
//	<gen>.p._all        the ids of the generation's processes (JSON list).
//
// While it runs, the process rewrites its record every beatEvery (the
// heartbeat, with its ledger so far); when its run ends, it writes its
// final part and how it ended. Summing the records gives the whole run's
// ledger (`pcrun status`, each process's summary).
//
// A writer that stops beating without ending (SIGKILL, its host lost) is
// found out by the readers of its queues: a process that reads a queue
// watches the record of every writer of that queue that has not finished;
// one whose record has not changed for leaseFor, as this process's own
// clock measures it (clocks of hosts may differ), is taken for dead: its
// record's state becomes "gone" (a compare-and-set: a process that beat
// meanwhile is not), its unfinished writer stages are marked finished and
// gone in the rosters, and the queue ends by the usual rule. The readers
// drain what was put and the run fails, naming the lost writer. A process
// taken for dead that was only paused finds its record gone at its next
// beat and stops: its queues have ended without it.

// A var so tests may shorten them. The lease outlasts what a cluster
// takes to move a bucket's leader, and a connection its server, on a
// loaded machine (TestNatsClusterLeaderLoss saw a writer's heartbeats
// fail for 6s): a writer that cannot write meanwhile is not dead.
var (
	beatEvery = time.Second
	leaseFor  = 15 * time.Second
)

// Process states in records. A record in stateRunning whose heartbeat
// stopped is shown as gone by `pcrun status`.
const (
	stateRunning = "running"
	stateGone    = "gone"
	stateCut     = "cut" // ended well, but a writer of a queue it read was lost
)

// errTakenForDead stops a process whose record another process marked
// gone: its heartbeat had stopped for longer than leaseFor.
var errTakenForDead = errors.New("the other processes of the run took this process for dead (its heartbeat on the broker " +
	"stopped for longer than the lease) and ended its queues without it; this process stops")

// ProcessRecord is one process of a run, as kept on the broker.
type ProcessRecord struct {
	ID     string   `json:"id"` // host/pid/unique, as in rosters
	Host   string   `json:"host"`
	PID    int      `json:"pid"`
	Stages []string `json:"stages"`
	// State is running, then finished, failed, interrupted or
	// deadlocked as its run ended; gone when other processes took it for
	// dead (Note says who and why).
	State   string        `json:"state"`
	Note    string        `json:"note,omitempty"`
	Started time.Time     `json:"started"`
	Beat    time.Time     `json:"beat"` // its last heartbeat, by its own clock
	Lease   time.Duration `json:"lease_ns"`
	Part    observe.Part  `json:"part"`
}

func procKey(gen, proc string) string { return gen + ".p." + kvToken(proc) }

// final reports whether the process has ended, one way or another.
func (p *ProcessRecord) final() bool { return p.State != stateRunning }

// recorder is what a set keeps of its record on each broker.
type recorder struct {
	mu    sync.Mutex // the heartbeat, and a writer stage's end (beforeEnd), write the record
	rec   ProcessRecord
	revs  map[*natsBroker]recRev // where the record is, on each broker
	seen  map[string]sighting    // by record key: the writers watched (liveness)
	read  time.Time              // the last time the watched records could be read
	lost  []string               // the writers taken for dead, for Err
	stop  chan struct{}
	found chan struct{} // closed when the heartbeats began (tests)
}

type recRev struct {
	gen string
	rev uint64
}

// sighting is when this process last saw a watched record change.
type sighting struct {
	rev   uint64
	since time.Time
}

// startRecording writes this process's first record and starts the
// heartbeat, which also watches the writers of the queues read here.
func (s *set) startRecording(ctx context.Context) error {
	host, _ := os.Hostname()
	now := time.Now()
	s.rec = &recorder{
		rec: ProcessRecord{ID: s.queues[0].proc, Host: host, PID: os.Getpid(), Stages: s.env.Local,
			State: stateRunning, Started: now, Lease: leaseFor},
		revs: map[*natsBroker]recRev{}, seen: map[string]sighting{}, read: now, stop: make(chan struct{}),
	}
	if err := s.beat(ctx); err != nil {
		return err
	}
	for _, b := range s.brokers {
		// Before a writer stage's end is on the broker, what it did
		// (items abandoned, say) is: the readers that end with it
		// see it in the whole run.
		b.beforeEnd = func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), beatEvery*5)
			defer cancel()
			_ = s.beat(ctx)
		}
	}
	s.wg.Go(s.tend)
	return nil
}

// tend beats every beatEvery and watches the writers, until stopped.
func (s *set) tend() {
	t := time.NewTicker(beatEvery)
	defer t.Stop()
	for {
		select {
		case <-s.rec.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), beatEvery*5)
		if err := s.beat(ctx); errors.Is(err, errTakenForDead) {
			cancel()
			s.env.Abort(err)
			return
		} else if err != nil {
			s.env.Log.Debug("heartbeat: "+err.Error(), "err", err.Error())
		}
		s.watchWriters(ctx)
		cancel()
	}
}

// stopRecording stops the heartbeat and waits for it; idempotent.
func (s *set) stopRecording() {
	if s.rec == nil {
		return
	}
	select {
	case <-s.rec.stop:
	default:
		close(s.rec.stop)
	}
	s.wg.Wait()
}

// part is this process's part of the run so far.
func (s *set) part() observe.Part {
	var p observe.Part
	if s.env.Part != nil {
		p = s.env.Part()
	}
	for _, q := range s.queues {
		p.Redelivered += q.redelivered.Load()
	}
	p.Resumed = s.resumedItems
	return p
}

// beat writes the record, with the part so far, on every broker.
func (s *set) beat(ctx context.Context) error {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.rec.Part, s.rec.rec.Beat = s.part(), time.Now()
	return s.writeRecord(ctx)
}

// writeRecord writes the record on every broker, in the broker's current
// generation: created there the first time, then updated by revision, so
// that a process that took this one for dead is noticed.
func (s *set) writeRecord(ctx context.Context) error {
	data, err := json.Marshal(&s.rec.rec)
	if err != nil {
		return err
	}
	var first error
	for _, b := range s.brokers {
		gen := b.generation()
		if gen == "" {
			continue
		}
		at, key := s.rec.revs[b], procKey(gen, s.rec.rec.ID)
		var rev uint64
		if at.gen != gen { // a new generation (joined, or our first)
			if err := b.indexProcess(ctx, gen, s.rec.rec.ID); err != nil {
				first = cmpOr(first, err)
				continue
			}
			rev, err = b.kv.Put(ctx, key, data)
		} else {
			rev, err = b.kv.Update(ctx, key, data, at.rev)
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			if rec, _, gerr := getRecord(ctx, b.kv, key); gerr == nil && rec != nil && rec.State == stateGone {
				return errTakenForDead
			}
			rev, err = b.kv.Put(ctx, key, data)
		}
		if err != nil {
			first = cmpOr(first, fmt.Errorf("writing this process's record on %s: %v", b.redacted(), err))
			continue
		}
		s.rec.revs[b] = recRev{gen: gen, rev: rev}
	}
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// getRecord reads one process record and its revision; nil when missing.
func getRecord(ctx context.Context, kv jetstream.KeyValue, key string) (*ProcessRecord, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	r := new(ProcessRecord)
	if err := json.Unmarshal(e.Value(), r); err != nil {
		return nil, 0, fmt.Errorf("key %s: %v", key, err)
	}
	return r, e.Revision(), nil
}

// ReadRecords reads the records of generation gen's processes; the
// second result is when each was last written, by the broker's clock.
func ReadRecords(ctx context.Context, kv jetstream.KeyValue, gen string) ([]ProcessRecord, []time.Time, error) {
	ids, _, err := readIndex(ctx, kv, gen)
	if err != nil {
		return nil, nil, err
	}
	var recs []ProcessRecord
	var when []time.Time
	for _, id := range ids {
		k := procKey(gen, id)
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		var r ProcessRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, nil, fmt.Errorf("key %s: %v", k, err)
		}
		recs = append(recs, r)
		when = append(when, e.Created())
	}
	return recs, when, nil
}

// The processes of a generation are listed in one key, <gen>.p._all (a
// JSON list of their ids, changed by compare-and-set), rather than found
// by listing the bucket's keys: a listing made while records are being
// rewritten (every heartbeat) can miss one.

func indexKey(gen string) string { return gen + ".p._all" }

// readIndex reads the list of gen's processes and its revision (0: none).
func readIndex(ctx context.Context, kv jetstream.KeyValue, gen string) ([]string, uint64, error) {
	e, err := kv.Get(ctx, indexKey(gen))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	if err := json.Unmarshal(e.Value(), &ids); err != nil {
		return nil, 0, fmt.Errorf("key %s: %v", indexKey(gen), err)
	}
	return ids, e.Revision(), nil
}

// indexProcess adds process id to gen's list of processes.
func (b *natsBroker) indexProcess(ctx context.Context, gen, id string) error {
	for {
		ids, rev, err := readIndex(ctx, b.kv, gen)
		if err != nil {
			return fmt.Errorf("listing this process on %s: %v", b.redacted(), err)
		}
		if slices.Contains(ids, id) {
			return nil
		}
		data, _ := json.Marshal(append(ids, id)) // strings always encode
		if rev == 0 {
			_, err = b.kv.Create(ctx, indexKey(gen), data)
		} else {
			_, err = b.kv.Update(ctx, indexKey(gen), data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another process listed itself meanwhile
		}
		if err != nil {
			return fmt.Errorf("listing this process on %s: %v", b.redacted(), err)
		}
		return nil
	}
}

// Finish writes this process's final record (its part, how it ended)
// and returns the whole run as its processes recorded it: see
// queue.Recorder.
func (s *set) Finish(part observe.Part, state string) *observe.Whole {
	if s.rec == nil {
		return nil
	}
	s.stopRecording()
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	for _, q := range s.queues {
		part.Redelivered += q.redelivered.Load()
	}
	part.Resumed = s.resumedItems
	s.rec.rec.Part, s.rec.rec.State, s.rec.rec.Beat = part, state, time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := s.writeRecord(ctx); err != nil {
		s.env.Log.Warn(err.Error()+"; the run's record on the broker misses this process's end", "err", err.Error())
	}
	return s.whole(ctx)
}

// whole sums the records of this process's generation on its brokers
// (a process recorded on several brokers counts once).
func (s *set) whole(ctx context.Context) *observe.Whole {
	var kvs []jetstream.KeyValue
	for _, b := range s.brokers {
		kvs = append(kvs, b.kv)
	}
	run, err := ReadRun(ctx, kvs) // as `pcrun status` reads it
	if err != nil {
		return nil
	}
	return &run.Ledger
}

// Err names the writers of queues read here that were taken for dead:
// the items they had not put are missing, and the run fails.
func (s *set) Err() error {
	seen := map[string]bool{}
	var lost []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, q := range s.queues {
		if len(q.readers) == 0 {
			continue
		}
		r, err := q.roster(ctx)
		if err != nil || r == nil {
			continue
		}
		for _, proc := range slices.Sorted(maps.Keys(r.Writers)) {
			for _, st := range slices.Sorted(maps.Keys(r.Writers[proc])) {
				if e := r.Writers[proc][st]; e.Gone && !seen[proc+st] {
					seen[proc+st] = true
					lost = append(lost, fmt.Sprintf("%s (of queue %s) in process %s", st, q.spec.Name, proc))
				}
			}
		}
	}
	if len(lost) == 0 {
		return nil
	}
	return fmt.Errorf("writer %s stopped without finishing (no heartbeat on the broker for %s: killed, or its host lost); "+
		"the items it had not put are missing: restart it, or start a new run with --fresh", strings.Join(lost, ", "), leaseFor)
}
