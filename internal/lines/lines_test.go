package lines

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
	l := New(f)
	if !l.Buffered() {
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
	if err := l.Close(); err != nil {
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
	l := New(w)
	defer l.Close()
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
	l := New(f)
	err = l.Print(strings.Repeat("y", maxBuffered)) // full: written by the printer
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Print = %v, want %v", err, os.ErrClosed)
	}
	if err := l.Print("next"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Print after a failed write = %v, want %v", err, os.ErrClosed)
	}
	if err := l.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("close = %v, want %v", err, os.ErrClosed)
	}
}
