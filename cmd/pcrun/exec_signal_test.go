//go:build unix

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/internal/testpipe"
)

// TestSignalStopsChildren: the built binary, with exec steps running
// commands that start commands of their own. The first SIGINT lets them
// run; the second kills them (their process groups), their items are
// abandoned, pcrun exits 130, and no process is left behind.
func TestSignalStopsChildren(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "children.yaml")
	src := `
shutdown: {grace: 1m}
producers: [{name: p, count: 4, item: "${i}"}]
consumers:
  - name: c
    replicas: 2
    do:
      - exec: [sh, -c, 'echo $$ > "$1/$2.tmp" && mv "$1/$2.tmp" "$1/$2.pid"; sleep 1000 & sleep 1000', sh, ` + strconv.Quote(dir) + `, "${item}"]
      - print: never
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startPcrun(t, file)
	var groups []int
	for deadline := time.Now().Add(20 * time.Second); len(groups) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the children did not start: %v", groups)
		}
		groups = childGroups(t, dir)
	}
	p.signal(t, os.Interrupt)
	time.Sleep(200 * time.Millisecond)
	for _, g := range groups {
		if err := syscall.Kill(-g, 0); err != nil || groupDead(g) {
			t.Errorf("after the first signal, process group %d should still run (kill: %v)", g, err)
		}
	}
	p.signal(t, os.Interrupt)
	p.wait(t, 20*time.Second)
	if p.code != exitcode.Interrupted {
		t.Fatalf("exit %d, want %d", p.code, exitcode.Interrupted)
	}
	for _, g := range groups {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := syscall.Kill(-g, 0); errors.Is(err, syscall.ESRCH) || groupDead(g) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("process group %d outlived pcrun", g)
				break
			}
		}
	}
	l := parseLedger(t, p.stderr.text())
	if l.Produced != 4 || l.Abandoned != 4 || l.Done != 0 || l.Failed != 0 {
		t.Errorf("ledger %+v, want the 4 items abandoned", l)
	}
	if p.stdout.count(hasSubstr("never")) != 0 {
		t.Errorf("a step after a killed exec ran")
	}
}

// childGroups reads the process groups the children wrote.
func childGroups(t *testing.T, dir string) []int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	var out []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// groupDead is internal/testpipe's OnlyZombies.
var groupDead = testpipe.OnlyZombies
