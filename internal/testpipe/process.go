package testpipe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PgidsIn reads the process groups that children wrote to dir/*.pid
// (each whole: written under another name, then renamed).
func PgidsIn(t testing.TB, dir string) []int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, n)
	}
	return out
}

// GroupGone waits (up to a generous bound) for every process of the group
// to be gone: none left, or (where /proc tells) only zombies waiting for
// init to reap them. It fails the test, saying which group, if not.
func GroupGone(t testing.TB, pgid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) || OnlyZombies(pgid) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process group %d is still alive after 10s (kill: %v)", pgid, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// OnlyZombies reports whether every process of the group has exited
// (zombies waiting for init to reap them); false when /proc cannot tell.
func OnlyZombies(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	if len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		i := bytes.LastIndexByte(b, ')') // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
		if err != nil || i < 0 {
			continue // gone meanwhile
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 3 {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid && fields[0] != "Z" && fields[0] != "X" {
			return false
		}
	}
	return true
}
