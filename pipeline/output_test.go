package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// TestLineWriterBufferedWholeLinesInOrder: to a file, lines from
// concurrent printers come out whole, each printer's in its order, all of
// them once close returns, through blocks larger than maxBuffered too.
func TestLineWriterBufferedWholeLinesInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := newLineWriter(f)
	if !l.buffered {
		t.Fatal("a file is not buffered")
	}
	const printers, lines = 4, 20000
	pad := strings.Repeat("x", 40)
	var wg sync.WaitGroup
	for p := range printers {
		wg.Go(func() {
			for i := range lines {
				if err := l.Print(fmt.Sprintf("p%d %d %s", p, i, pad)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	next := make([]int, printers)
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var p, i int
		var rest string
		if _, err := fmt.Sscanf(line, "p%d %d %s", &p, &i, &rest); err != nil || rest != pad || p < 0 || p >= printers {
			t.Fatalf("line %d is not a whole line: %q", n+1, line)
		}
		if i != next[p] {
			t.Fatalf("line %d: printer %d's line %d, want its line %d", n+1, p, i, next[p])
		}
		next[p]++
	}
	for p, n := range next {
		if n != lines {
			t.Errorf("printer %d: %d lines, want %d", p, n, lines)
		}
	}
}

// TestLineWriterWritesWhenIdle: a buffered line reaches the reader
// without close and without more lines coming (no timer holds it).
func TestLineWriterWritesWhenIdle(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	l := newLineWriter(w)
	defer l.close()
	in := bufio.NewReader(r)
	for _, want := range []string{"first", "second"} {
		if err := l.Print(want); err != nil {
			t.Fatal(err)
		}
		r.SetReadDeadline(time.Now().Add(time.Minute)) // a hang fails the test, no timing is asserted
		got, err := in.ReadString('\n')
		if err != nil || got != want+"\n" {
			t.Fatalf("read %q, %v; want %q", got, err, want+"\n")
		}
	}
}

// TestLineWriterKeepsTheError: once a write fails, Print returns the error.
func TestLineWriterKeepsTheError(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // every write fails
	l := newLineWriter(f)
	err = l.Print(strings.Repeat("y", maxBuffered)) // full: written by the printer
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Print = %v, want %v", err, os.ErrClosed)
	}
	if err := l.Print("next"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Print after a failed write = %v, want %v", err, os.ErrClosed)
	}
	if err := l.close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("close = %v, want %v", err, os.ErrClosed)
	}
}

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
