package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcrun/pcrun/observe"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsServer is `pcrun run --metrics-addr`: a Prometheus endpoint,
// /metrics, and a liveness check, /healthz, served while the run goes on.
//
// The run pays nothing for it: the pipeline's workers keep their atomic
// counters as always, and a scrape reads them through Live.Snapshot and
// turns them into constant metrics (runCollector). The registry is our own,
// not prometheus.DefaultRegisterer, so only what is registered here is
// served and nothing global is touched.
type metricsServer struct {
	observe.Base // an observer of the run: Start hands it the live counters
	ln           net.Listener
	srv          *http.Server
	live         atomic.Pointer[observe.Live] // nil until the run starts
	wg           sync.WaitGroup               // the Serve goroutine
	err          error                        // what Serve returned; read after wg.Wait
}

// metricsGrace is how long Close lets scrapes in progress finish before it
// cuts their connections.
const metricsGrace = time.Second

// startMetrics listens on addr (HOST:PORT; port 0 picks a free port) at
// once, so a busy port stops the run before anything runs, and serves
// /metrics and /healthz in a goroutine the server owns until Close.
func startMetrics(addr string) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &metricsServer{ln: ln}
	reg := prometheus.NewRegistry()
	// The Go and process collectors cost next to nothing in binary size
	// (about 8 KB: client_golang links them for its default registry in
	// any case) and little per scrape; a run's memory, goroutines and CPU
	// are what one looks at beside its queues.
	reg.MustRegister(
		runCollector{&m.live},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A metric that cannot be gathered is left out rather than
		// failing the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape of a NATS queue's depth is a round trip to its broker:
		// don't let a crowd of them pile up.
		MaxRequestsInFlight: 4,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok\n")
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.wg.Go(func() { m.err = m.srv.Serve(ln) })
	return m, nil
}

// Start makes the scrapes report l, the run's counters (the run calls it
// as it starts). It may be called while a scrape is in progress.
func (m *metricsServer) Start(l observe.Live) { m.live.Store(&l) }

// Addr returns the address listened on (HOST:PORT, with the port that
// port 0 picked).
func (m *metricsServer) Addr() string { return m.ln.Addr().String() }

// Close stops the server: it stops accepting, lets scrapes in progress
// finish for up to metricsGrace, then cuts them. It blocks until the
// serving goroutine has returned.
func (m *metricsServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), metricsGrace)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if err != nil {
		m.srv.Close()
		err = fmt.Errorf("metrics endpoint: a scrape was still going on after %s: %w", metricsGrace, err)
	}
	m.wg.Wait()
	if m.err != nil && !errors.Is(m.err, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("metrics endpoint: %w", m.err)
	}
	return err
}

