// Package nats is the NATS JetStream queue backend (`backend: nats`):
// queues that live on a broker, shared by the pcrun processes of one run
// (nats.go), the rosters by which those processes find each other and end
// the queues together (roster.go) in the pipeline's key-value bucket
// (bucket.go: its replicas and storage follow the queues'), the requests
// retried while a cluster elects a leader (retry.go), what `pcrun status`
// reads ([Statuses], status.go) and the embedded server `pcrun broker`
// runs ([StartServer], server.go). Every import of github.com/nats-io in
// pcrun's code is under this directory; natstest starts nats-server
// clusters for tests.
package nats

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

func init() { queue.Register(config.NATS, backend{}) }

type backend struct{}

// set is the NATS queues of one run, over one connection per broker.
type set struct {
	env     *queue.Env
	brokers map[string]*natsBroker // by URL
	queues  []*natsQueue
	scope   string    // the pipeline's name on the brokers, with the run id (scope.go)
	rec     *recorder // this process's record on the brokers (procs.go); nil before Start
	// resumedItems counts the items this process makes again that the
	// process it resumes had counted (resume.go).
	resumedItems int64
	wg           sync.WaitGroup // the heartbeat
}

// Open connects to the brokers of the specs' queues (one connection per
// URL) and makes sure each queue's stream and consumer exist. Start
// registers this process with them.
func (backend) Open(ctx context.Context, env *queue.Env, specs []*queue.Spec) (queue.Set, error) {
	s := &set{env: env, brokers: map[string]*natsBroker{}, scope: scopeName(env.Pipeline, env.RunID)}
	proc := processID()
	for _, sp := range specs {
		nq, err := openNats(ctx, s.brokers, env, s.scope, scopedQueue(sp.Queue, env.RunID))
		if err != nil {
			s.Close()
			return nil, err
		}
		nq.proc = proc
		nq.b.notice = func(line string) { env.Log.Warn(strings.TrimPrefix(line, "pcrun: "), "broker", nq.b.redacted()) }
		maps.Copy(nq.writers, sp.Writers)
		maps.Copy(nq.readers, sp.Readers)
		maps.Copy(nq.localLeft, nq.writers)
		s.queues = append(s.queues, nq)
	}
	return s, nil
}

func (s *set) Queues() []queue.Queue {
	out := make([]queue.Queue, len(s.queues))
	for i, q := range s.queues {
		out[i] = q
	}
	return out
}

