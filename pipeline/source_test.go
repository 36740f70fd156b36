package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/effects"
	"github.com/pcrun/pcrun/internal/testpipe"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// Source tests use real files, pipes and processes: no synctest bubble
// (a process or a read does not count as blocked in one), short real
// waits with generous bounds, and no assertion on speed.

// sourceRun writes pipeline src, and files (name → contents) beside it,
// into a temporary directory, then loads, compiles and runs it.
func sourceRun(t *testing.T, src string, files map[string]string, opts pipeline.Options) outcome {
	t.Helper()
	g := sourceGraph(t, src, files)
	var out, errb syncBuf
	opts.Stdout, opts.Stderr = &out, &errb
	res, err := pipeline.Run(t.Context(), g, opts)
	o := outcome{res: res, err: err, stderr: errb.String()}
	if s := strings.TrimSuffix(out.String(), "\n"); s != "" {
		o.stdout = strings.Split(s, "\n")
	}
	if res != nil {
		if berr := res.Balanced(); berr != nil {
			t.Fatalf("ledger: %v", berr)
		}
	}
	t.Logf("err %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), o.stderr)
	return o
}

func sourceGraph(t *testing.T, src string, files map[string]string) *stages.Graph {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pl, ds := config.Load(path)
	if ds.HasErrors() {
		t.Fatalf("parse: %v", ds)
	}
	g, ds := stages.Compile(pl, stages.Options{Environ: []string{}})
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds)
	}
	return g
}

// syncBuf is a bytes.Buffer safe for the run's writers and a test that
// reads while the run goes on.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// collect records the items put into queues, in order.
type collect struct {
	mu    sync.Mutex
	items []any
}

func (c *collect) put(_ string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, v)
}

func (c *collect) got() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]any(nil), c.items...)
}

const sinkConsumer = "consumers:\n  - name: sink\n"

func TestLinesFromFile(t *testing.T) {
	// CRLF and LF endings, an empty line (a record), invalid UTF-8
	// (passed through), a last line without a newline.
	body := "alpha\r\nbeta\n\n\xff\xfe bytes\nlast"
	var c collect
	o := sourceRun(t, `
producers:
  - name: logs
    lines: in.txt
    print: "${i} ${line}"
`+sinkConsumer, map[string]string{"in.txt": body}, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: c.put}}})
	if o.err != nil {
		t.Fatalf("err = %v", o.err)
	}
	want := []any{"alpha", "beta", "", "\xff\xfe bytes", "last"}
	if got := c.got(); !reflect.DeepEqual(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	if o.res.Total.Produced != 5 || o.res.Total.Done != 5 {
		t.Errorf("ledger %s, want 5 produced and done", totals(o.res))
	}
	if len(o.stdout) != 5 || o.stdout[0] != "0 alpha" || o.stdout[4] != "4 last" {
		t.Errorf("stdout %q", o.stdout)
	}
}

func TestLinesEmptyFileAndTrailingNewline(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{{"", 0}, {"\n", 1}, {"a\n", 1}, {"a\nb\n", 2}, {"\r\n\r\n", 2}} {
		var c collect
		o := sourceRun(t, "producers:\n  - {name: p, lines: in.txt}\n"+sinkConsumer,
			map[string]string{"in.txt": tc.body}, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: c.put}}})
		if o.err != nil || len(c.got()) != tc.want {
			t.Errorf("%q: err %v, items %q, want %d", tc.body, o.err, c.got(), tc.want)
		}
	}
}

func TestLinesCountTemplateAndResume(t *testing.T) {
	body := "a\nb\nc\nd\ne\n"
	var c collect
	src := `
vars: {prefix: "L"}
producers:
  - name: p
    lines: in.txt
    count: 3
    item: {n: "${i}", text: "${prefix}-${line}", count: "${count}"}
` + sinkConsumer
	o := sourceRun(t, src, map[string]string{"in.txt": body}, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: c.put}}})
	if o.err != nil {
		t.Fatal(o.err)
	}
	want := []any{
		map[string]any{"n": 0, "text": "L-a", "count": 3},
		map[string]any{"n": 1, "text": "L-b", "count": 3},
		map[string]any{"n": 2, "text": "L-c", "count": 3},
	}
	if got := c.got(); !reflect.DeepEqual(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}

	// Resuming from next 2 skips two records; count is still a bound on i.
	var r collect
	res := &pipeline.Resume{Next: map[string]map[int]int{"p": {1: 2}}}
	o = sourceRun(t, strings.Replace(src, "count: 3", "count: 4", 1), map[string]string{"in.txt": body},
		pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: r.put}}, Resume: res})
	if o.err != nil {
		t.Fatal(o.err)
	}
	var texts []any
	for _, v := range r.got() {
		texts = append(texts, v.(map[string]any)["text"])
	}
	if !reflect.DeepEqual(texts, []any{"L-c", "L-d"}) {
		t.Errorf("resumed items %v, want L-c and L-d", texts)
	}
}

