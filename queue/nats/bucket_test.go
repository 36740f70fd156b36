package nats_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/queue/nats/natstest"
)

// twoQueues is a pipeline of two NATS queues on one broker, each with
// the settings given (a YAML mapping's inside).
const twoQueues = `
name: %s
queues:
  a: {backend: nats, url: "${url}", %s}
  b: {backend: nats, url: "${url}", %s}
producers: [{name: p, to: a, count: 3, item: "${i}"}]
consumers:
  - {name: t, from: a, to: b, do: [emit: "${item}"]}
  - {name: c, from: b, do: [print: "${worker} Ate ${item}"]}
`

// bucketConfig returns the configuration of the pipeline's bucket.
func bucketConfig(t *testing.T, js jetstream.JetStream, pipeline string) jetstream.StreamConfig {
	t.Helper()
	kv, err := js.KeyValue(t.Context(), "PCRUN_"+pipeline)
	if err != nil {
		t.Fatalf("bucket of %s: %v", pipeline, err)
	}
	st, err := kv.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
}

// TestNatsBucketStorage: the bucket is made on memory storage only when
// every NATS queue of the pipeline on the broker says storage: memory;
// one on memory storage is refused when a queue says storage: file,
// naming the difference.
func TestNatsBucketStorage(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	for _, tc := range []struct {
		name, a, b string
		want       jetstream.StorageType
	}{
		{"allmem", "storage: memory", "storage: memory", jetstream.MemoryStorage},
		{"onefile", "storage: memory", "storage: file", jetstream.FileStorage},
		{"onesays", "storage: memory", "capacity: 5", jetstream.FileStorage},
	} {
		o := runNats(t, fmt.Sprintf(twoQueues, tc.name, tc.a, tc.b), url, pipeline.Options{})
		if o.err != nil || len(eaten(o.stdout)) != 3 {
			t.Fatalf("%s: err = %v, eaten %v\n%s", tc.name, o.err, eaten(o.stdout), o.stderr)
		}
		if got := bucketConfig(t, js, tc.name).Storage; got != tc.want {
			t.Errorf("%s (%s; %s): bucket on %v storage, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
	}
	// The bucket of allmem is on memory: a queue saying file is refused.
	src := strings.NewReplacer("b:", "b2:", " b,", " b2,").Replace(fmt.Sprintf(twoQueues, "allmem", "storage: memory", "storage: file"))
	o := runNats(t, src, url, pipeline.Options{})
	const want = "key-value bucket PCRUN_allmem: it exists on memory storage, and queue b2 says storage: file; " +
		"a bucket's storage cannot change: remove the bucket (nats kv del PCRUN_allmem"
	if o.err == nil || !strings.Contains(o.err.Error(), want) {
		t.Errorf("err = %v, want one saying %q", o.err, want)
	}
	if got := bucketConfig(t, js, "allmem").Storage; got != jetstream.MemoryStorage {
		t.Errorf("the refused run changed the bucket to %v storage", got)
	}
}

// TestNatsClusterBucketReplicas: on a three-node cluster, the bucket is
// made with the largest replicas of the pipeline's queues; one that
// exists with fewer is refused, naming the difference, and one with more
// is used as it is.
func TestNatsClusterBucketReplicas(t *testing.T) {
	c := natstest.Start(t, 3)
	url := c.URL()
	js := jsClient(t, url)
	o := runNats(t, fmt.Sprintf(twoQueues, "made", "replicas: 3", "replicas: 1"), url, pipeline.Options{})
	if o.err != nil || len(eaten(o.stdout)) != 3 {
		t.Fatalf("err = %v, eaten %v\n%s", o.err, eaten(o.stdout), o.stderr)
	}
	if got := bucketConfig(t, js, "made").Replicas; got != 3 {
		t.Errorf("bucket with %d replicas, want 3 (the largest of the queues')", got)
	}
	for name, replicas := range map[string]int{"fewer": 1, "more": 3} {
		if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "PCRUN_" + name, Replicas: replicas}); err != nil {
			t.Fatal(err)
		}
	}
	o = runNats(t, fmt.Sprintf(twoQueues, "fewer", "replicas: 2", "replicas: 3"), url, pipeline.Options{})
	const want = "key-value bucket PCRUN_fewer: it exists with 1 replica(s), and queue b says replicas: 3; " +
		"pcrun does not change a bucket's replicas: change them with the nats CLI (nats stream edit KV_PCRUN_fewer --replicas 3)"
	if o.err == nil || !strings.Contains(o.err.Error(), want) {
		t.Errorf("err = %v, want one saying %q", o.err, want)
	}
	if got := bucketConfig(t, js, "fewer").Replicas; got != 1 {
		t.Errorf("the refused run changed the bucket to %d replicas", got)
	}
	o = runNats(t, fmt.Sprintf(twoQueues, "more", "replicas: 1", "capacity: 5"), url, pipeline.Options{})
	if o.err != nil || len(eaten(o.stdout)) != 3 {
		t.Fatalf("err = %v, eaten %v\n%s", o.err, eaten(o.stdout), o.stderr)
	}
	if got := bucketConfig(t, js, "more").Replicas; got != 3 {
		t.Errorf("bucket with %d replicas after the run, want its 3 kept", got)
	}
}