// Start resets the pipeline's NATS queues when the run owns them or says
// Fresh, then registers this process's writers and readers in the current
// generation (roster.go).
func (s *set) Start(ctx context.Context) error {
	if !s.env.Shared || s.env.Fresh {
		if err := s.resetAll(ctx); err != nil {
			return err
		}
	}
	for _, q := range s.env.Graph.Queues {
		if b := s.brokers[q.URL]; b != nil && q.Backend == config.NATS {
			b.pipelineQueues = append(b.pipelineQueues, scopedQueue(q, s.env.RunID))
		}
	}
	for _, nq := range s.queues {
		if !nq.b.joined {
			nq.b.joined = true
			if err := s.resumeOn(ctx, nq.b); err != nil {
				return err
			}
			if err := nq.b.join(ctx); err != nil {
				return err
			}
		}
	}
	if len(s.queues) == 0 {
		return nil
	}
	if err := s.startRecording(ctx); err != nil {
		return err
	}
	for _, b := range s.brokers {
		if b.resumed != nil {
			if err := s.markResumed(ctx, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// resetAll purges the streams of every NATS queue of the pipeline, those
// other processes use too, on each of their brokers.
func (s *set) resetAll(ctx context.Context) error {
	var urls []string
	streams := map[string][]string{}
	first := map[string]*stages.Queue{} // a queue on each broker, for messages
	for _, q := range s.env.Graph.Queues {
		if q.Backend != config.NATS {
			continue
		}
		q = scopedQueue(q, s.env.RunID)
		if _, ok := streams[q.URL]; !ok {
			urls = append(urls, q.URL)
			first[q.URL] = q
		}
		streams[q.URL] = append(streams[q.URL], q.Stream)
	}
	for _, url := range urls {
		b, err := connectNats(ctx, s.brokers, s.env, s.scope, first[url])
		if err != nil {
			return err
		}
		if err := b.openBucket(ctx, s.env, s.scope, first[url].Name); err != nil {
			return err
		}
		if !s.env.Shared && !s.env.Fresh {
			if err := s.notRunning(ctx, b); err != nil {
				return err
			}
		}
		if err := b.resetAll(ctx, s.scope, streams[url]); err != nil {
			return fmt.Errorf("--fresh: %v", err)
		}
	}
	return nil
}

// Idle reports whether every NATS queue of the run is idle under join:
// every producer writing to it has finished, in whichever process, and its
// stream holds no item. Queues are checked from upstream to downstream: an
// item moving on is put downstream before it is acknowledged upstream, so
// it cannot slip past the check.
func (s *set) Idle(ctx context.Context) bool {
	producers := map[string]bool{}
	for _, p := range s.env.Graph.Producers {
		producers[p.Name] = true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	byName := map[string]*natsQueue{}
	for _, q := range s.queues {
		byName[q.spec.Name] = q
	}
	for _, name := range s.env.Graph.DownstreamOrder() {
		nq := byName[name]
		if nq == nil {
			continue
		}
		if !nq.producersDone(ctx, producers) {
			return false
		}
		if empty, err := nq.empty(ctx); err != nil || !empty {
			return false
		}
	}
	return true
}

// Close withdraws this process's readers from queues that have not
// ended, stops the queues' goroutines and closes the connections.
func (s *set) Close() {
	s.stopRecording()
	for _, nq := range s.queues {
		nq.shutdown() // first: the pump may register again (checkGen)
		nq.withdraw()
	}
	for _, b := range s.brokers {
		b.nc.Close()
	}
}

var (
	_ queue.Queue    = (*natsQueue)(nil)
	_ queue.Shared   = (*natsQueue)(nil)
	_ queue.Recorder = (*set)(nil)
	_ queue.Failing  = (*set)(nil)
)

// connectNats returns the connection to q's broker, connecting the first
// time. The queues of one URL share the connection: stages refuses a
// file whose queues of one URL connect differently (checkAuth), so the
// first one's Auth is every one's. The pipeline's bucket there is made
// (or checked) after the queues' streams (openBucket): a stream's
// difference from the file is named first.
func connectNats(ctx context.Context, brokers map[string]*natsBroker, env *queue.Env, scope string, q *stages.Queue) (*natsBroker, error) {
	url, queue := q.URL, q.Name
	if b := brokers[url]; b != nil {
		return b, nil
	}
	nc, err := dial(url, q.Auth, nats.Name("pcrun "+scope), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			// What the broker reports outside a request (a permissions
			// violation, a slow consumer): the request that meets it says
			// so with a hint; here it is a debug line, not raw stderr.
			env.Log.Debug(fmt.Sprintf("queue %s: the broker at %s: %v", queue, stages.Redacted(url), err), "err", err.Error())
		}))
	if err != nil {
		return nil, fmt.Errorf("queue %s: cannot connect to the NATS broker at %s: %v", queue, stages.Redacted(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("queue %s: %v", queue, err)
	}
	// Whether the broker has JetStream at all, asked once: later, a
	// request nothing answers (nats.ErrNoResponders) is a cluster
	// electing a leader, retried (retry.go), not a broker without it.
	// Any other failure (no answer in time, a user without the right to
	// ask) is left to the requests that follow.
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	_, err = js.AccountInfo(actx)
	cancel()
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		nc.Close()
		return nil, fmt.Errorf("queue %s: the broker at %s: %v%s", queue, stages.Redacted(url), err, brokerHint(err))
	}
	b := &natsBroker{url: url, nc: nc, js: js, log: env.Log}
	brokers[url] = b
	return b, nil
}

// brokerHint says, for the errors whose cause is known, what to do about
// it: "" for the others (a guess would mislead). No responders is not
// among them: a cluster electing a leader gives it too; connectNats asks
// the broker whether JetStream is there, which it then says.
func brokerHint(err error) string {
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return " (JetStream is not enabled on this broker: start nats-server with -js, or use `pcrun broker`)"
	case errors.Is(err, nats.ErrPermissionViolation):
		return " (the broker's permissions do not let this user use JetStream and the pipeline's bucket)"
	}
	return ""
}

// openNats connects to a queue's broker (reusing brokers by URL) and makes
// sure the stream and its consumer exist. The run registers it (roster.go).
// updateStream brings an existing stream to cfg's limits. What the file
// does not declare stays as whoever made the stream chose (its replicas,
// storage, placement: a stream made with 3 replicas stays replicated);
// what it declares and the stream has otherwise is never changed: the run
// refuses, naming the difference.
func (b *natsBroker) updateStream(ctx context.Context, s jetstream.Stream, cfg jetstream.StreamConfig, q *stages.Queue) (jetstream.Stream, error) {
	have := s.CachedInfo().Config
	if q.Replicas != 0 && have.Replicas != q.Replicas {
		return nil, fmt.Errorf("it exists with %d replica(s), and the file says replicas: %d; pcrun does not change a stream's replicas: "+
			"change them with the nats CLI (nats stream edit %s --replicas %d), or remove `replicas` to use the stream as it is",
			have.Replicas, q.Replicas, cfg.Name, q.Replicas)
	}
	if want := storageOf(q.Storage); q.Storage != "" && have.Storage != want {
		return nil, fmt.Errorf("it exists on %s storage, and the file says storage: %s; a stream's storage cannot change: "+
			"remove `storage` to use the stream as it is, or delete the stream (nats stream rm %s) to make it again",
			storageName(have.Storage), q.Storage, cfg.Name)
	}
	cfg.Replicas, cfg.Storage, cfg.Placement = have.Replicas, have.Storage, have.Placement
	if have.MaxMsgs == cfg.MaxMsgs && have.Retention == cfg.Retention && have.Discard == cfg.Discard &&
		slices.Equal(have.Subjects, cfg.Subjects) {
		return s, nil // as it should be: processes starting together change nothing
	}
	return b.js.UpdateStream(ctx, cfg)
}

// stream returns the queue's stream, made with cfg if there is none, or
// brought to cfg's limits (updateStream).
func (b *natsBroker) stream(ctx context.Context, cfg jetstream.StreamConfig, q *stages.Queue) (jetstream.Stream, error) {
	s, err := b.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = b.js.CreateStream(ctx, cfg)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return s, err
		}
		s, err = b.js.Stream(ctx, cfg.Name) // another process made it meanwhile
	}
	if err != nil {
		return nil, err
	}
	return b.updateStream(ctx, s, cfg, q)
}

// storageOf is the JetStream storage of a queue's `storage` (file when
// it says none).
func storageOf(s string) jetstream.StorageType {
	if s == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func storageName(t jetstream.StorageType) string {
	if t == jetstream.MemoryStorage {
		return "memory"
	}
	return "file"
}

func openNats(ctx context.Context, brokers map[string]*natsBroker, env *queue.Env, scope string, q *stages.Queue) (*natsQueue, error) {
	b, err := connectNats(ctx, brokers, env, scope, q)
	if err != nil {
		return nil, err
	}
	maxMsgs := int64(-1)
	if !q.Unbounded {
		maxMsgs = int64(q.Capacity)
	}
	// Create, and update only when the configuration differs: processes
	// of one run starting together then change nothing on the broker
	// (nats-server 2.15 has a data race between a stream update and a
	// consumer create).
	scfg := jetstream.StreamConfig{
		Name: q.Stream, Subjects: []string{q.Subject},
		Retention: jetstream.WorkQueuePolicy, MaxMsgs: maxMsgs, Discard: jetstream.DiscardNew,
		Storage: storageOf(q.Storage), Replicas: max(q.Replicas, 1),
	}
	where := fmt.Sprintf("queue %s: looking up stream %s on %s", q.Name, q.Stream, stages.Redacted(q.URL))
	stream, err := retrying(ctx, env.Log, where, func(ctx context.Context) (jetstream.Stream, error) {
		s, err := b.stream(ctx, scfg, q)
		return s, asyncCause(b.nc, err) // a permissions violation is no election: not retried
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s: stream %s on %s: %v%s", q.Name, q.Stream, stages.Redacted(q.URL), err, brokerHint(err))
	}
	ccfg := jetstream.ConsumerConfig{
		Durable: natsConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: q.AckWait,
		MaxDeliver: -1, // pcrun counts deliveries itself (overDelivered): the broker never drops an item silently
	}
	where = fmt.Sprintf("queue %s: making the consumer of stream %s on %s", q.Name, q.Stream, stages.Redacted(q.URL))
	cons, err := retrying(ctx, env.Log, where, func(ctx context.Context) (jetstream.Consumer, error) {
		cons, err := stream.CreateConsumer(ctx, ccfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = stream.UpdateConsumer(ctx, ccfg)
		}
		return cons, asyncCause(b.nc, err)
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s: consumer of stream %s: %v%s", q.Name, q.Stream, err, brokerHint(err))
	}
	if err := b.openBucket(ctx, env, scope, q.Name); err != nil {
		return nil, err
	}
	nq := &natsQueue{spec: q, b: b, stream: stream, cons: cons, runID: nuid.Next(), key: kvToken(q.Name), env: env, shared: env.Shared,
		writers: map[string]int{}, localLeft: map[string]int{}, readers: map[string]int{},
		stop: make(chan struct{}), held: map[*delivery]struct{}{}, bySeq: map[uint64]*delivery{}}
	if !q.Unbounded {
		nq.capacity = q.Capacity
	}
	b.queues = append(b.queues, nq)
	return nq, nil
}
