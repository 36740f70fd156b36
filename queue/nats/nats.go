package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/internal/wait"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// A NATS queue is a JetStream stream with work-queue retention (an item is
// removed once acknowledged), a MaxMsgs limit with DiscardNew (a publish
// into a full stream fails, and Put retries it: backpressure), and one
// durable pull consumer that every reader of the queue, in every process,
// fetches from. Items travel as JSON (wire.go) with a Nats-Msg-Id header
// that begins with the generation of the run that put them,
// so a publish retried after a lost answer is stored once. A producer's
// items and a consumer's emits are published asynchronously, a window of
// them awaiting the broker's confirmation at once (window.go, emit.go).
//
// Delivery is at least once: an item is acknowledged after the consumer's
// steps finished; one whose reader died, or held it past ack_wait without
// word, is delivered again (counted in QueueStats.Redelivered). While an
// item is held, a keeper tells the broker every ack_wait/2 that work is in
// progress. An item delivered more than max_deliver times fails (see
// overDelivered) and is removed: the broker itself never gives up on an
// item (the consumer's MaxDeliver is unlimited), so nothing is ever left
// silently in the stream.
//
// Writers and readers may live in different processes (Options.Only),
// and one stage may run in several. They coordinate through a roster per
// queue in the pipeline's key-value bucket on the broker: see
// roster.go for the keys and the rule by which a queue ends.
//
// A run that owns its queues (Options.Shared false: every stage runs in
// this process) and a run with Options.Fresh purge the pipeline's streams
// and keys when they start and begin a new generation; at its end a run
// that owns its queues takes the items left over (abandoned, and spilled)
// like a memory run. A shared run leaves them for the other processes.

const (
	natsConsumer   = "pcrun"        // the durable consumer of every queue stream
	markerHeader   = "Pcrun-Marker" // set on sentinel end markers
	errMaxMsgs     = 10077          // JetStream: maximum messages exceeded (the stream is full)
	maxPutWait     = 50 * time.Millisecond
	retryFirst     = 50 * time.Millisecond // the first wait after a failed publish
	retryMax       = 2 * time.Second       // the longest
	publishTimeout = 10 * time.Second
	maxBatch       = 256
)

// natsPoll is how long an empty fetch waits for a message before the
// reader side checks whether the queue has ended; also how often Join
// polls. A var so tests may shorten it.
var natsPoll = 100 * time.Millisecond

// natsWire is an item on the wire.
type natsWire struct {
	ID     uint64          `json:"id"`
	Origin string          `json:"origin"` // the stage that produced it
	Value  json.RawMessage `json:"value"`
}

// delivery is one delivery of a message to this process, held until Ack
// (or handed back).
type delivery struct {
	msg        jetstream.Msg
	seq        uint64      // the message's stream sequence (0: unknown); the same in every delivery of it
	deliveries uint64      // NumDelivered: 1 on the first delivery
	expired    bool        // delivered more than max_deliver times
	dups       []*delivery // later deliveries of the message while this one is held (dedupe.go)

	q     *natsQueue    // for a consumer's item: its queue, the worker holding it (emit.go) and since when
	by    *queue.Worker //
	at    time.Time     //
	emu   sync.Mutex
	emits *emits // its emits not yet stored (emit.go)
}

// natsBroker is a connection to one broker, shared by the queues on it.
type natsBroker struct {
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue // PCRUN_<pipeline>
	log *slog.Logger       // the run's: retried failures (retry.go)
	brokerState
}

