//go:build unix

package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/testpipe"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// These tests run real processes, in real time (no synctest bubble: a
// child's exit is no event a bubble sees). Bounds on time are generous,
// and only say that nothing hangs.

// compileEnv compiles src with SELF (the test binary) in `env`.
func compileEnv(t *testing.T, src string) *stages.Graph {
	t.Helper()
	pl, ds := config.Parse("test.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatalf("parse: %v", ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{"SELF=" + os.Args[0]}})
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds)
	}
	return g
}

// runReal runs src and checks its ledger.
func runReal(t *testing.T, src string, signals <-chan os.Signal) (*observe.Result, error, []string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	res, err := pipeline.Run(t.Context(), compileEnv(t, src), pipeline.Options{Stdout: &out, Stderr: &errb, Signals: signals})
	if res == nil {
		t.Fatalf("nothing ran: %v", err)
	}
	if berr := res.Balanced(); berr != nil {
		t.Fatalf("ledger: %v", berr)
	}
	var lines []string
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	}
	return res, err, lines, errb.String()
}

// yamlQuote quotes s for YAML (a JSON string is a YAML string).
func yamlQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestExecArgvIntact: each argv element reaches the child as exactly one
// argument, whatever the item holds: no splitting, no shell.
func TestExecArgvIntact(t *testing.T) {
	tricky := []string{`a b "c" $(rm -rf /) ;ls`, "it's `x` && y | z > /tmp/f", "new\nline", "*", "", "-n"}
	vars, _ := json.Marshal(tricky)
	res, err, lines, stderr := runReal(t, `
vars: {items: `+string(vars)+`}
producers: [{name: p, count: 6, item: "${items[i]}"}]
consumers:
  - name: c
    replicas: 3
    do:
      - exec: {argv: ["${env.SELF}", "${item}", "x y", "${1}"], env: {`+argvHelper+`: "1"}}
      - print: "${result.stdout}"
`, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var got [][]string
	for _, l := range lines {
		var argv []string
		if err := json.Unmarshal([]byte(l), &argv); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, argv)
	}
	var want [][]string
	for _, it := range tricky {
		want = append(want, []string{it, "x y", "1"})
	}
	sortArgv := func(a, b []string) int { return strings.Compare(a[0], b[0]) }
	slices.SortFunc(got, sortArgv)
	slices.SortFunc(want, sortArgv)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}
	if res.Total.Done != 6 {
		t.Errorf("ledger %+v", res.Total)
	}
}

// TestExecResultStdinEnvDir: stdin, env and dir reach the process, and
// the steps after it read result.
func TestExecResultStdinEnvDir(t *testing.T) {
	dir := t.TempDir()
	_, err, lines, stderr := runReal(t, `
producers: [{name: p, count: 2, item: "fruit ${i}"}]
consumers:
  - name: c
    do:
      - exec:
          argv: [sh, -c, 'tr a-z A-Z; echo "$FOO"; pwd; echo oops >&2', sh]
          stdin: "${item}\n"
          env: {FOO: "${worker} ${item}"}
          dir: `+yamlQuote(dir)+`
      - print: "${item}|${result.stdout}|${result.stderr}|${result.exit}|${result.duration > duration('0s')}"
`, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	real, _ := filepath.EvalSymlinks(dir)
	slices.Sort(lines)
	want := []string{
		"fruit 0|FRUIT 0\nc fruit 0\n" + real + "|oops|0|true",
		"fruit 1|FRUIT 1\nc fruit 1\n" + real + "|oops|0|true",
	}
	want = strings.Split(strings.Join(want, "\n"), "\n") // a print of several lines is several lines
	slices.Sort(want)
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines\n got %q\nwant %q", lines, want)
	}
}

