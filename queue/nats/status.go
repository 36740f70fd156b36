package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/stages"
)

// What `pcrun status` reads from the brokers of a pipeline's queues: each
// stream's counters, its consumers', and the queue's roster in the
// current generation (roster.go).

// QueueStatus is one NATS queue's state, as `pcrun status --format json`
// prints it. Counts are those of the stream and of its consumer.
type QueueStatus struct {
	Queue   string `json:"queue"`
	URL     string `json:"url"` // without its password
	Stream  string `json:"stream"`
	Subject string `json:"subject"`
	// Missing: the stream does not exist (no run has created it yet).
	Missing  bool   `json:"missing,omitempty"`
	Messages int64  `json:"messages"` // in the stream: waiting, being worked on, or past their delivery limit
	Capacity int64  `json:"capacity"` // the stream's MaxMsgs; 0: unbounded
	Consumer string `json:"consumer,omitempty"`
	// Pending: not yet delivered to any reader; AckPending: delivered and
	// not finished; Redelivered: delivered more than once and not finished.
	Pending     int64 `json:"pending"`
	AckPending  int64 `json:"ack_pending"`
	Redelivered int64 `json:"redelivered"`
	// Generation is the current run's on the broker ("": no run has
	// registered yet); the rest is from its roster of the queue.
	Generation string `json:"generation,omitempty"`
	// Writers are the stages that put into the queue, with the processes
	// registered to run them and whether each has finished writing (in
	// every process that runs it); Readers the stages registered to take
	// from it. Ended: every writer has, and the queue has ended (close
	// and sentinel end on it); Markers: the end markers put (sentinel).
	Writers []WriterStatus `json:"writers"`
	Readers []ReaderStatus `json:"readers"`
	Ended   bool           `json:"ended"`
	Markers int            `json:"markers,omitempty"`
	// Error says why the queue could not be reported.
	Error string `json:"error,omitempty"`
}

// WriterStatus is one writer stage of a queue: Ended when it has
// registered and every process running it has finished writing.
type WriterStatus struct {
	Stage     string `json:"stage"`
	Ended     bool   `json:"ended"`
	Processes int    `json:"processes"`
	Replicas  int    `json:"replicas"`
}

// ReaderStatus is one reader stage of a queue, as registered.
type ReaderStatus struct {
	Stage     string `json:"stage"`
	Processes int    `json:"processes"`
	Replicas  int    `json:"replicas"`
}

// Statuses asks each queue's broker about it, connecting once per url
// and waiting at most timeout for each connection; ctx bounds every
// question. The queues are those of the pipeline named pipeline with
// `backend: nats`. A queue that could not be reported has its Error set;
// Statuses itself never fails.
func Statuses(ctx context.Context, pipeline string, queues []*stages.Queue, timeout time.Duration) []QueueStatus {
	conns := map[string]*nats.Conn{}
	connErrs := map[string]error{}
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	var out []QueueStatus
	for _, q := range queues {
		qs := QueueStatus{Queue: q.Name, URL: stages.Redacted(q.URL), Stream: q.Stream, Subject: q.Subject}
		nc, ok := conns[q.URL]
		if err := connErrs[q.URL]; !ok && err == nil {
			var err error
			nc, err = dial(q.URL, q.Auth, nats.Name("pcrun status"), nats.Timeout(timeout), nats.MaxReconnects(0))
			if err != nil {
				connErrs[q.URL] = err
			} else {
				conns[q.URL] = nc
			}
		}
		if err := connErrs[q.URL]; err != nil {
			qs.Error = fmt.Sprintf("cannot connect to %s: %v", qs.URL, err)
			out = append(out, qs)
			continue
		}
		if err := queueStatus(ctx, nc, pipeline, q, &qs); err != nil {
			qs.Error = err.Error()
		}
		out = append(out, qs)
	}
	return out
}

// queueStatus fills qs from the stream's info and its consumer's.
func queueStatus(ctx context.Context, nc *nats.Conn, pipeline string, q *stages.Queue, qs *QueueStatus) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, q.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		qs.Missing = true
		return writerStatus(ctx, js, pipeline, q, qs)
	}
	if err != nil {
		return fmt.Errorf("stream %s: %v", q.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %v", q.Stream, err)
	}
	qs.Messages = int64(info.State.Msgs)
	if info.Config.MaxMsgs > 0 {
		qs.Capacity = info.Config.MaxMsgs
	}
	if err := consumerStatus(ctx, stream, qs); err != nil {
		return err
	}
	return writerStatus(ctx, js, pipeline, q, qs)
}

// consumerStatus adds up the counts of the stream's consumers. A
// work-queue stream has one consumer that every reader shares; this
// reports every consumer there is rather than guess its name.
func consumerStatus(ctx context.Context, stream jetstream.Stream, qs *QueueStatus) error {
	names := stream.ConsumerNames(ctx)
	for name := range names.Name() {
		cons, err := stream.Consumer(ctx, name)
		if err != nil {
			return fmt.Errorf("consumer %s: %v", name, err)
		}
		ci := cons.CachedInfo()
		if qs.Consumer != "" {
			qs.Consumer += ","
		}
		qs.Consumer += name
		qs.Pending += int64(ci.NumPending)
		qs.AckPending += int64(ci.NumAckPending)
		qs.Redelivered += int64(ci.NumRedelivered)
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("consumers of %s: %v", qs.Stream, err)
	}
	return nil
}

// writerStatus reads the queue's roster in the current generation of the
// pipeline's run on the broker (ReadRoster). No roster yet: no process
// has registered, so no writer has finished.
func writerStatus(ctx context.Context, js jetstream.JetStream, pipelineName string, q *stages.Queue, qs *QueueStatus) error {
	gen, r, err := ReadRoster(ctx, js, pipelineName, q.Name)
	if err != nil {
		return err
	}
	qs.Generation = gen
	if r == nil {
		r = &Roster{}
	}
	for _, w := range q.Writers {
		procs, replicas := r.Processes(w, true)
		qs.Writers = append(qs.Writers, WriterStatus{Stage: w, Ended: r.StageEnded(w), Processes: procs, Replicas: replicas})
	}
	qs.Readers = []ReaderStatus{}
	for _, s := range q.Readers {
		if procs, replicas := r.Processes(s, false); procs > 0 {
			qs.Readers = append(qs.Readers, ReaderStatus{Stage: s, Processes: procs, Replicas: replicas})
		}
	}
	qs.Ended, qs.Markers = r.Ended, r.Markers
	return nil
}