// natsQueue is a Queue on NATS JetStream.
type natsQueue struct {
	spec     *stages.Queue
	b        *natsBroker
	stream   jetstream.Stream
	cons     jetstream.Consumer
	runID    string
	env      *queue.Env
	shared   bool   // other processes share the queue (queue.Env.Shared)
	capacity int    // 0: unbounded
	key      string // the queue's name as a key token
	proc     string // this process in rosters

	wmu        sync.Mutex
	writers    map[string]int // writer stage -> its replicas in this run
	localLeft  map[string]int // writer stage -> replicas of this run still writing
	readers    map[string]int // reader stage -> its replicas in this run
	registered bool           // in the roster of the broker's generation
	ended      atomic.Bool    // every writer of the queue, in every process, has finished
	unmarked   atomic.Bool    // registered after the end: no end marker is ours (roster.go)

	startReaders sync.Once
	deliveries   chan *delivery // the pump fills it; Get takes from it; closed when the queue is closed and drained
	stop         chan struct{}  // closed by shutdown: the pump and keeper return
	wg           sync.WaitGroup
	hmu          sync.Mutex
	held         map[*delivery]struct{} // fetched, not yet acknowledged or handed back
	bySeq        map[uint64]*delivery   // the held delivery handed out for each message (dedupe.go)
	done         finished               // the messages finished here lately (dedupe.go)
	orphans      []*delivery            // fetched while stopping; Drain takes them

	handling atomic.Int64 // how long a reader here holds an item, in ns: a moving average (pump.go)

	pubOnce sync.Once
	pubs    atomic.Pointer[pubWindow] // a producer's publishes awaiting their acknowledgement (window.go)
	pubErr  error

	put, taken, markers, redelivered, acked, abandoned atomic.Int64
	maxDepth                                           atomic.Int64
	markerSeq                                          atomic.Uint64
}

func bucketName(pipeline string) string { return "PCRUN_" + kvToken(pipeline) }

