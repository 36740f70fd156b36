package nats_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// The NATS backend against the raw JetStream client doing the same work:
// one writer publishing each item synchronously with a message id into a
// work-queue stream of capacity 1000, one reader fetching in batches and
// acknowledging each item. Compare the items/s of
//
//	go test ./pipeline -run '^$' -bench Nats -benchtime 20000x

const benchPipeline = `
name: bench
queues: {main: {backend: nats, url: "%s", capacity: 1000}}
producers:
  - {name: p, count: %d, item: "item ${i}"}
consumers:
  - {name: c}
`

func BenchmarkNatsQueue(b *testing.B) {
	url := startNats(b)
	pl, ds := config.Parse("bench.yaml", []byte(fmt.Sprintf(benchPipeline, url, b.N)))
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	b.ReportAllocs()
	b.ResetTimer()
	res, err := pipeline.Run(b.Context(), g, pipeline.Options{})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Total.Done != int64(b.N) {
		b.Fatalf("done %d, want %d", res.Total.Done, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkNatsRawJetStream(b *testing.B) {
	url := startNats(b)
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "RAW", Subjects: []string{"raw"}, Retention: jetstream.WorkQueuePolicy,
		MaxMsgs: 1000, Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage,
	})
	if err != nil {
		b.Fatal(err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() { done <- rawConsume(ctx, cons, b.N) }()
	for i := range b.N {
		msg := nats.NewMsg("raw")
		msg.Data = []byte("item " + strconv.Itoa(i))
		for {
			_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("raw."+strconv.Itoa(i)))
			if err == nil {
				break
			}
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10077 {
				b.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

func rawConsume(ctx context.Context, cons jetstream.Consumer, n int) error {
	for got := 0; got < n; {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			m.Ack()
			got++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
