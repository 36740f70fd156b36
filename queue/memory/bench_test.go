package memory

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/queue"
)

// testEnv is the environment of a run of the close strategy with no
// observer, for queues made by hand.
func testEnv() *queue.Env {
	start := time.Now()
	return &queue.Env{Strategy: config.Close, Since: func() time.Duration { return time.Since(start) },
		Log: slog.New(slog.DiscardHandler)}
}

// Benchmarks of the memory queue; compare with benchstat:
//
//	go test ./queue/memory -run '^$' -bench MemQueue -count 6 > old.txt

// BenchmarkMemQueue moves b.N items through one memory queue of capacity
// 1000: put then get in one goroutine, and one writer with 1 or 4
// readers, each a worker the world tracks (as in a run).
func BenchmarkMemQueue(b *testing.B) {
	b.Run("put_get", func(b *testing.B) {
		w := newWorld(testEnv())
		q := newMemQueue(w, "q", 1000, 1, 1)
		w.enter()
		ctx := queue.WithWorker(context.Background(), &queue.Worker{Name: "w"})
		b.ReportAllocs()
		for b.Loop() {
			if err := q.Put(ctx, queue.Item{Value: "x"}); err != nil {
				b.Fatal(err)
			}
			it, err := q.Get(ctx)
			if err != nil {
				b.Fatal(err)
			}
			q.Ack(it)
		}
	})
	for _, readers := range []int{1, 4} {
		b.Run(fmt.Sprintf("1w%dr", readers), func(b *testing.B) {
			w := newWorld(testEnv())
			q := newMemQueue(w, "q", 1000, 1, 1)
			var wg sync.WaitGroup
			for range readers + 1 {
				w.enter()
			}
			b.ReportAllocs()
			b.ResetTimer()
			wg.Go(func() {
				defer w.leave()
				ctx := queue.WithWorker(context.Background(), &queue.Worker{Name: "p"})
				var v any = "x"
				for range b.N {
					if err := q.Put(ctx, queue.Item{Value: v}); err != nil {
						panic(err)
					}
				}
				q.Close()
			})
			for r := range readers {
				wg.Go(func() {
					defer w.leave()
					ctx := queue.WithWorker(context.Background(), &queue.Worker{Name: "c" + strconv.Itoa(r)})
					for {
						it, err := q.Get(ctx)
						if err != nil {
							return
						}
						q.Ack(it)
					}
				})
			}
			wg.Wait()
		})
	}
}
