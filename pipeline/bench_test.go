package pipeline

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/lines"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/stages"
)

// Benchmarks of the print writer and whole runs (the memory queue's are
// in queue/memory).
// Compare runs with benchstat (bench/run.sh compares whole processes with
// hand-written Go):
//
//	go test ./pipeline -run '^$' -bench 'MemQueue|Print|Run' -count 6 > old.txt

// BenchmarkRun runs the workloads of bench/ (w1.yaml ...) end to end at
// small N: one op is one whole run of runItems items. It reports ns and
// allocations per item made (W3 makes two per input: the input and the
// item its transformer emits).
func BenchmarkRun(b *testing.B) {
	const runItems = 20000
	for _, name := range []string{"w1", "w2", "w3", "w4"} {
		b.Run(name, func(b *testing.B) {
			g := benchGraph(b, name, runItems)
			var m0, m1 runtime.MemStats
			b.ReportAllocs()
			var moved int64 // items made, by producers and by emit steps
			runtime.ReadMemStats(&m0)
			for b.Loop() {
				res, err := Run(context.Background(), g, Options{Stdout: io.Discard})
				if err != nil {
					b.Fatal(err)
				}
				if l := res.Total; l.Done != l.Produced || l.Produced < runItems {
					b.Fatalf("ledger %v: want %d or more produced, every one done", l, runItems)
				}
				moved += res.Total.Produced
			}
			runtime.ReadMemStats(&m1)
			items := float64(moved)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/items, "ns/item")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/items, "allocs/item")
		})
	}
}

// BenchmarkEvents runs W1 with every event written as a JSON line (to
// io.Discard: the cost of making the lines, not of the disk), to compare
// with BenchmarkRun/w1, where no observer is set and an event costs a nil
// check.
func BenchmarkEvents(b *testing.B) {
	const runItems = 20000
	g := benchGraph(b, "w1", runItems)
	b.ReportAllocs()
	var moved int64
	for b.Loop() {
		ew := observe.NewEventWriter(io.Discard)
		res, err := Run(context.Background(), g, Options{Stdout: io.Discard, Observers: []observe.Observer{ew}})
		if err != nil {
			b.Fatal(err)
		}
		if err := ew.Close(); err != nil {
			b.Fatal(err)
		}
		moved += res.Total.Produced
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(moved), "ns/item")
}

// benchGraph compiles bench/NAME.yaml with its var `n` set (as --set
// would), so that the producers make n items in all.
func benchGraph(b *testing.B, name string, n int) *stages.Graph {
	src, err := os.ReadFile("../bench/" + name + ".yaml")
	if err != nil {
		b.Fatal(err)
	}
	pl, ds := config.Parse(name+".yaml", src)
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	if err := pl.SetVar("n", strconv.Itoa(n)); err != nil {
		b.Fatal(err)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	return g
}

// BenchmarkPrint prints one line per op from GOMAXPROCS goroutines through the
// run's line writer: to a file (buffered, written in blocks by the
// flusher) and to a writer that is not a file (one Write per line).
func BenchmarkPrint(b *testing.B) {
	line := "c-1 ate watermelon 123456"
	for _, name := range []string{"file", "other"} {
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(b.TempDir() + "/out")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			if name == "other" {
				w = struct{ io.Writer }{f} // not an *os.File
			}
			l := lines.New(w)
			b.ReportAllocs()
			b.SetParallelism(1)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Print(line); err != nil {
						panic(err)
					}
				}
			})
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
