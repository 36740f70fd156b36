package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// TestRunFlushesPrintsOnSignal: a run stopped by a signal writes every
// line its workers printed to a buffered stdout before Run returns.
func TestRunFlushesPrintsOnSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	synctest.Test(t, func(t *testing.T) {
		pl, ds := config.Parse("t.yaml", []byte(`
producers: [{name: p, count: 1000, delay: 10ms, item: "${i}", print: "made ${item}"}]
consumers: [{name: c, replicas: 2, do: [print: "${worker} ate ${item}"]}]
shutdown: {grace: 1s}
`))
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		sig := make(chan os.Signal, 1)
		time.AfterFunc(2*time.Second+5*time.Millisecond, func() { sig <- os.Interrupt })
		res, err := Run(t.Context(), g, Options{Stdout: f, Signals: sig})
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("Run: %v, want %v", err, ErrInterrupted)
		}
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		var made, ate int64
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			switch {
			case strings.HasPrefix(line, "made "):
				made++
			case strings.Contains(line, " ate "):
				ate++
			default:
				t.Fatalf("line %q", line)
			}
		}
		if p := res.Stages[0].Produced; made != p || ate != res.Total.Done || made < 100 {
			t.Errorf("%d made and %d ate lines; the ledger says %d produced, %d done", made, ate, p, res.Total.Done)
		}
	})
}
