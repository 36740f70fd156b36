// Command natsraw is the plain nats.go reference for bench/w1-nats.yaml and
// bench/w3-nats.yaml: the fastest obvious JetStream program for the same
// job, with no pcrun code. Each queue is a work-queue stream of MaxMsgs
// 1000 with DiscardNew and one durable pull consumer. The producer
// publishes "watermelon <i>" asynchronously, each with a message id, at
// most -window publishes awaiting their acknowledgement; a publish the
// stream refused (full, or any other error) is published again with the
// same id. Readers fetch in batches and acknowledge each item.
//
//	natsraw [-w w1|w3] [-url URL] [-batch B] [-window W] N
//
// W1: one producer, four consumers checking len(item) > 0. W3: a producer,
// two transformers fetching from the first stream and publishing
// "cooked <item>" into the second (acknowledging the item taken once the
// new one is stored), and two consumers. It exits 0 when every item has
// been consumed once the first time it is delivered (duplicates, which
// at-least-once allows, are counted apart and reported).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	workload = flag.String("w", "w1", "workload: w1 or w3")
	url      = flag.String("url", nats.DefaultURL, "the broker's `URL`")
	batch    = flag.Int("batch", 256, "messages per fetch")
	window   = flag.Int("window", 128, "publishes awaiting their acknowledgement at most")
)

func main() {
	flag.Parse()
	n, err := strconv.Atoi(flag.Arg(0))
	if err != nil || flag.NArg() != 1 || (*workload != "w1" && *workload != "w3") {
		fmt.Fprintln(os.Stderr, "usage: natsraw [-w w1|w3] [-url URL] [-batch B] [-window W] N")
		os.Exit(2)
	}
	if err := run(n); err != nil {
		fmt.Fprintln(os.Stderr, "natsraw:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	nc, err := nats.Connect(*url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(*window))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	raw, err := workQueue(ctx, js, "NATSRAW_raw")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var eaten, dups atomic.Int64
	seen := make([]atomic.Bool, n)
	eat := func(m jetstream.Msg) {
		if len(m.Data()) > 0 {
			i, err := strconv.Atoi(string(m.Data()[bytesAfterSpace(m.Data()):]))
			if err == nil && i < n && !seen[i].Swap(true) {
				eaten.Add(1)
			} else {
				dups.Add(1)
			}
		}
		m.Ack()
	}
	done := make(chan struct{})
	var once sync.Once
	count := func(m jetstream.Msg) {
		eat(m)
		if eaten.Load() == int64(n) {
			once.Do(func() { close(done) })
		}
	}
	if *workload == "w1" {
		for range 4 {
			wg.Go(func() { read(ctx, raw, done, count) })
		}
	} else {
		cooked, err := workQueue(ctx, js, "NATSRAW_cooked")
		if err != nil {
			return err
		}
		for range 2 {
			wg.Go(func() { cook(ctx, js, raw, done) })
		}
		for range 2 {
			wg.Go(func() { read(ctx, cooked, done, count) })
		}
	}
	perr := produce(ctx, js, "NATSRAW_raw", n)
	if perr != nil {
		cancel()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	once.Do(func() { close(done) })
	wg.Wait()
	if perr != nil {
		return perr
	}
	if eaten.Load() != int64(n) {
		return fmt.Errorf("%d consumed, want %d", eaten.Load(), n)
	}
	if d := dups.Load(); d > 0 {
		fmt.Fprintf(os.Stderr, "natsraw: %d duplicate deliveries\n", d)
	}
	return nil
}

// bytesAfterSpace is the index after the last space of b (0: none).
func bytesAfterSpace(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ' ' {
			return i + 1
		}
	}
	return 0
}

// workQueue makes the stream name anew (deleting one left over) with its
// consumer "c", and returns the consumer.
func workQueue(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Consumer, error) {
	if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{name}, Retention: jetstream.WorkQueuePolicy,
		MaxMsgs: 1000, Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
	})
}

// pending is a publish awaiting its acknowledgement.
type pending struct {
	f    jetstream.PubAckFuture
	msg  *nats.Msg
	id   string
	from jetstream.Msg // W3: the item it was made from, acknowledged once it is stored
}

// produce publishes n items into subject, keeping at most *window
// unacknowledged (the client stalls PublishMsgAsync past that), and
// republishes with the same id each one the stream refused.
func produce(ctx context.Context, js jetstream.JetStream, subject string, n int) error {
	inflight := make(chan pending, *window)
	errc := make(chan error, 1)
	go func() { errc <- confirm(ctx, js, inflight) }()
	buf := make([]byte, 0, 32)
	for i := range n {
		buf = strconv.AppendInt(append(buf[:0], "watermelon "...), int64(i), 10)
		msg := &nats.Msg{Subject: subject, Data: append([]byte(nil), buf...)}
		p, err := publish(ctx, js, msg, "w."+strconv.Itoa(i), nil)
		if err != nil {
			close(inflight)
			<-errc
			return err
		}
		inflight <- p
	}
	close(inflight)
	return <-errc
}

func publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, id string, from jetstream.Msg) (pending, error) {
	for {
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
		if err == nil {
			return pending{f, msg, id, from}, nil
		}
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return pending{}, err
		}
		if ctx.Err() != nil {
			return pending{}, ctx.Err()
		}
	}
}

// confirm waits for each publish's acknowledgement in order, publishing
// again (same id) those refused, until it is stored. A refused publish is
// sent again at once; one refused again waits a little (the stream is
// full: a reader makes room).
func confirm(ctx context.Context, js jetstream.JetStream, inflight <-chan pending) error {
	for p := range inflight {
		for try := 0; ; try++ {
			var err error
			select {
			case <-p.f.Ok():
			case err = <-p.f.Err():
			case <-ctx.Done():
				return ctx.Err()
			}
			if err == nil {
				break
			}
			if try > 0 {
				time.Sleep(min(time.Duration(try)*200*time.Microsecond, 5*time.Millisecond))
			}
			if p, err = publish(ctx, js, p.msg, p.id, p.from); err != nil {
				return err
			}
		}
		if p.from != nil {
			p.from.Ack()
		}
	}
	return nil
}

// read fetches batches from c and hands each message to f until done.
func read(ctx context.Context, c jetstream.Consumer, done <-chan struct{}, f func(jetstream.Msg)) {
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		default:
		}
		b, err := c.Fetch(*batch, jetstream.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			continue
		}
		for m := range b.Messages() {
			f(m)
		}
	}
}

// cook moves each item of raw into NATSRAW_cooked as "cooked <item>",
// acknowledging it once the new one is stored: at least once.
func cook(ctx context.Context, js jetstream.JetStream, raw jetstream.Consumer, done <-chan struct{}) {
	inflight := make(chan pending, *window)
	errc := make(chan error, 1)
	go func() { errc <- confirm(ctx, js, inflight) }()
	read(ctx, raw, done, func(m jetstream.Msg) {
		out := &nats.Msg{Subject: "NATSRAW_cooked", Data: append([]byte("cooked "), m.Data()...)}
		md, _ := m.Metadata()
		if p, err := publish(ctx, js, out, "c."+strconv.FormatUint(md.Sequence.Stream, 10), m); err == nil {
			inflight <- p
		}
	})
	close(inflight)
	<-errc
}
