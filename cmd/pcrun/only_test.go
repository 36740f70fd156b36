package main

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/pcrun/pcrun/internal/exitcode"
)

// --only runs the selected stages' workers; the summary names only them.
func TestRunOnly(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--only", "kelly,peter", "testdata/only.yaml"},
		{"run", "--only", "kelly", "--only", " peter ", "testdata/only.yaml"},
		{"--only", "peter,kelly,peter", "testdata/only.yaml"},
	} {
		synctest.Test(t, func(t *testing.T) {
			code, stdout, stderr := runMain(t, args...)
			if code != exitcode.OK {
				t.Fatalf("pcrun %s: exit %d", strings.Join(args, " "), code)
			}
			produced, eaten := producedAndEaten(t, stdoutLines(t, stdout))
			want := []string{"watermelon 0", "watermelon 1", "watermelon 2"}
			if !slices.Equal(produced, want) || !slices.Equal(eaten, want) {
				t.Errorf("produced %q, eaten %q; want %q (nothing of waiter, cook, server)", produced, eaten, want)
			}
			l := parseLedger(t, stderr)
			if l.Produced != 3 || l.Done != 3 {
				t.Errorf("ledger %+v, want 3 produced and done", l)
			}
			for _, other := range []string{"waiter", "cook", "server", "orders", "dishes"} {
				if strings.Contains(stderr, "  "+other+" ") {
					t.Errorf("the summary names %s, which was not selected:\n%s", other, stderr)
				}
			}
		})
	}
}

// Every problem with a selection is a usage error, all reported at once,
// and nothing runs.
func TestRunOnlyErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--only", "kely,peter"}, []string{
			`pcrun: error: --only: pipeline only has no stage "kely"`, "hint: did you mean `kelly`?"}},
		{[]string{"--only", "nobody"}, []string{
			`no stage "nobody"`, "hint: expected one of: `kelly`, `waiter`, `peter`, `cook`, `server`"}},
		{[]string{"--only", "kelly"}, []string{
			"pcrun: error: --only: queue fruit connects selected stage kelly to unselected stage peter; only a queue with `backend: nats` can cross processes",
			"hint: add peter to --only, or give queue fruit `backend: nats`"}},
		{[]string{"--only", "cook,kelly"}, []string{
			"queue fruit connects selected stage kelly to unselected stage peter",
			"queue orders connects selected stage cook to unselected stage waiter",
			"queue dishes connects selected stage cook to unselected stage server"}},
		{[]string{"--only", ","}, []string{"--only: no stage named", "hint: --only STAGE[,STAGE...], e.g. --only kelly,waiter,peter,cook,server"}},
		{[]string{"--only", "kelly,peter", "--resume", "x.jsonl"}, []string{"--resume cannot be combined with --only"}},
	} {
		args := append(append([]string{"run"}, tc.args...), "testdata/only.yaml")
		code, stdout, stderr := runMain(t, args...)
		if code != exitcode.Usage {
			t.Errorf("pcrun %s: exit %d, want %d", strings.Join(args, " "), code, exitcode.Usage)
		}
		if stdout != "" || strings.Contains(stderr, "produced") {
			t.Errorf("pcrun %s: something ran", strings.Join(args, " "))
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("pcrun %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, stderr)
			}
		}
	}
}
