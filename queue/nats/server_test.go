package nats_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	natsq "github.com/pcrun/pcrun/queue/nats"
)

// StartServer with port 0 listens on a free port and says which; a second
// server on that port does not start, and says why in a *StartError.
func TestStartServer(t *testing.T) {
	var log strings.Builder
	s, err := natsq.StartServer(natsq.ServerConfig{Host: "127.0.0.1", StoreDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if want := fmt.Sprintf("nats://127.0.0.1:%d", s.Port()); s.URL() != want || s.Port() == 0 {
		t.Errorf("URL %s, port %d; want %s on a free port", s.URL(), s.Port(), want)
	}
	if log.Len() != 0 {
		t.Errorf("notices logged without Verbose:\n%s", log.String())
	}
	_, err = natsq.StartServer(natsq.ServerConfig{Host: "127.0.0.1", Port: s.Port(), StoreDir: t.TempDir()})
	var se *natsq.StartError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "address already in use") {
		t.Errorf("second server on port %d: %v; want a *StartError about the port in use", s.Port(), err)
	}
}

// Statuses reports a stream no run has created as missing, with the
// queue's writers, none of them ended; a broker out of reach as an error
// of each of its queues.
func TestStatuses(t *testing.T) {
	url := startNats(t)
	g := compile(t, strings.ReplaceAll(`
name: shop
queues: {orders: {backend: nats, url: "${url}"}}
producers: [{name: waiter, to: orders, count: 1, item: "x"}]
consumers: [{name: cook, from: orders, do: [{print: "${item}"}]}]
`, "${url}", url))
	st := natsq.Statuses(t.Context(), g.Name, g.Queues, 5*time.Second)
	if len(st) != 1 {
		t.Fatalf("statuses %+v, want one", st)
	}
	q := st[0]
	if q.Error != "" || !q.Missing || q.Queue != "orders" || q.Stream != "PCRUN_shop_orders" || q.URL != url ||
		!slices.Equal(q.Writers, []natsq.WriterStatus{{Stage: "waiter"}}) || len(q.Readers) != 0 || q.Ended {
		t.Errorf("status %+v, want orders missing, waiter not ended", q)
	}
	g.Queues[0].URL = "nats://127.0.0.1:1"
	st = natsq.Statuses(t.Context(), g.Name, g.Queues, 5*time.Second)
	if len(st) != 1 || !strings.HasPrefix(st[0].Error, "cannot connect to nats://127.0.0.1:1: ") {
		t.Errorf("statuses %+v, want a connection error", st)
	}
}