// kvToken makes a name fit one token of a key or bucket name. A name
// that fits already (every stage and queue name does) is returned as it
// is: message ids are made of them for every item.
func kvToken(s string) string {
	if IsToken(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !tokenByte(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

// IsToken reports whether s can be one token of a key, a bucket or a
// stream name as it is: letters, digits, _ and -.
func IsToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (q *natsQueue) Name() string { return q.spec.Name }

// Put publishes the item, retrying with backoff while the stream is full.
func (q *natsQueue) Put(ctx context.Context, it queue.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.b.touched.Store(true)
	msg, id, err := q.message(ctx, it)
	if err != nil {
		return err
	}
	if async, p := asyncPut(ctx, it); async {
		err = q.publishAsync(ctx, it, msg, id, p)
	} else {
		err = q.publish(ctx, msg, id)
	}
	if err != nil {
		return err
	}
	if it.Marker {
		q.markers.Add(1)
	} else {
		q.put.Add(1)
	}
	depth := q.put.Load() + q.markers.Load() - q.acked.Load() - q.unsent() // as this process sees it
	for {
		m := q.maxDepth.Load()
		if depth <= m || q.maxDepth.CompareAndSwap(m, depth) {
			break
		}
	}
	if q.env.Observe != nil && !it.Marker {
		q.env.Event(queue.PutEvent(ctx, q.spec.Name, it, -1))
	}
	return nil
}

// message is the item as it travels, and its Nats-Msg-Id.
func (q *natsQueue) message(ctx context.Context, it queue.Item) (msg *nats.Msg, id string, err error) {
	// The message id begins with the generation: a reader tells a
	// message of another generation by it (ours).
	gen := q.b.generation() + "."
	msg = nats.NewMsg(q.spec.Subject)
	if it.Marker {
		msg.Header.Set(markerHeader, "1")
		return msg, gen + q.runID + ".m." + strconv.FormatUint(q.markerSeq.Add(1), 10), nil
	}
	v, err := valueJSON(it.Value) // wire.go
	if err != nil {
		return nil, "", fmt.Errorf("queue %s: the item cannot travel as JSON: %v", q.spec.Name, err)
	}
	msg.Data = appendWire(make([]byte, 0, len(v)+48), it.ID, q.env.Stages[it.Origin], v)
	if id := q.producerMsgID(ctx); id != "" { // resume.go
		return msg, gen + id, nil
	}
	return msg, gen + q.runID + "." + strconv.FormatUint(it.ID, 10), nil
}

// Get takes the next delivery. The first Get starts the pump (which
// fetches for every reader of the queue in this process) and the keeper
// (InProgress for held items): a process without readers never fetches.
// The time it waits is the worker's idle time. An item delivered more
// than max_deliver times comes with an *queue.ExpiredError.
func (q *natsQueue) Get(ctx context.Context) (queue.Item, error) {
	since := time.Now()
	it, err := q.get(ctx)
	if w := queue.WorkerFrom(ctx); w != nil {
		d := time.Since(since)
		w.Waited(queue.OpGet, d)
		if q.env.Observe != nil {
			q.env.Event(w.WaitEvent(queue.OpGet, q.spec.Name, d))
			if err == nil {
				q.env.Event(queue.TakeEvent(ctx, q.spec.Name, it, -1))
			}
		}
	}
	if d, ok := it.Receipt.(*delivery); err == nil && ok && d.expired && !it.Marker {
		return it, &queue.ExpiredError{Item: it, Deliveries: d.deliveries, Max: q.spec.MaxDeliver}
	} else if ok && err == nil && !it.Marker {
		q.took(ctx, d)
	}
	return it, err
}

func (q *natsQueue) get(ctx context.Context) (queue.Item, error) {
	if err := ctx.Err(); err != nil {
		return queue.Item{}, err
	}
	q.startReaders.Do(q.startPump)
	for {
		select {
		case d, ok := <-q.deliveries:
			if !ok {
				return queue.Item{}, queue.ErrClosed
			}
			it := q.item(d)
			if it.Marker && q.unmarked.Load() {
				q.settle(d, false)
				d.msg.Nak() // counted for a reader registered before the end: give it back
				return it, nil
			}
			if it.Marker {
				q.settle(d, true)
				q.acked.Add(1) // before the broker knows: see Ack
				d.msg.Ack()    // a marker is consumed when taken
				return it, nil
			}
			q.taken.Add(1)
			return it, nil
		case <-ctx.Done():
			return queue.Item{}, ctx.Err()
		}
	}
}

// item decodes a delivery. A message that is not pcrun's JSON (published
// by something else) is an item whose value is its text.
func (q *natsQueue) item(d *delivery) queue.Item {
	m := d.msg
	if m.Headers().Get(markerHeader) != "" {
		return queue.Item{Marker: true, Receipt: d}
	}
	it := queue.Item{Receipt: d, Origin: int32(q.env.Row(""))}
	id, origin, value, ok := readWire(m.Data()) // wire.go
	if !ok {
		var w natsWire
		if err := json.Unmarshal(m.Data(), &w); err != nil || w.Value == nil {
			it.Value = string(m.Data())
			return it
		}
		id, origin, value = w.ID, w.Origin, w.Value
	}
	it.ID, it.Origin = id, int32(q.env.Row(origin))
	if s, ok := plainString(value); ok {
		it.Value = s
		return it
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber() // 3 stays the int 3
	var v any
	if err := dec.Decode(&v); err != nil {
		it.ID, it.Origin, it.Value = 0, int32(q.env.Row("")), string(m.Data())
		return it
	}
	it.Value = stages.FromJSON(v)
	return it
}

// Ack acknowledges a finished item: the broker removes it.
func (q *natsQueue) Ack(it queue.Item) {
	d, ok := it.Receipt.(*delivery)
	if !ok || d.deferAck() { // its emits are not stored yet: the last one acknowledges it
		return
	}
	q.ackNow(d)
}

// Shared reports whether other processes share the queue: then an item
// put is handed off, and one taken and not finished is handed back.
func (q *natsQueue) Shared() bool { return q.shared }

// HandBack returns an item this process will not finish to the broker,
// which delivers it again at once (to another reader, maybe elsewhere).
func (q *natsQueue) HandBack(it queue.Item) {
	if d, ok := it.Receipt.(*delivery); ok {
		d.handedBack()
		q.settle(d, false)
		d.msg.Nak()
	}
}

func (q *natsQueue) hold(d *delivery) {
	q.hmu.Lock()
	q.held[d] = struct{}{}
	q.hmu.Unlock()
}

// Join waits until the stream holds no item: every item put, here or
// elsewhere, has been acknowledged.
func (q *natsQueue) Join(ctx context.Context) error {
	if err := q.flush(ctx); err != nil {
		return err
	}
	for {
		if idle, err := q.empty(ctx); err == nil && idle {
			return nil
		}
		if err := wait.For(ctx, natsPoll); err != nil {
			return err
		}
	}
}

func (q *natsQueue) empty(ctx context.Context) (bool, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return false, err
	}
	return info.State.Msgs == 0, nil
}

// Close records that every writer has finished (the run calls it only
// then); the pump closes the local deliveries once the broker has nothing
// left for the queue.
func (q *natsQueue) Close() { q.ended.Store(true) }

// Drain stops the pump and the keeper, and returns the items fetched but
// never taken. A run that owns the queue also takes every item still in the
// stream (removing them); a shared run hands what it fetched back to the
// broker and returns nothing: the items stay for other processes.
func (q *natsQueue) Drain() []queue.Item {
	q.shutdown()
	lost := q.unconfirmed() // put here, never stored: abandoned here, shared or not
	var ds []*delivery
	for q.deliveries != nil && len(q.deliveries) > 0 { // the pump has returned: nothing adds to it
		ds = append(ds, <-q.deliveries)
	}
	q.hmu.Lock()
	ds = append(ds, q.orphans...)
	q.orphans = nil
	q.hmu.Unlock()
	if q.shared {
		for _, d := range ds {
			q.settle(d, false)
			d.msg.Nak()
		}
		q.abandoned.Add(int64(len(lost)))
		return lost
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		batch, err := q.cons.FetchNoWait(256)
		if err != nil {
			break
		}
		n := 0
		for m := range batch.Messages() {
			if d := q.delivery(m); q.admit(d) {
				ds = append(ds, d)
			}
			n++
		}
		if n == 0 {
			break
		}
	}
	out := lost
	for _, d := range ds {
		it := q.item(d)
		q.settle(d, true)
		q.acked.Add(1) // before the broker knows: see Ack
		d.msg.Ack()
		if !it.Marker {
			out = append(out, it)
		}
	}
	q.abandoned.Add(int64(len(out)))
	return out
}

// Stats returns this process's counters; Depth is what the stream holds.
func (q *natsQueue) Stats() observe.QueueStats {
	s := observe.QueueStats{Name: q.spec.Name, Capacity: q.capacity, Put: q.put.Load(), Taken: q.taken.Load(),
		MaxDepth: int(q.maxDepth.Load()), Markers: q.markers.Load(), Abandoned: q.abandoned.Load(),
		Redelivered: q.redelivered.Load()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if info, err := q.stream.Info(ctx); err == nil {
		s.Depth = int(info.State.Msgs)
	}
	return s
}

// delivery wraps a fetched message and counts redeliveries.
func (q *natsQueue) delivery(m jetstream.Msg) *delivery {
	d := &delivery{msg: m, deliveries: 1}
	if md, err := m.Metadata(); err == nil {
		d.deliveries, d.seq = md.NumDelivered, md.Sequence.Stream
	}
	if d.deliveries > 1 && m.Headers().Get(markerHeader) == "" { // a marker handed back is no item
		q.redelivered.Add(1)
	}
	d.expired = d.deliveries > uint64(q.spec.MaxDeliver)
	q.hold(d)
	return d
}

// WriterDone records that a writer replica of stage in this process has
// finished. After the stage's last replica here, the roster says so; if
// that ended the queue (roster.go), this process is the one to end it
// as the strategy says: ended is true, with the number of end markers to
// put under sentinel.
//
// A queue with no writer in this process (stage "") is ended by the
// roster, not here.
func (q *natsQueue) WriterDone(ctx context.Context, stage string) error {
	if stage == "" {
		return nil
	}
	q.wmu.Lock()
	q.localLeft[stage]--
	stageDone := q.localLeft[stage] == 0
	q.wmu.Unlock()
	if !stageDone {
		return nil
	}
	q.flushNow(ctx) // every pending publish confirmed (window.go), then the record (procs.go), then the end
	if q.b.beforeEnd != nil {
		q.b.beforeEnd(ctx)
	}
	ended, markers, err := q.finishStageNow(ctx, stage)
	switch {
	case errors.Is(err, errReset):
		return err
	case err != nil:
		return fmt.Errorf("queue %s: recording on the broker that %s finished writing: %w", q.spec.Name, stage, err)
	case ended:
		queue.End(ctx, q, q.env.Strategy, markers, q.env.Log)
	}
	return nil
}

// finishStageNow is finishStage on a context of its own: even after a
// second signal, the other processes wait for this.
func (q *natsQueue) finishStageNow(ctx context.Context, stage string) (ended bool, markers int, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rosterTimeout)
	defer cancel()
	return q.finishStage(ctx, stage)
}

// producersDone reports whether every producer stage writing to the queue
// has registered and finished, in whichever processes it ran (join).
func (q *natsQueue) producersDone(ctx context.Context, producers map[string]bool) bool {
	r, err := q.roster(ctx)
	if err != nil || r == nil || q.awaitsResume(r) {
		return false
	}
	for _, s := range q.spec.Writers {
		if producers[s] && !r.StageEnded(s) {
			return false
		}
	}
	return true
}
