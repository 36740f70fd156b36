package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/stages"
)

// What `pcrun status` says of the run as a whole: the processes' records
// (procs.go) on the brokers of the pipeline's queues, summed.

// RunStatus is the current run of a pipeline, as its processes recorded it.
type RunStatus struct {
	// Generation is the run's on the broker; "" when no process has
	// registered yet.
	Generation string          `json:"generation,omitempty"`
	Ledger     observe.Whole   `json:"ledger"`
	Processes  []ProcessStatus `json:"processes"`
	// Ended: at least one process has recorded itself and none is still
	// running (each ended, or is gone); Code is then the run's exit code:
	// 130 if a process was interrupted, else 3 if one deadlocked, else 1
	// if one failed or is gone, else 0.
	Ended bool `json:"ended"`
	Code  int  `json:"code"`
}

// ProcessStatus is one process of the run.
type ProcessStatus struct {
	ProcessRecord
	// Silent is how long before the latest write to the run's record the
	// process last wrote its own, by the broker's clock: a running
	// process whose silence passed its lease is shown gone.
	Silent time.Duration `json:"silent_ns"`
	// Heard is when the broker stored the record last (its clock); for a
	// process taken for dead, its last heartbeat (by its own clock).
	Heard time.Time `json:"heard"`
}

// Live reports the state shown for the process: its record's, or gone
// for a running process silent past its lease.
func (p ProcessStatus) Live() string {
	lease := p.Lease
	if lease <= 0 {
		lease = leaseFor
	}
	if p.State == stateRunning && p.Silent > lease {
		return stateGone
	}
	return p.State
}

// ReadRun reads the run's records on the brokers kvs (one bucket per
// broker the pipeline's queues use); a process recorded on several
// counts once.
func ReadRun(ctx context.Context, kvs []jetstream.KeyValue) (RunStatus, error) {
	var st RunStatus
	seen := map[string]bool{}
	for _, kv := range kvs {
		gen, err := readGen(ctx, kv)
		if err != nil {
			return st, fmt.Errorf("bucket %s: %v", kv.Bucket(), err)
		}
		if gen == "" {
			continue
		}
		st.Generation = gen
		recs, when, err := ReadRecords(ctx, kv, gen)
		if err != nil {
			return st, fmt.Errorf("bucket %s: %v", kv.Bucket(), err)
		}
		now := brokerNow(ctx, kv, when)
		for i, r := range recs {
			if !seen[r.ID] {
				seen[r.ID] = true
				heard := when[i]
				if r.State == stateGone {
					// Rewritten by the process that took it for dead:
					// its own last heartbeat, by its own clock, is the
					// last word from it.
					heard = r.Beat
				}
				st.Processes = append(st.Processes, ProcessStatus{ProcessRecord: r, Silent: now.Sub(heard), Heard: heard})
			}
		}
	}
	slices.SortFunc(st.Processes, func(a, b ProcessStatus) int { return a.Started.Compare(b.Started) })
	st.sum()
	return st, nil
}

// brokerNow is the latest time the broker stored anything in the bucket:
// while any process runs, at most a heartbeat ago. Silences are measured
// from it rather than from this host's clock, which may differ.
func brokerNow(ctx context.Context, kv jetstream.KeyValue, when []time.Time) time.Time {
	var now time.Time
	for _, w := range when {
		if w.After(now) {
			now = w
		}
	}
	if s, err := kv.Status(ctx); err == nil {
		if b, ok := s.(*jetstream.KeyValueBucketStatus); ok && b.StreamInfo().State.LastTime.After(now) {
			now = b.StreamInfo().State.LastTime
		}
	}
	return now
}

// sum adds up the processes' parts and says whether and how the run ended.
func (st *RunStatus) sum() {
	st.Ledger = observe.Whole{}
	running, interrupted, deadlocked, failed := 0, false, false, false
	for _, p := range st.Processes {
		live := p.Live()
		st.Ledger.Count(live == stateRunning, live == stateGone)
		st.Ledger.Add(p.Part)
		switch live {
		case stateRunning:
			running++
		case "interrupted":
			interrupted = true
		case "deadlocked":
			deadlocked = true
		case "finished", stateResumed, stateCut:
			// A process cut short by a lost writer does not fail the
			// run by itself: the lost writer does while it is gone,
			// and no more once it was resumed (resume.go).
		default: // failed, gone
			failed = true
		}
	}
	st.Ended = len(st.Processes) > 0 && running == 0
	switch {
	case interrupted:
		st.Code = 130
	case deadlocked:
		st.Code = 3
	case failed:
		st.Code = 1
	}
}

// Run reads the current run of pipeline from the brokers of its NATS
// queues, connecting once per url and waiting at most timeout for each
// connection; ctx bounds every question.
func Run(ctx context.Context, pipeline string, queues []*stages.Queue, timeout time.Duration) (RunStatus, error) {
	var kvs []jetstream.KeyValue
	done := map[string]bool{}
	for _, q := range queues {
		if done[q.URL] {
			continue
		}
		done[q.URL] = true
		nc, err := dial(q.URL, q.Auth, nats.Name("pcrun status"), nats.Timeout(timeout), nats.MaxReconnects(0))
		if err != nil {
			return RunStatus{}, fmt.Errorf("cannot connect to %s: %v", stages.Redacted(q.URL), err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return RunStatus{}, err
		}
		kv, err := js.KeyValue(ctx, bucketName(pipeline))
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			continue
		}
		if err != nil {
			return RunStatus{}, fmt.Errorf("%s: key-value bucket %s: %v", stages.Redacted(q.URL), bucketName(pipeline), err)
		}
		kvs = append(kvs, kv)
	}
	return ReadRun(ctx, kvs)
}
