package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/pcrun/pcrun/internal/exitcode"
)

// --events writes one JSON object per line, from run to end, to a file or
// (with -) to stderr.
func TestEventsFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.jsonl")
		code, _, _ := runMain(t, "run", "--events", path, "--quiet", "../../examples/fruit.yaml")
		if code != exitcode.OK {
			t.Fatalf("exit %d", code)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		counts := map[string]int{}
		for _, l := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			counts[e["event"].(string)]++
		}
		if !strings.Contains(lines[0], `"event":"run"`) || !strings.Contains(lines[len(lines)-1], `"event":"end"`) ||
			counts["produced"] != 6 || counts["taken"] != 6 || counts["done"] != 6 || counts["started"] != 5 || counts["stopped"] != 5 {
			t.Errorf("events %v; first %s, last %s", counts, lines[0], lines[len(lines)-1])
		}
		code, stdout, stderr := runMain(t, "run", "--events", "-", "--quiet", "../../examples/fruit.yaml")
		if code != exitcode.OK || strings.Contains(stdout, `"event"`) || strings.Count(stderr, `"event":"done"`) != 6 {
			t.Errorf("--events -: exit %d; want the events on stderr only", code)
		}
	})
}

// --log-format json makes every log record a JSON object with its
// attributes; --log-level debug adds the workers' lives.
func TestLogFlags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, _, stderr := runMain(t, "run", "--quiet", "--log-format", "json", "--log-level", "debug", "../../examples/orders.yaml")
		if code != exitcode.OK {
			t.Fatalf("exit %d", code)
		}
		levels := map[string]int{}
		var dead map[string]any
		for l := range strings.Lines(stderr) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("stderr line %q is not JSON: %v", l, err)
			}
			levels[rec["level"].(string)]++
			if strings.HasPrefix(rec["msg"].(string), "dead-lettered") {
				dead = rec
			}
		}
		if levels["DEBUG"] == 0 || levels["WARN"] == 0 {
			t.Errorf("levels %v; want debug and warn records", levels)
		}
		if dead == nil || dead["stage"] != "pay" || dead["queue"] != "declined" || dead["attempts"] != 3.0 || dead["time"] == nil {
			t.Errorf("dead-letter record %v: want stage, queue, attempts and time", dead)
		}
		code, _, stderr = runMain(t, "run", "--quiet", "--log-level", "error", "../../examples/orders.yaml")
		if code != exitcode.OK || strings.Contains(stderr, "retry:") || strings.Contains(stderr, "dead-lettered") {
			t.Errorf("--log-level error: exit %d, stderr %q; want no warnings", code, stderr)
		}
		code, _, stderr = runMain(t, "run", "--quiet", "../../examples/orders.yaml")
		if code != exitcode.OK || !strings.Contains(stderr, "pcrun: retry: ") || !strings.Contains(stderr, "pcrun: dead-lettered to declined: consumer pay-") {
			t.Errorf("default log: exit %d, stderr %q; want the pcrun: lines", code, stderr)
		}
	})
}

// Bad observation flags are usage errors: exit 2, a hint, nothing run.
func TestObserveFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--timeline", "run.png"}, "hint: name the file FILE.svg or FILE.html"},
		{[]string{"--events", "/nonexistent/dir/e.jsonl"}, "hint: give a file in a directory you can write to"},
		{[]string{"--progress", "sometimes"}, "hint: use auto"},
		{[]string{"--log-level", "loud"}, "hint: use debug, info, warn or error"},
		{[]string{"--log-format", "xml"}, "hint: use text or json"},
		{[]string{"--metrics-addr", "256.0.0.1:bad"}, "hint: give a free HOST:PORT"},
	} {
		code, stdout, stderr := runMain(t, append(append([]string{"run"}, tc.args...), "../../examples/fruit.yaml")...)
		if code != exitcode.Usage || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}
