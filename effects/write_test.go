package effects_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pcrun/pcrun/effects"
)

// TestFilesWholeLines: workers writing to two files at once leave whole
// lines, each once, after what the files held; a new file has mode 0644
// and an existing one keeps its own.
func TestFilesWholeLines(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	if err := os.WriteFile(a, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := effects.OpenFiles([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 500
	pad := strings.Repeat("x", 200)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				path := []string{a, b}[i%2]
				if err := fs.Write(path, fmt.Appendf(nil, "%d %d %s end", w, i, pad)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, path := range []string{a, b} {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		for _, l := range lines {
			if l != "before" && !strings.HasSuffix(l, pad+" end") {
				t.Fatalf("%s: torn line %q", path, l)
			}
			seen[l]++
		}
	}
	if len(seen) != workers*each+1 || seen["before"] != 1 {
		t.Errorf("%d distinct lines, want %d", len(seen), workers*each+1)
	}
	for path, mode := range map[string]os.FileMode{a: 0o600, b: 0o644} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode(), err, mode)
		}
	}
}

// TestFilesCannotOpen: the error names the path and the reason.
func TestFilesCannotOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "out.txt")
	fs, err := effects.OpenFiles([]string{filepath.Join(t.TempDir(), "ok.txt"), path})
	if fs != nil || err == nil || err.Error() != "cannot open "+path+" for a write step: no such file or directory" {
		t.Fatalf("files %v, err %v", fs, err)
	}
}

// TestFilesUnknownPath: writing to a path not opened is an error.
func TestFilesUnknownPath(t *testing.T) {
	fs, err := effects.OpenFiles(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Write("elsewhere.txt", []byte("x")); err == nil {
		t.Error("no error")
	}
	if err := fs.Close(); err != nil {
		t.Error(err)
	}
}
