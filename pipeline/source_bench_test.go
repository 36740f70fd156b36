package pipeline_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// BenchmarkLinesSource streams a file of 10^5 lines through a `lines`
// producer into a sink consumer (capacity 1000). It reports the peak heap
// in use, sampled during the run: it stays flat however long the file is
// (the reader holds one line, the queue at most its capacity), which
// `-benchtime` with a longer file shows. Run it with
//
//	go test ./pipeline -run '^$' -bench LinesSource -benchmem
func BenchmarkLinesSource(b *testing.B) {
	const lines = 100_000
	dir := b.TempDir()
	var sb strings.Builder
	for i := range lines {
		sb.WriteString("2026-01-02T03:04:05Z INFO request ")
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString(" served in 12ms\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "in.log"), []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	sb.Reset()
	path := filepath.Join(dir, "p.yaml")
	src := "producers:\n  - {name: logs, lines: in.log}\nconsumers:\n  - name: sink\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	pl, ds := config.Load(path)
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // samples the heap while the runs go on
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	})
	b.ResetTimer()
	for b.Loop() {
		res, err := pipeline.Run(b.Context(), g, pipeline.Options{})
		if err != nil || res.Total.Done != lines {
			b.Fatalf("err %v, ledger %+v", err, res.Total)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
