package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
)

const freshYAML = `
name: fresh
vars: {url: "nats://127.0.0.1:1", tag: old}
queues:
  main: {backend: nats, url: "${url}", capacity: 10}
  done: {backend: nats, url: "${url}", capacity: 10}
producers:
  - {name: p, to: main, count: 3, item: "${tag} ${i}"}
consumers:
  - {name: c, from: main, to: done, do: [{emit: "${item}"}]}
  - {name: d, from: done, do: [{print: "${worker} Ate ${item}"}]}
`

// TestRunFresh: a multi-process run's first process says --fresh, which
// purges what an earlier run left in every NATS queue of the pipeline
// (those this process does not use too) and starts a new generation of
// its keys; without it, producers of a queue that already ended are
// refused before anything runs.
func TestRunFresh(t *testing.T) {
	s := startNATS(t)
	file := writeFile(t, "fresh.yaml", freshYAML)
	url := "url=" + s.ClientURL()

	// An earlier run leaves three old items in `done`, which has ended.
	if code, _, stderr := runMain(t, "run", "--only", "p,c", "--set", url, file); code != exitcode.OK {
		t.Fatalf("earlier run: exit %d\n%s", code, stderr)
	}
	// Without --fresh the producers would put after the end of `main`.
	code, stdout, stderr := runMain(t, "run", "--only", "p", "--set", url, "--set", "tag=new", file)
	if code != exitcode.Failed || stdout != "" ||
		!strings.Contains(stderr, "pcrun: error: queue main has already ended") || !strings.Contains(stderr, "--fresh") ||
		!strings.Contains(stderr, "nothing was run") || strings.Contains(stderr, "produced") {
		t.Fatalf("without --fresh: exit %d, want %d and the late writer refused", code, exitcode.Failed)
	}
	// With it, the producers start a new run: 3 items, handed off.
	code, _, stderr = runMain(t, "run", "--only", "p", "--fresh", "--summary", "json", "--set", url, "--set", "tag=new", file)
	if code != exitcode.OK {
		t.Fatalf("--fresh: exit %d\n%s", code, stderr)
	}
	var res observe.Result
	if err := json.Unmarshal([]byte(stderr[strings.Index(stderr, "{"):]), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Shared || res.Total != (observe.Ledger{Produced: 3, HandedOff: 3}) {
		t.Errorf("--fresh: shared %v, ledger %+v; want 3 produced and handed off", res.Shared, res.Total)
	}
	// The consumers see the new items only: `done` was purged too.
	code, stdout, stderr = runMain(t, "run", "--only", "c,d", "--set", url, file)
	if code != exitcode.OK {
		t.Fatalf("consumers: exit %d\n%s", code, stderr)
	}
	if got, want := stdoutLines(t, stdout), []string{"d Ate new 0", "d Ate new 1", "d Ate new 2"}; !slices.Equal(sorted(got), want) {
		t.Errorf("consumers ate %q, want %q", got, want)
	}
	l := parseLedger(t, stderr)
	// c's emits go into done, a shared queue: handed off, then taken
	// again (by d, here) like the items c took from main.
	if !l.Shared || l.Produced != 3 || l.Done != 0 || l.HandedOff != 3 {
		t.Errorf("consumers' ledger %+v: want c's 3 emits handed off", l)
	}
	if !strings.Contains(stderr, "pcrun: fresh: 6 taken from shared queues = 6 done + 0 filtered + 0 failed + 0 handed back") {
		t.Errorf("the summary does not account for the items taken from main:\n%s", stderr)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
