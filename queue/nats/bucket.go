package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/queue"
	"github.com/pcrun/pcrun/stages"
)

// The pipeline's key-value bucket on a broker (PCRUN_<pipeline>, the
// rosters of roster.go) must outlive what its queues outlive: a run
// whose streams survive the loss of a server, or a broker restart, stops
// when its bucket does not. So the bucket follows the pipeline's NATS
// queues on that broker:
//
//   - replicas: the largest `replicas` they declare (1 when none does);
//   - storage: memory only when every one of them declares `storage:
//     memory`, file otherwise.
//
// A bucket that exists is used as it is when it is at least that strong:
// more replicas, or file storage where the queues say memory, are kept.
// One that is weaker than a queue declares (fewer replicas, or memory
// storage where a queue says file) is never changed silently: the run
// refuses, naming the difference and what would accept it. Whatever no
// queue declares stays as whoever made the bucket chose.

// bucketWant is what the pipeline's NATS queues on one broker declare
// for its bucket; the zero value declares nothing.
type bucketWant struct {
	replicas      int    // the largest declared; 0: none declared
	replicasQueue string // the queue declaring it
	storage       string // "memory" when every queue declares memory, "file" when one declares file, else ""
	storageQueue  string // a queue declaring file storage
}

// wantBucket reads what the NATS queues of g at url declare.
func wantBucket(g *stages.Graph, url string) bucketWant {
	var w bucketWant
	if g == nil {
		return w
	}
	memory, all := 0, 0
	for _, q := range g.Queues {
		if q.Backend != config.NATS || q.URL != url {
			continue
		}
		all++
		if q.Replicas > w.replicas {
			w.replicas, w.replicasQueue = q.Replicas, q.Name
		}
		switch q.Storage {
		case "memory":
			memory++
		case "file":
			if w.storageQueue == "" {
				w.storageQueue = q.Name
			}
		}
	}
	switch {
	case w.storageQueue != "":
		w.storage = "file"
	case all > 0 && memory == all:
		w.storage = "memory"
	}
	return w
}

// config is the bucket pcrun makes when there is none.
func (w bucketWant) config(name string) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: name, Storage: storageOf(w.storage), Replicas: max(w.replicas, 1)}
}

// check refuses an existing bucket weaker than w declares.
func (w bucketWant) check(ctx context.Context, kv jetstream.KeyValue) error {
	st, err := kv.Status(ctx)
	if err != nil {
		return err
	}
	s, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return nil
	}
	have := s.StreamInfo().Config
	if have.Replicas < w.replicas {
		return fmt.Errorf("it exists with %d replica(s), and queue %s says replicas: %d; pcrun does not change a bucket's replicas: "+
			"change them with the nats CLI (nats stream edit KV_%s --replicas %d), or remove the bucket (nats kv del %s; "+
			"it holds only the rosters of runs) for the run to make it with %d",
			have.Replicas, w.replicasQueue, w.replicas, kv.Bucket(), w.replicas, kv.Bucket(), w.replicas)
	}
	if w.storage == "file" && have.Storage == jetstream.MemoryStorage {
		return fmt.Errorf("it exists on memory storage, and queue %s says storage: file; a bucket's storage cannot change: "+
			"remove the bucket (nats kv del %s; it holds only the rosters of runs) for the run to make it on file storage, "+
			"or say storage: memory for every NATS queue on this broker", w.storageQueue, kv.Bucket())
	}
	return nil
}

// bucket returns the pipeline's key-value bucket, making it as w says
// when there is none, and refusing one weaker than w declares.
func bucket(ctx context.Context, js jetstream.JetStream, name string, w bucketWant) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, w.config(name))
		if !errors.Is(err, jetstream.ErrBucketExists) {
			return kv, err
		}
		kv, err = js.KeyValue(ctx, name) // another process made it meanwhile
	}
	if err != nil {
		return nil, err
	}
	if err := w.check(ctx, kv); err != nil {
		return nil, err
	}
	return kv, nil
}

// openBucket makes sure the pipeline's bucket exists on the broker, as
// the pipeline's NATS queues there say (see above), the first time;
// queue names the queue the run was opening, for messages.
func (b *natsBroker) openBucket(ctx context.Context, env *queue.Env, scope, queue string) error {
	if b.kv != nil {
		return nil
	}
	name, want := bucketName(scope), wantBucket(env.Graph, b.url)
	what := fmt.Sprintf("queue %s: looking up key-value bucket %s on %s", queue, name, b.redacted())
	kv, err := retrying(ctx, env.Log, what, func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := bucket(ctx, b.js, name, want)
		return kv, asyncCause(b.nc, err) // a permissions violation is no election: not retried
	})
	if err != nil {
		return fmt.Errorf("queue %s: the broker at %s: key-value bucket %s: %v%s", queue, b.redacted(), name, err, brokerHint(err))
	}
	b.kv = kv
	return nil
}
