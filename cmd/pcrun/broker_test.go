package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/internal/exitcode"
)

var brokerReadyRE = regexp.MustCompile(`^pcrun: broker ready at (nats://\S+); store (.+)$`)

// startBroker starts `pcrun broker` with args as a subprocess and returns
// it with its client URL and the store it reported.
func startBroker(t *testing.T, args ...string) (p *proc, url, store string) {
	t.Helper()
	p = startPcrun(t, append([]string{"broker"}, args...)...)
	p.waitFor(t, p.stderr, "broker ready", 1, brokerReadyRE.MatchString, 20*time.Second)
	p.stderr.mu.Lock()
	defer p.stderr.mu.Unlock()
	for _, l := range p.stderr.all {
		if m := brokerReadyRE.FindStringSubmatch(l); m != nil {
			return p, m[1], m[2]
		}
	}
	t.Fatal("unreachable: no ready line")
	return
}

// TestBrokerServesJetStream: `pcrun broker --port 0` picks a free port,
// says where, serves a JetStream work queue, and exits 0 on SIGINT (or
// SIGTERM) after a clean shutdown; the store directory keeps the stream.
func TestBrokerServesJetStream(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "store") // created by the broker
			p, url, store := startBroker(t, "--port", "0", "--store-dir", dir)
			if store != dir {
				t.Errorf("ready line names store %q, want %q", store, dir)
			}
			if strings.HasSuffix(url, ":0") || strings.HasSuffix(url, ":4222") {
				t.Errorf("--port 0 should pick a free port, got %s", url)
			}
			if !strings.HasPrefix(url, "nats://127.0.0.1:") {
				t.Errorf("the broker should listen on loopback by default, got %s", url)
			}
			roundTrip(t, url)
			p.signal(t, sig)
			p.wait(t, 10*time.Second)
			if p.code != exitcode.OK {
				t.Fatalf("exit %d after %v, want 0", p.code, sig)
			}
			if !strings.Contains(p.stderr.text(), "pcrun: broker stopped") {
				t.Errorf("stderr does not say the broker stopped")
			}
			if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
				t.Errorf("the store directory holds no JetStream data: %v", err)
			}
		})
	}
}

// roundTrip creates a work-queue stream and a pull consumer, publishes one
// message and takes it back.
func roundTrip(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "PCRUN_broker_test", Subjects: []string{"pcrun.broker_test.q"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "PCRUN_broker_test", jetstream.ConsumerConfig{
		Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	if _, err := js.Publish(ctx, "pcrun.broker_test.q", []byte("watermelon 0")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var got []string
	for msg := range batch.Messages() {
		got = append(got, string(msg.Data()))
		if err := msg.DoubleAck(ctx); err != nil {
			t.Errorf("ack: %v", err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(got) != 1 || got[0] != "watermelon 0" {
		t.Fatalf("took %q, want [\"watermelon 0\"]", got)
	}
}

// TestBrokerMemoryLeavesNothing: with --memory the store is a temporary
// directory that is gone after exit.
func TestBrokerMemoryLeavesNothing(t *testing.T) {
	t.Parallel()
	p, url, store := startBroker(t, "--port", "0", "--memory")
	dir, ok := strings.CutSuffix(store, " (temporary, removed at exit)")
	if !ok {
		t.Fatalf("ready line names store %q, want a temporary directory", store)
	}
	roundTrip(t, url)
	p.signal(t, os.Interrupt)
	p.wait(t, 10*time.Second)
	if p.code != exitcode.OK {
		t.Fatalf("exit %d, want 0", p.code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the temporary store %s is still there after exit (stat: %v)", dir, err)
	}
}

// TestBrokerPortInUse: a port already taken is a clear error, exit 2,
// and the process does not linger.
func TestBrokerPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	p := startPcrun(t, "broker", "--port", port, "--memory")
	p.wait(t, 20*time.Second)
	if p.code != exitcode.Usage {
		t.Fatalf("exit %d, want %d", p.code, exitcode.Usage)
	}
	stderr := p.stderr.text()
	for _, want := range []string{"address already in use", "127.0.0.1:" + port, "--port 0"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
}

// TestBrokerUsageErrors are rejected before any server starts.
func TestBrokerUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"broker", "--port", "70000"}, "not a TCP port"},
		{[]string{"broker", "--port", "-3"}, "not a TCP port"},
		{[]string{"broker", "--memory", "--store-dir", "x"}, "exclude each other"},
		{[]string{"broker", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != exitcode.Usage || !strings.Contains(stderr, tc.want) {
			t.Errorf("pcrun %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}