func TestJSONL(t *testing.T) {
	body := `{"user": "ann", "tags": ["a", "b"], "n": 3, "f": 1.5, "nested": {"ok": true}}` + "\n" +
		"\n" + // blank lines are not records
		`[1, 2.0, null]` + "\r\n" +
		`"just a string"` + "\n" +
		`42`
	var c collect
	o := sourceRun(t, `
producers:
  - name: j
    jsonl: data.jsonl
    print: "${type(line)}"
`+sinkConsumer, map[string]string{"data.jsonl": body}, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: c.put}}})
	if o.err != nil {
		t.Fatal(o.err)
	}
	want := []any{
		map[string]any{"user": "ann", "tags": []any{"a", "b"}, "n": 3, "f": 1.5, "nested": map[string]any{"ok": true}},
		[]any{1, 2.0, nil}, // 2.0 is a float, as written
		"just a string",
		42,
	}
	if got := c.got(); !reflect.DeepEqual(got, want) {
		t.Errorf("items %#v\nwant %#v", got, want)
	}
}

func TestJSONLBadLineFails(t *testing.T) {
	body := "{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": \n{\"a\": 4}\n"
	o := sourceRun(t, "producers:\n  - {name: j, jsonl: data.jsonl}\n"+sinkConsumer,
		map[string]string{"data.jsonl": body}, pipeline.Options{})
	var fe *pipeline.FailedError
	if !errors.As(o.err, &fe) {
		t.Fatalf("err = %v, want a failure", o.err)
	}
	if !strings.Contains(o.stderr, "data.jsonl: line 4: not JSON") {
		t.Errorf("stderr does not name data.jsonl line 4:\n%s", o.stderr)
	}
	if l := o.res.Total; l.Produced != 3 || l.Done != 2 || l.Failed != 1 {
		t.Errorf("ledger %s, want 2 done and the bad record failed", totals(o.res))
	}
}

func TestMissingFileRunsNothing(t *testing.T) {
	o := sourceRun(t, "producers:\n  - {name: p, lines: nope.txt}\n"+sinkConsumer, nil, pipeline.Options{})
	var se *pipeline.SourceError
	if o.res != nil || !errors.As(o.err, &se) || !strings.Contains(o.err.Error(), "nope.txt: no such file") {
		t.Errorf("result %v, err %v; want nothing run and a SourceError naming nope.txt", o.res, o.err)
	}
}

func TestLineTooLong(t *testing.T) {
	big := strings.Repeat("x", effects.MaxRecord+1)
	o := sourceRun(t, "producers:\n  - {name: p, lines: in.txt}\n"+sinkConsumer,
		map[string]string{"in.txt": "short\n" + big + "\n"}, pipeline.Options{})
	if o.err == nil || !strings.Contains(o.stderr, "line 2 is longer than 16 MiB") {
		t.Errorf("err %v; want line 2 too long", o.err)
	}
}

func TestStdinFromOptions(t *testing.T) {
	var c collect
	o := sourceRun(t, `
producers:
  - {name: in, lines: "-", item: "${upper(line)}"}
`+sinkConsumer, nil, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: c.put}}, Stdin: strings.NewReader("a\nb\n")})
	if o.err != nil || !reflect.DeepEqual(c.got(), []any{"A", "B"}) {
		t.Errorf("err %v, items %q", o.err, c.got())
	}
}

// A stop ends a read of stdin that waits for input.
func TestStdinStopEndsBlockedRead(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if _, err := pw.WriteString("one\n"); err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	var c collect
	var once sync.Once
	onPut := func(q string, v any) {
		c.put(q, v)
		once.Do(func() { sig <- os.Interrupt }) // the next read waits forever
	}
	o := sourceRun(t, "producers:\n  - {name: in, lines: \"-\"}\n"+sinkConsumer, nil,
		pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: onPut}}, Stdin: pr, Signals: sig})
	if !errors.Is(o.err, pipeline.ErrInterrupted) || !reflect.DeepEqual(c.got(), []any{"one"}) {
		t.Errorf("err %v, items %q; want an interrupt after one", o.err, c.got())
	}
}

func TestCommand(t *testing.T) {
	var c collect
	o := sourceRun(t, `
producers:
  - name: gen
    command: [/bin/sh, -c, "seq 1 5"]
    item: "${int(line) * 10}"
`+sinkConsumer, nil, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: c.put}}})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if want := []any{10, 20, 30, 40, 50}; !reflect.DeepEqual(c.got(), want) {
		t.Errorf("items %v, want %v", c.got(), want)
	}
}

func TestCommandFails(t *testing.T) {
	o := sourceRun(t, `
producers:
  - name: gen
    command: [/bin/sh, -c, "echo one; echo something broke >&2; exit 3"]
`+sinkConsumer, nil, pipeline.Options{})
	if !errors.Is(o.err, errFailure(o.err)) || o.res.Total.Done != 1 {
		t.Fatalf("err %v, ledger %s; want a failure after one item", o.err, totals(o.res))
	}
	if !strings.Contains(o.stderr, "exit status 3; stderr: something broke") {
		t.Errorf("stderr does not show the exit status and the command's stderr:\n%s", o.stderr)
	}
}