// TestExecFailures: a non-zero exit fails the item with the end of its
// stderr; on_error skip and dead_letter apply; a missing program fails.
func TestExecFailures(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		res, err, _, stderr := runReal(t, `
producers: [{name: p, count: 3, item: "${i}"}]
consumers:
  - name: c
    on_error: skip
    do:
      - exec: [sh, -c, 'if [ "$1" = 1 ]; then echo "bad item $1" >&2; exit 3; fi', sh, "${item}"]
`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l := res.Total; l.Done != 2 || l.Failed != 1 || l.Skipped != 1 {
			t.Errorf("ledger %+v", l)
		}
		if !strings.Contains(stderr, "test.yaml:7:9: exec sh: exit status 3: bad item 1") {
			t.Errorf("stderr:\n%s", stderr)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		res, err, lines, _ := runReal(t, `
queues: {main: {}, failed: {}}
producers: [{name: p, to: main, count: 1, item: x}]
consumers:
  - name: c
    from: main
    on_error: {dead_letter: failed}
    do:
      - exec: [no-such-program-pcrun, "${item}"]
  - {name: d, from: failed, do: [{print: "${item.error}"}]}
`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total.DeadLettered != 1 || len(lines) != 1 ||
			lines[0] != "exec no-such-program-pcrun: cannot start: executable file not found in $PATH" {
			t.Errorf("ledger %+v, lines %q", res.Total, lines)
		}
	})
	t.Run("stdout limit", func(t *testing.T) {
		res, err, _, stderr := runReal(t, `
producers: [{name: p, count: 1, item: x}]
consumers: [{name: c, on_error: skip, do: [{exec: [yes]}]}]
`, nil)
		if err != nil || res.Total.Skipped != 1 || !strings.Contains(stderr, "exec yes: wrote more than 1 MiB to stdout") {
			t.Errorf("err %v, ledger %+v, stderr:\n%s", err, res.Total, stderr)
		}
	})
}

// hangScript writes its process group (the shell's pid: it leads the
// group) to DIR/ITEM.pid, starts a grandchild that hangs, and hangs.
const hangScript = `'echo $$ > "$1/$2.tmp" && mv "$1/$2.tmp" "$1/$2.pid"; sleep 1000 & sleep 1000'`

// TestExecTimeoutKillsGroup: a hanging command is killed at its timeout,
// the grandchild it started too, and the item fails. (The timeout leaves a
// loaded machine time to start the shell; each child writes
// its pid file whole, by a rename: a child killed as it writes leaves no
// half-written file for pgidsIn.)
func TestExecTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	res, err, _, stderr := runReal(t, `
producers: [{name: p, count: 2, item: "${i}"}]
consumers:
  - name: c
    replicas: 2
    on_error: skip
    do:
      - exec: {argv: [sh, -c, `+hangScript+`, sh, `+yamlQuote(dir)+`, "${item}"], timeout: 1s}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v: the timeout did not end the process", took)
	}
	if l := res.Total; l.Failed != 2 || l.Skipped != 2 {
		t.Errorf("ledger %+v", l)
	}
	if strings.Count(stderr, "exec sh: timed out after 1s") != 2 {
		t.Errorf("stderr:\n%s", stderr)
	}
	pgids := pgidsIn(t, dir)
	if len(pgids) != 2 {
		t.Fatalf("pid files: %v", pgids)
	}
	for _, g := range pgids {
		groupGone(t, g)
	}
}

// TestExecHardCancelAbandons: a second signal kills the running children
// (and theirs); their items are abandoned, the ledger balances, and no
// process is left.
func TestExecHardCancelAbandons(t *testing.T) {
	dir := t.TempDir()
	sig := make(chan os.Signal, 2)
	go func() {
		// Both children have started once both pid files are written.
		for deadline := time.Now().Add(20 * time.Second); len(pgidsIn(t, dir)) < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		sig <- os.Interrupt
		time.Sleep(100 * time.Millisecond)
		sig <- os.Interrupt
	}()
	res, err, _, _ := runReal(t, `
shutdown: {grace: 1m}
producers: [{name: p, count: 5, item: "${i}"}]
consumers:
  - name: c
    replicas: 2
    do:
      - exec: [sh, -c, `+hangScript+`, sh, `+yamlQuote(dir)+`, "${item}"]
`, sig)
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if l := res.Total; l.Produced != 5 || l.Abandoned != 5 || l.Done != 0 || l.Failed != 0 {
		t.Errorf("ledger %+v", l)
	}
	pgids := pgidsIn(t, dir)
	if len(pgids) != 2 {
		t.Fatalf("pid files: %v", pgids)
	}
	for _, g := range pgids {
		groupGone(t, g)
	}
}

// TestExecSoftStopLetsChildrenFinish: after a first signal, running
// children go on and their items are done.
func TestExecSoftStopLetsChildrenFinish(t *testing.T) {
	dir := t.TempDir()
	sig := make(chan os.Signal, 1)
	go func() {
		for deadline := time.Now().Add(20 * time.Second); len(pgidsIn(t, dir)) < 1 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		sig <- os.Interrupt
	}()
	res, err, lines, _ := runReal(t, `
shutdown: {grace: 1m}
queues: {main: {capacity: 1}}
producers: [{name: p, count: 1000, item: "${i}"}]
consumers:
  - name: c
    do:
      - exec: [sh, -c, 'echo $$ > "$1/$2.tmp" && mv "$1/$2.tmp" "$1/$2.pid"; sleep 0.5; echo finished', sh, `+yamlQuote(dir)+`, "${item}"]
      - print: "${result.stdout}"
`, sig)
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if res.Total.Done < 1 || len(lines) < 1 || lines[0] != "finished" {
		t.Errorf("ledger %+v, lines %q", res.Total, lines)
	}
}

// The process helpers of internal/testpipe.
var (
	pgidsIn   = testpipe.PgidsIn
	groupGone = testpipe.GroupGone
)
