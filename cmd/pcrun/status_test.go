package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	natsq "github.com/pcrun/pcrun/queue/nats"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/internal/cli"
	"github.com/pcrun/pcrun/internal/exitcode"
)

// startNATS starts an embedded NATS server with JetStream on a free
// loopback port, shut down at the end of the test.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// connectJS connects to s; the connection is closed at the end of the test.
func connectJS(t *testing.T, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

const shopYAML = `
name: shop
vars: {url: "nats://127.0.0.1:1"}
queues:
  orders: {backend: nats, url: "${url}", capacity: 5}
  dishes: {backend: nats, url: "${url}"}
  bills: {backend: nats, url: "${url}"}
producers:
  - {name: waiter, to: orders, count: 3, item: "order ${i}"}
  - {name: waiter2, to: orders, count: 3, item: "order ${i}"}
consumers:
  - {name: cook, from: orders, to: dishes, do: [{emit: "${item}"}]}
  - {name: server, from: dishes, to: bills, do: [{emit: "${item}"}]}
  - {name: cashier, from: bills}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// workQueue creates a stream and its consumer as queue/nats/nats.go does.
func workQueue(t *testing.T, ctx context.Context, js jetstream.JetStream, queue string, maxMsgs int64) jetstream.Consumer {
	t.Helper()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "PCRUN_shop_" + queue, Subjects: []string{"pcrun.shop." + queue},
		Retention: jetstream.WorkQueuePolicy, MaxMsgs: maxMsgs, Discard: jetstream.DiscardNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "pcrun", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

func fetch(t *testing.T, cons jetstream.Consumer, n int) []jetstream.Msg {
	t.Helper()
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	if len(out) != n {
		t.Fatalf("fetched %d messages, want %d (%v)", len(out), n, batch.Error())
	}
	return out
}

// TestStatusReportsQueues: status reports each NATS queue's stream and
// consumer counts and which writers have finished, in text and JSON.
func TestStatusReportsQueues(t *testing.T) {
	s := startNATS(t)
	js := connectJS(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// orders: 4 items put; 2 taken and held, one of them delivered twice.
	orders := workQueue(t, ctx, js, "orders", 5)
	for _, v := range []string{"a", "b", "c", "d"} {
		if _, err := js.Publish(ctx, "pcrun.shop.orders", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	held := fetch(t, orders, 2)
	// Nak as a request: the broker answers once it has taken it back, so
	// the next fetch is sure to redeliver it.
	if _, err := js.Conn().Request(held[0].Reply(), []byte("-NAK"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	again := fetch(t, orders, 1)
	if string(again[0].Data()) != string(held[0].Data()) {
		t.Fatalf("refetched %q, want the item handed back, %q", again[0].Data(), held[0].Data())
	}
	// dishes: every writer finished, nothing left.
	workQueue(t, ctx, js, "dishes", -1)
	// The rosters of generation g1 (queue/nats/roster.go): waiter has
	// finished, waiter2 has not registered; cook reads orders in two
	// processes and has finished writing dishes, which has ended.
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "PCRUN_shop"})
	if err != nil {
		t.Fatal(err)
	}
	type entries = map[string]map[string]natsq.RosterEntry
	for k, v := range map[string]any{
		"gen":       "g1",
		"g0.orders": natsq.Roster{Ended: true}, // an earlier generation: not counted
		"g1.orders": natsq.Roster{
			Writers: entries{"a/1/x": {"waiter": {Replicas: 1, Finished: true}}},
			Readers: entries{"b/2/y": {"cook": {Replicas: 2}}, "c/3/z": {"cook": {Replicas: 3}}},
		},
		"g1.dishes": natsq.Roster{Writers: entries{"b/2/y": {"cook": {Replicas: 2, Finished: true}}}, Ended: true},
	} {
		data := []byte("g1")
		if k != "gen" {
			data, _ = json.Marshal(v)
		}
		if _, err := kv.Create(ctx, k, data); err != nil {
			t.Fatal(err)
		}
	}
	// bills: no stream yet.

	file := writeFile(t, "shop.yaml", shopYAML)
	set := "url=" + s.ClientURL()
	code, stdout, stderr := runMain(t, "status", "--set", set, file)
	if code != exitcode.OK {
		t.Fatalf("exit %d, want 0\n%s", code, stderr)
	}
	table, run, _ := strings.Cut(stdout, "\n\n")
	lines := strings.Split(table, "\n")
	if len(lines) != 4 || run != "run: no process has recorded itself yet\n" {
		t.Fatalf("want a header and 3 rows, then the run's record (none):\n%s", stdout)
	}
	for i, want := range [][]string{
		{"queue", "stream", "messages", "capacity", "pending", "ack", "pending", "redelivered", "writers", "ended", "readers", "url"},
		{"orders", "PCRUN_shop_orders", "4", "5", "2", "2", "1", "1/2", "(waiter)", "cook", "5", "in", "2", "processes", s.ClientURL()},
		{"dishes", "PCRUN_shop_dishes", "0", "unbounded", "0", "0", "0", "1/1,", "ended", "-", s.ClientURL()},
		{"bills", "PCRUN_shop_bills", "missing", "(no", "run", "has", "created", "it)", s.ClientURL()},
	} {
		if got := strings.Fields(lines[i]); !slices.Equal(got, want) {
			t.Errorf("line %d: %q, want fields %q", i+1, lines[i], want)
		}
	}

	code, stdout, _ = runMain(t, "status", "--format", "json", "--set", set, file)
	if code != exitcode.OK {
		t.Fatalf("json: exit %d", code)
	}
	var st cli.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	if st.Pipeline != "shop" || len(st.Queues) != 3 {
		t.Fatalf("json: %+v", st)
	}
	o := st.Queues[0]
	if o.Queue != "orders" || o.Messages != 4 || o.Capacity != 5 || o.Pending != 2 || o.AckPending != 2 || o.Redelivered != 1 ||
		o.Consumer != "pcrun" || o.Ended || o.Generation != "g1" ||
		!slices.Equal(o.Writers, []cli.WriterStatus{{Stage: "waiter", Ended: true, Processes: 1, Replicas: 1}, {Stage: "waiter2", Ended: false, Processes: 0, Replicas: 0}}) ||
		!slices.Equal(o.Readers, []cli.ReaderStatus{{Stage: "cook", Processes: 2, Replicas: 5}}) {
		t.Errorf("json orders: %+v", o)
	}
	if d := st.Queues[1]; !d.Ended || !slices.Equal(d.Writers, []cli.WriterStatus{{Stage: "cook", Ended: true, Processes: 1, Replicas: 2}}) {
		t.Errorf("json dishes: %+v", d)
	}
	if b := st.Queues[2]; !b.Missing || b.Error != "" {
		t.Errorf("json bills: %+v", b)
	}
	for _, m := range slices.Concat(held, again) {
		m.Ack()
	}
}

// TestStatusNoBucketYet: with streams but no key-value bucket (no writer
// has finished anywhere), every writer counts as not finished.
func TestStatusNoBucketYet(t *testing.T) {
	s := startNATS(t)
	js := connectJS(t, s)
	for _, q := range []string{"orders", "dishes", "bills"} {
		workQueue(t, t.Context(), js, q, -1)
	}
	code, stdout, _ := runMain(t, "status", "--format", "json", "--set", "url="+s.ClientURL(), writeFile(t, "shop.yaml", shopYAML))
	var st cli.Status
	if err := json.Unmarshal([]byte(stdout), &st); code != exitcode.OK || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	for _, q := range st.Queues {
		if q.Missing || q.Ended || len(q.Writers) == 0 || slices.ContainsFunc(q.Writers, func(w cli.WriterStatus) bool { return w.Ended }) {
			t.Errorf("%+v", q)
		}
	}
}

// TestStatusUnreachable: a broker that cannot be reached is an error for
// each of its queues, exit 1, and credentials never show.
func TestStatusUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	code, stdout, stderr := runMain(t, "status", "--set", "url=nats://bob:s3cret@"+addr, writeFile(t, "shop.yaml", shopYAML))
	if code != exitcode.Failed {
		t.Errorf("exit %d, want %d", code, exitcode.Failed)
	}
	if n := strings.Count(stderr, "cannot connect to nats://bob:xxxxx@"+addr); n != 3 {
		t.Errorf("want one connection error per queue, got %d:\n%s", n, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Errorf("the password shows:\n%s%s", stdout, stderr)
	}
}

// TestStatusWithoutNATSQueues says there is nothing to report, exit 0.
func TestStatusWithoutNATSQueues(t *testing.T) {
	code, stdout, stderr := runMain(t, "status", "testdata/only.yaml")
	if code != exitcode.OK || stdout != "" || !strings.Contains(stderr, "has no queue with `backend: nats`; nothing to report") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runMain(t, "status", "--format", "json", "testdata/only.yaml")
	if code != exitcode.OK || strings.Join(strings.Fields(stdout), "") != `{"pipeline":"only","queues":[]}` {
		t.Errorf("json: exit %d, stdout %q", code, stdout)
	}
}

func TestStatusUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "no pipeline file given"},
		{[]string{"status", "a.yaml", "b.yaml"}, `unexpected argument "b.yaml"`},
		{[]string{"status", "--format", "yaml", "testdata/only.yaml"}, `unknown format "yaml"`},
		{[]string{"status", "--set", "x", "testdata/only.yaml"}, "expected NAME=VALUE"},
		{[]string{"status", "testdata/invalid/unknown_keys.yaml"}, "error(s)"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != exitcode.Usage || !strings.Contains(stderr, tc.want) {
			t.Errorf("pcrun %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

// TestStatusOfARun: after `pcrun run --only` of the producers, status
// finds what the NATS backend left on the broker under the names it uses
// (stream, consumer, key-value bucket and keys): the items waiting for
// the consumer in another process, and both writers finished.
func TestStatusOfARun(t *testing.T) {
	s := startNATS(t)
	file := writeFile(t, "shop.yaml", strings.Replace(shopYAML, "capacity: 5", "capacity: 10", 1))
	set := "url=" + s.ClientURL()
	code, stdout, stderr := runMain(t, "run", "--only", "waiter,waiter2", "--set", set, file)
	if code != exitcode.OK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("run: stdout %q", stdout)
	}
	code, stdout, _ = runMain(t, "status", "--format", "json", "--set", set, file)
	var st cli.Status
	if err := json.Unmarshal([]byte(stdout), &st); code != exitcode.OK || err != nil {
		t.Fatalf("status: exit %d, %v", code, err)
	}
	o := st.Queues[0]
	if o.Queue != "orders" || o.Missing || o.Messages != 6 || o.Pending != 6 || o.AckPending != 0 || o.Consumer != "pcrun" ||
		!o.Ended || !slices.Equal(o.Writers, []cli.WriterStatus{{Stage: "waiter", Ended: true, Processes: 1, Replicas: 1}, {Stage: "waiter2", Ended: true, Processes: 1, Replicas: 1}}) {
		t.Errorf("orders: %+v", o)
	}
}