// errFailure returns err when the run failed (exit 1), else a sentinel.
func errFailure(err error) error {
	if err != nil && !errors.Is(err, pipeline.ErrInterrupted) {
		return err
	}
	return errors.New("not a failure")
}

func TestCommandCannotStart(t *testing.T) {
	o := sourceRun(t, "producers:\n  - {name: gen, command: [/no/such/program]}\n"+sinkConsumer, nil, pipeline.Options{})
	var se *pipeline.SourceError
	if o.res != nil || !errors.As(o.err, &se) || !strings.Contains(o.err.Error(), "cannot run /no/such/program") {
		t.Errorf("result %v, err %v", o.res, o.err)
	}
}

// A full queue stops the reading: the command blocks on its stdout pipe
// and is still running while the consumer is slow; items come in order.
func TestCommandBackpressure(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "done")
	// 2000 lines of 100 bytes is more than a pipe holds (64 KiB): with
	// a queue of 2 the command cannot finish while the consumer sleeps.
	script := fmt.Sprintf(`i=0; while [ $i -lt 2000 ]; do printf '%%099d\n' $i; i=$((i+1)); done; touch %s`, marker)
	var c collect
	var sawRunning bool
	var once sync.Once
	onPut := func(q string, v any) {
		c.put(q, v)
		if len(c.got()) == 5 {
			once.Do(func() {
				time.Sleep(200 * time.Millisecond) // let the command fill the pipe
				_, err := os.Stat(marker)
				sawRunning = errors.Is(err, os.ErrNotExist)
			})
		}
	}
	o := sourceRun(t, `
queues: {main: {capacity: 2}}
producers:
  - name: gen
    command: [/bin/sh, -c, "`+script+`"]
consumers:
  - name: slow
    do:
      - sleep: "${int(item) < 10 ? '20ms' : '0s'}"
`, nil, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: onPut}}})
	_ = o
	if o.err != nil {
		t.Fatal(o.err)
	}
	if !sawRunning {
		t.Error("the command had finished while the queue was full: the reading did not stop")
	}
	got := c.got()
	if len(got) != 2000 {
		t.Fatalf("%d items, want 2000", len(got))
	}
	for i, v := range got {
		if n, _ := strconv.Atoi(v.(string)); n != i {
			t.Fatalf("item %d is %q: out of order", i, v)
		}
	}
	if q := o.res.Queues[0]; q.MaxDepth > 2 {
		t.Errorf("max depth %d over the capacity 2", q.MaxDepth)
	}
}

// An interrupt kills the command's whole process group: a grandchild
// in the background too. No process of the group survives.
func TestCommandStopKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	sig := make(chan os.Signal, 1)
	var once sync.Once
	onPut := func(string, any) { once.Do(func() { sig <- os.Interrupt }) }
	o := sourceRun(t, `
producers:
  - name: gen
    command: [/bin/sh, -c, "echo $$ > `+pidFile+`; sleep 1000 & echo started; sleep 1000"]
`+sinkConsumer, nil, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: onPut}}, Signals: sig})
	if !errors.Is(o.err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v, want interrupted", o.err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The group is gone once its members are reaped; the background sleep
	// is reparented to init, which reaps it when it gets to it (slowly in
	// some containers): a group of zombies is dead too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) || testpipe.OnlyZombies(pgid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kill(-%d, 0) = %v after the run: a process of the command's group survived", pgid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(o.stderr, "exit status") || strings.Contains(o.stderr, "signal: terminated") {
		t.Errorf("a command pcrun stopped is not a failure:\n%s", o.stderr)
	}
}

// A deadline stops a command that would run forever, and the run ends.
func TestCommandDeadline(t *testing.T) {
	start := time.Now()
	o := sourceRun(t, `
shutdown: {deadline: 300ms, grace: 1s}
producers:
  - name: gen
    command: [/bin/sh, -c, "while :; do echo tick; sleep 0.05; done"]
`+sinkConsumer, nil, pipeline.Options{})
	if o.err != nil {
		t.Fatalf("err = %v; a deadline whose queues drain is a success", o.err)
	}
	if o.res.Total.Done == 0 || time.Since(start) > 20*time.Second {
		t.Errorf("ledger %s after %s", totals(o.res), time.Since(start))
	}
}

// A producer's source whose run is cancelled from outside (a library
// caller's context) ends too.
func TestCommandContextCancel(t *testing.T) {
	g := sourceGraph(t, "producers:\n  - {name: gen, command: [sleep, \"1000\"]}\n"+sinkConsumer, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	res, err := pipeline.Run(ctx, g, pipeline.Options{Stderr: io.Discard})
	if err == nil || res == nil {
		t.Errorf("err %v, want the context's error", err)
	}
}
