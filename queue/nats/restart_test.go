package nats_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// startAt starts a JetStream server on port with its store in dir.
func startAt(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server on port %d not ready after 10s", port)
	}
	return s
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestNatsBrokerRestart: the broker stops mid-run and comes back on the
// same store; publishes that fail meanwhile are retried with their
// message ids, and the run ends with every item consumed once, a warning
// saying what happened, and exit 0.
func TestNatsBrokerRestart(t *testing.T) {
	port, store := freePort(t), t.TempDir()
	s := startAt(t, port, store)
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	const n = 300
	src := `
name: restart
queues: {main: {backend: nats, url: "${url}", capacity: 20, ack_wait: 10s}}
producers:
  - {name: p, count: ` + strconv.Itoa(n) + `, delay: 5ms, item: "${i}"}
consumers:
  - {name: c, replicas: 2, do: [print: "${worker} Ate ${item}"]}
`
	var puts atomic.Int64
	halfway := make(chan struct{})
	count := observe.Funcs{OnPut: func(string, any) {
		if puts.Add(1) == n/3 {
			close(halfway)
		}
	}}
	done := make(chan natsOutcome, 1)
	go func() {
		done <- runNatsCtx(context.Background(), t, src, url, pipeline.Options{Observers: []observe.Observer{count}})
	}()
	select {
	case <-halfway:
	case o := <-done:
		t.Fatalf("the run ended before a third of its items were put: %v\n%s", o.err, o.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("a third of the items were not put within 60s (%d put)", puts.Load())
	}
	s.Shutdown()
	s.WaitForShutdown()
	time.Sleep(300 * time.Millisecond) // the broker stays away a while: publishes fail meanwhile
	s = startAt(t, port, store)
	var o natsOutcome
	select {
	case o = <-done:
	case <-time.After(120 * time.Second):
		t.Fatalf("the run did not end within 120s of the broker's restart (%d put)", puts.Load())
	}
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if got := eaten(o.stdout); !slices.Equal(got, sortedNums(n)) {
		t.Errorf("eaten %d items, want %d, each once: %v", len(got), n, got)
	}
	if l := o.res.Total; l.Produced != n || l.Done != n {
		t.Errorf("ledger %s", l)
	}
	t.Logf("stderr:\n%s", o.stderr)
}

func sortedNums(n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = strconv.Itoa(i)
	}
	sort.Strings(out) // as eaten sorts
	return out
}

// TestNatsRedeliveryCountedOnce: with an ack_wait far shorter than a
// step (and than the keeper's period), the broker delivers items again
// while a reader here holds them; each item still runs its steps once,
// the ledger balances, and the extra deliveries show only as
// redelivered.
func TestNatsRedeliveryCountedOnce(t *testing.T) {
	url := startNats(t)
	const n = 30
	src := `
name: eager
queues: {main: {backend: nats, url: "${url}", capacity: 10, ack_wait: 5ms, max_deliver: 1000}}
producers:
  - {name: p, count: ` + strconv.Itoa(n) + `, item: "${i}"}
consumers:
  - {name: c, replicas: 3, do: [sleep: 60ms, print: "${worker} Ate ${item}"]}
`
	o := runNats(t, src, url, pipeline.Options{})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if got := eaten(o.stdout); !slices.Equal(got, sortedNums(n)) {
		t.Errorf("eaten %d items, want %d, each once: %v", len(got), n, got)
	}
	q := o.res.Queues[0]
	if l := o.res.Total; l.Produced != n || l.Done != n || q.Taken != n {
		t.Errorf("ledger %s, taken %d; want %d produced, done and taken", l, q.Taken, n)
	}
	if q.Redelivered == 0 {
		t.Errorf("no delivery was repeated: the test does not test what it says (ack_wait 5ms, steps of 60ms)")
	}
	t.Logf("redelivered %d", q.Redelivered)
}

// TestNatsKeepsStreamChoices: a stream and a bucket someone made with
// other storage (or replicas) than pcrun's defaults are used as they are,
// not changed: the run works and they keep their storage.
func TestNatsKeepsStreamChoices(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PCRUN_kept_main", Subjects: []string{"pcrun.kept.main"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "PCRUN_kept", Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	o := runNats(t, `
name: kept
queues: {main: {backend: nats, url: "${url}", capacity: 5}}
producers: [{name: p, count: 20, item: "${i}"}]
consumers: [{name: c, do: [print: "${worker} Ate ${item}"]}]
`, url, pipeline.Options{})
	if o.err != nil {
		t.Fatalf("err = %v\n%s", o.err, o.stderr)
	}
	if len(eaten(o.stdout)) != 20 {
		t.Errorf("eaten %v", eaten(o.stdout))
	}
	s, err := js.Stream(ctx, "PCRUN_kept_main")
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.Storage != jetstream.MemoryStorage || c.MaxMsgs != 5 {
		t.Errorf("stream storage %v, max msgs %d: want memory storage kept, the capacity applied", c.Storage, c.MaxMsgs)
	}
	kv, err := js.KeyValue(ctx, "PCRUN_kept")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage != jetstream.MemoryStorage {
		t.Errorf("bucket status %v, %v: want memory storage kept", st, err)
	}
}

// TestNatsWithoutJetStream: a broker without JetStream is named as such,
// with what to do.
func TestNatsWithoutJetStream(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready after 10s")
	}
	o := runNats(t, `
name: nojs
queues: {main: {backend: nats, url: "${url}"}}
producers: [{name: p, count: 1, item: x}]
consumers: [{name: c}]
`, s.ClientURL(), pipeline.Options{})
	if o.err == nil || !strings.Contains(o.err.Error(), "JetStream is not enabled on this broker") {
		t.Errorf("err = %v", o.err)
	}
}

// TestNatsDeclaredStorage: `storage: memory` makes the stream in memory;
// a file that then declares other storage, or replicas the stream does
// not have, is refused with the difference named, and the stream is left
// as it is.
func TestNatsDeclaredStorage(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	const src = `
name: declared
queues: {main: {backend: nats, url: "${url}", %s}}
producers: [{name: p, count: 3, item: "${i}"}]
consumers: [{name: c, do: [print: "${worker} Ate ${item}"]}]
`
	o := runNats(t, fmt.Sprintf(src, "storage: memory"), url, pipeline.Options{})
	if o.err != nil || len(eaten(o.stdout)) != 3 {
		t.Fatalf("err = %v, eaten %v\n%s", o.err, eaten(o.stdout), o.stderr)
	}
	s, err := js.Stream(t.Context(), "PCRUN_declared_main")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.CachedInfo().Config.Storage; st != jetstream.MemoryStorage {
		t.Errorf("storage %v, want memory", st)
	}
	for decl, want := range map[string]string{
		"storage: file": "it exists on memory storage, and the file says storage: file; a stream's storage cannot change",
		"replicas: 2":   "it exists with 1 replica(s), and the file says replicas: 2; pcrun does not change a stream's replicas",
	} {
		o := runNats(t, fmt.Sprintf(src, decl), url, pipeline.Options{})
		if o.err == nil || !strings.Contains(o.err.Error(), want) {
			t.Errorf("%s: err = %v, want one saying %q", decl, o.err, want)
		}
	}
	if st := s.CachedInfo().Config.Storage; st != jetstream.MemoryStorage {
		t.Errorf("storage %v after the refused runs, want memory still", st)
	}
}
