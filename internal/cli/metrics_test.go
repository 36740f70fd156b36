package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// The metrics endpoint talks over real sockets, so these tests run outside
// synctest bubbles, on the real clock; they poll, and assert nothing about
// time.

// scrapeClient opens a connection per request, so no idle connection (and
// its goroutines) outlives a test.
var scrapeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := scrapeClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// scrape fetches http://addr/metrics and parses it, failing t if it is not
// valid Prometheus text.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want 200:\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET /metrics: not Prometheus text: %v\n%s", err, body)
	}
	return fams
}

// sample returns the value of the series of family name whose labels
// include labels (alternating names and values), and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// writePipeline writes src to a pipeline file in a temporary directory.
func writePipeline(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const metricsSmall = `name: small
queues:
  main:
    capacity: 2
producers:
  - name: kelly
    count: 5
    item: "fruit ${i}"
consumers:
  - name: peter
    replicas: 2
    when: "item != 'fruit 3'"
    do:
      - print: "${worker} ate ${item}"
`

func TestMetricsEndpoint(t *testing.T) {
	m, err := startMetrics("127.0.0.1:0")
	if err != nil {
		t.Fatalf("startMetrics: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			m.Close()
		}
	}()
	addr := m.Addr()

	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 \"ok\\n\"", code, body)
	}

	fams := scrape(t, addr)
	if v, ok := sample(fams, "pcrun_run_started"); !ok || v != 0 {
		t.Errorf("before the run: pcrun_run_started %v (present %v), want 0", v, ok)
	}
	for _, name := range []string{"pcrun_run_elapsed_seconds", "pcrun_stage_items_produced_total", "pcrun_queue_depth"} {
		if fams[name] != nil {
			t.Errorf("before the run: %s is reported", name)
		}
	}
	if fams["go_goroutines"] == nil {
		t.Errorf("go_goroutines is not reported")
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil && fams["process_resident_memory_bytes"] == nil {
		t.Errorf("process_resident_memory_bytes is not reported")
	}

	g, ds, err := compileFile(writePipeline(t, metricsSmall), nil, config.Sources{})
	if err != nil || g == nil {
		t.Fatalf("compile: %v %v", err, ds)
	}
	var live atomic.Pointer[observe.Live]
	_, err = pipeline.Run(context.Background(), g, pipeline.Options{
		Stdout: io.Discard, Stderr: io.Discard,
		Observers: []observe.Observer{observe.Funcs{OnStart: func(l observe.Live) { live.Store(&l); m.Start(l) }}},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	// After the run, Live gives its final counters: exact values.
	fams = scrape(t, addr)
	kelly := []string{"stage", "kelly", "kind", "producer"}
	peter := []string{"stage", "peter", "kind", "consumer"}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pcrun_run_started", nil, 1},
		{"pcrun_stage_workers", kelly, 1},
		{"pcrun_stage_workers", peter, 2},
		{"pcrun_stage_items_produced_total", kelly, 5},
		{"pcrun_stage_items_ended_total", append(kelly, "outcome", "done"), 4},
		{"pcrun_stage_items_ended_total", append(kelly, "outcome", "filtered"), 1},
		{"pcrun_stage_items_ended_total", append(kelly, "outcome", "failed"), 0},
		{"pcrun_stage_items_ended_total", append(kelly, "outcome", "abandoned"), 0},
		{"pcrun_stage_items_ended_total", append(kelly, "outcome", "handed_off"), 0},
		{"pcrun_stage_items_skipped_total", kelly, 0},
		{"pcrun_stage_items_dead_lettered_total", kelly, 0},
		{"pcrun_stage_items_produced_total", peter, 0},
		{"pcrun_stage_items_taken_total", peter, 5},
		{"pcrun_queue_capacity", []string{"queue", "main"}, 2},
		{"pcrun_queue_put_total", []string{"queue", "main"}, 5},
		{"pcrun_queue_taken_total", []string{"queue", "main"}, 5},
		{"pcrun_queue_depth", []string{"queue", "main"}, 0},
	} {
		if v, ok := sample(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("after the run: %s%q = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	for _, name := range []string{"pcrun_run_elapsed_seconds", "pcrun_queue_max_depth", "pcrun_stage_idle_seconds_total", "pcrun_stage_blocked_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("after the run: %s is not reported", name)
		}
	}
	if _, ok := sample(fams, "pcrun_stage_items_taken_total", kelly...); ok {
		t.Errorf("a producer reports pcrun_stage_items_taken_total")
	}
	if d, _ := sample(fams, "pcrun_queue_max_depth", "queue", "main"); d < 1 || d > 2 {
		t.Errorf("pcrun_queue_max_depth %v, want between 1 and the capacity, 2", d)
	}

	// The names, types, units and help follow Prometheus's conventions.
	problems, err := testutil.CollectAndLint(runCollector{&live})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	closed = true
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if resp, err := scrapeClient.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the endpoint still answers after Close")
	}
}

func TestMetricsBusyPort(t *testing.T) {
	m, err := startMetrics("127.0.0.1:0")
	if err != nil {
		t.Fatalf("startMetrics: %v", err)
	}
	defer m.Close()
	if m2, err := startMetrics(m.Addr()); err == nil {
		m2.Close()
		t.Errorf("a second startMetrics on %s succeeded, want an error", m.Addr())
	}
	code, _, stderr := runMain(t, "run", "--metrics-addr", m.Addr(), "../../examples/fruit.yaml")
	if code != exitcode.Usage || !regexp.MustCompile(`pcrun: error: --metrics-addr \S+: .+`).MatchString(stderr) {
		t.Errorf("pcrun run on a busy port: exit %d, want %d and the error", code, exitcode.Usage)
	}
}

// A long run, ended by a signal once the test has scraped it.
const metricsLong = `name: long
queues:
  main:
    capacity: 5
shutdown:
  strategy: close
producers:
  - name: kelly
    count: 1000000
    delay: 10ms
    item: "fruit ${i}"
consumers:
  - name: peter
    do:
      - sleep: 20ms
`

var metricsAtRE = regexp.MustCompile(`pcrun: metrics at http://(\S+)/metrics\n`)

func TestMetricsScrapedDuringRun(t *testing.T) {
	path := writePipeline(t, metricsLong)
	sig := make(chan os.Signal, 2)
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		done <- Main([]string{"pcrun", "run", "--metrics-addr", "127.0.0.1:0", path}, sig, nil, io.Discard, &stderr)
	}()
	ended := false
	defer func() {
		if !ended { // a failed test still ends the run
			sig <- os.Interrupt
			sig <- os.Interrupt
			<-done
		}
		t.Logf("stderr:\n%s", stderr.String())
	}()

	var addr string
	for i := 0; addr == "" && i < 1000; i++ {
		if m := metricsAtRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			ended = true
			t.Fatalf("pcrun exited %d before it said where its metrics are", code)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("pcrun did not say where its metrics are")
	}

	kelly := []string{"stage", "kelly", "kind", "producer"}
	var fams map[string]*dto.MetricFamily
	for i := 0; i < 1000; i++ {
		fams = scrape(t, addr)
		if v, _ := sample(fams, "pcrun_stage_items_produced_total", kelly...); v > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok := sample(fams, "pcrun_stage_items_produced_total", kelly...); !ok || v <= 0 {
		t.Fatalf("pcrun_stage_items_produced_total%q = %v (present %v), want > 0", kelly, v, ok)
	}
	if v, _ := sample(fams, "pcrun_run_started"); v != 1 {
		t.Errorf("during the run: pcrun_run_started %v, want 1", v)
	}
	depth, ok := sample(fams, "pcrun_queue_depth", "queue", "main")
	capacity, _ := sample(fams, "pcrun_queue_capacity", "queue", "main")
	if !ok || depth < 0 || depth > capacity || capacity != 5 {
		t.Errorf("during the run: pcrun_queue_depth %v (present %v), capacity %v; want a depth within the capacity, 5", depth, ok, capacity)
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz during the run: %d %q, want 200 \"ok\\n\"", code, body)
	}

	sig <- os.Interrupt
	code := <-done
	ended = true
	if code != exitcode.Interrupted {
		t.Errorf("exit %d, want %d", code, exitcode.Interrupted)
	}
	if resp, err := scrapeClient.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the endpoint still answers after the run")
	}
}