// The metrics. Stage metrics are labelled with stage and kind (producer,
// consumer or replay): a stage's name alone may not be unique, since the
// items a resumed run puts back come from a stage named "replay".
var (
	stageLabels = []string{"stage", "kind"}

	descStarted = prometheus.NewDesc("pcrun_run_started",
		"1 once the run's queues are open and its workers started, 0 before.", nil, nil)
	descElapsed = prometheus.NewDesc("pcrun_run_elapsed_seconds",
		"Time since the run started.", nil, nil)

	descWorkers = prometheus.NewDesc("pcrun_stage_workers",
		"Workers (replicas) of the stage.", stageLabels, nil)
	descProduced = prometheus.NewDesc("pcrun_stage_items_produced_total",
		"Items the stage made: a producer's items, the items a consumer emitted.", stageLabels, nil)
	descEnded = prometheus.NewDesc("pcrun_stage_items_ended_total",
		"Items the stage made, by how they ended, wherever they were handled "+
			"(done, filtered, failed, abandoned, handed_off). "+
			"Produced less the sum over outcomes is the stage's items still on their way.",
		[]string{"stage", "kind", "outcome"}, nil)
	descSkipped = prometheus.NewDesc("pcrun_stage_items_skipped_total",
		"Items the stage made that failed and were skipped (on_error: skip); part of outcome=\"failed\".", stageLabels, nil)
	descDeadLettered = prometheus.NewDesc("pcrun_stage_items_dead_lettered_total",
		"Items the stage made that failed and were put into a dead-letter queue; part of outcome=\"failed\".", stageLabels, nil)
	descTaken = prometheus.NewDesc("pcrun_stage_items_taken_total",
		"Items the stage's workers took from its queue (consumers).", stageLabels, nil)
	descIdle = prometheus.NewDesc("pcrun_stage_idle_seconds_total",
		"Time the stage's workers spent waiting for an item, summed over its workers.", stageLabels, nil)
	descBlocked = prometheus.NewDesc("pcrun_stage_blocked_seconds_total",
		"Time the stage's workers spent waiting to put into a full queue, summed over its workers.", stageLabels, nil)

	queueLabels   = []string{"queue"}
	descDepth     = prometheus.NewDesc("pcrun_queue_depth", "Items in the queue now.", queueLabels, nil)
	descMaxDepth  = prometheus.NewDesc("pcrun_queue_max_depth", "The most items the queue has held at once in this run.", queueLabels, nil)
	descCapacity  = prometheus.NewDesc("pcrun_queue_capacity", "The queue's capacity; 0 if unbounded.", queueLabels, nil)
	descPut       = prometheus.NewDesc("pcrun_queue_put_total", "Items put into the queue.", queueLabels, nil)
	descQueueTake = prometheus.NewDesc("pcrun_queue_taken_total", "Items taken from the queue.", queueLabels, nil)
)

// runCollector turns a Snapshot of the run into metrics at each scrape.
// Before the run starts it reports only pcrun_run_started 0.
type runCollector struct {
	live *atomic.Pointer[observe.Live]
}

func (c runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descStarted, descElapsed,
		descWorkers, descProduced, descEnded, descSkipped, descDeadLettered, descTaken, descIdle, descBlocked,
		descDepth, descMaxDepth, descCapacity, descPut, descQueueTake,
	} {
		ch <- d
	}
}

func (c runCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.live.Load()
	if l == nil {
		ch <- prometheus.MustNewConstMetric(descStarted, prometheus.GaugeValue, 0)
		return
	}
	s := (*l).Snapshot()
	ch <- prometheus.MustNewConstMetric(descStarted, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descElapsed, prometheus.GaugeValue, s.Elapsed.Seconds())
	for _, st := range s.Stages {
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{st.Name, st.Kind}, labels...)...)
		}
		counter := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{st.Name, st.Kind}, labels...)...)
		}
		gauge(descWorkers, float64(st.Workers))
		counter(descProduced, float64(st.Produced))
		counter(descEnded, float64(st.Done), "done")
		counter(descEnded, float64(st.Filtered), "filtered")
		counter(descEnded, float64(st.Failed), "failed")
		counter(descEnded, float64(st.Abandoned), "abandoned")
		counter(descEnded, float64(st.HandedOff), "handed_off")
		counter(descSkipped, float64(st.Skipped))
		counter(descDeadLettered, float64(st.DeadLettered))
		if st.Kind == "consumer" {
			counter(descTaken, float64(st.Taken))
		}
		counter(descIdle, st.Idle.Seconds())
		counter(descBlocked, st.Blocked.Seconds())
	}
	for _, q := range s.Queues {
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(q.Depth), q.Name)
		ch <- prometheus.MustNewConstMetric(descMaxDepth, prometheus.GaugeValue, float64(q.MaxDepth), q.Name)
		ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(q.Capacity), q.Name)
		ch <- prometheus.MustNewConstMetric(descPut, prometheus.CounterValue, float64(q.Put), q.Name)
		ch <- prometheus.MustNewConstMetric(descQueueTake, prometheus.CounterValue, float64(q.Taken), q.Name)
	}
}
