package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/observe/timeline"
	"github.com/pcrun/pcrun/pipeline"
)

// watchers are what `pcrun run` attaches to a run to show it: the events
// file (--events), the timeline picture (--timeline), the metrics endpoint
// (--metrics-addr) and the progress bars (--progress). They are set up
// before the run, so a bad flag or a busy port stops it before anything
// runs, and finished after it.
type watchers struct {
	events       *observe.EventWriter
	eventsFile   *os.File // nil for stderr
	timeline     *timeline.Timeline
	timelinePath string
	metrics      *metricsServer
	progress     *progress
	// stderr is where the run's log lines and notices go while it runs:
	// above the progress bars when there are bars.
	stderr io.Writer
}

// watch reads the flags and attaches what they ask for to opts. On error
// (exit 2) nothing is left open. stderr is where the bars and notices go.
func watch(c *cli.Context, stderr io.Writer, opts *pipeline.Options) (*watchers, error) {
	w := &watchers{stderr: stderr}
	err := w.startProgress(c.String("progress"), c.Bool("quiet"), stderr, opts)
	if err == nil {
		err = w.startTimeline(c.String("timeline"))
	}
	if err == nil {
		err = w.openEvents(c.String("events"))
	}
	if err == nil {
		err = w.startMetrics(c.String("metrics-addr"), stderr)
	}
	if err != nil {
		w.close()
		return nil, err
	}
	w.attach(opts)
	return w, nil
}

// watchError is a flag of a watcher that cannot be had: bad usage.
func watchError(msg, hint string) error {
	return usagef("pcrun: error: %s\nhint: %s", msg, hint)
}

// startProgress sets up the bars of --progress MODE when the mode and
// stderr call for them: printed lines, notices and log lines then go
// through the bars' container, which writes them above the bars.
func (w *watchers) startProgress(mode string, quiet bool, stderr io.Writer, opts *pipeline.Options) error {
	switch mode {
	case "auto", "always", "never":
	default:
		return watchError(fmt.Sprintf("unknown progress mode %q", mode), "use auto (bars on a terminal), always or never")
	}
	if progressEnabled(mode, stderr, quiet) {
		w.progress = newProgress(stderr, opts.Stdout)
		opts.Stdout = w.progress.Stdout()
		w.stderr = w.progress.Stderr()
		opts.Stderr = w.stderr
	}
	return nil
}

// startTimeline records the run for --timeline PATH (none when "").
func (w *watchers) startTimeline(path string) error {
	if path == "" {
		return nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".html", ".htm":
	default:
		return watchError(fmt.Sprintf("--timeline %s: the picture is written as SVG or HTML", path), "name the file FILE.svg or FILE.html")
	}
	w.timeline, w.timelinePath = timeline.New(), path
	return nil
}

// openEvents opens the events file of --events PATH (none when "", stderr
// when "-").
func (w *watchers) openEvents(path string) error {
	if path == "" {
		return nil
	}
	out := w.stderr
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return watchError(fmt.Sprintf("--events: %v", err), "give a file in a directory you can write to, or - for stderr")
		}
		w.eventsFile, out = f, f
	}
	w.events = observe.NewEventWriter(out)
	return nil
}

// startMetrics listens on --metrics-addr ADDR (none when ""), at once, so
// a busy port stops the run before anything runs, and says where on
// stderr.
func (w *watchers) startMetrics(addr string, stderr io.Writer) error {
	if addr == "" {
		return nil
	}
	m, err := startMetrics(addr)
	if err != nil {
		return watchError(fmt.Sprintf("--metrics-addr %s: %v", addr, err), "give a free HOST:PORT, e.g. 127.0.0.1:9464 (port 0 picks one)")
	}
	w.metrics = m
	fmt.Fprintf(stderr, "pcrun: metrics at http://%s/metrics\n", m.Addr())
	return nil
}

// attach makes the timeline, the events, the metrics and the bars
// observers of the run: the first two want its events, the others its
// live counters when it starts.
func (w *watchers) attach(opts *pipeline.Options) {
	if w.timeline != nil {
		opts.Observers = append(opts.Observers, w.timeline)
	}
	if w.events != nil {
		opts.Observers = append(opts.Observers, w.events)
	}
	if w.metrics != nil {
		opts.Observers = append(opts.Observers, w.metrics)
	}
	if w.progress != nil {
		opts.Observers = append(opts.Observers, w.progress)
	}
}

// finish stops the progress bars, writes the timeline and closes the
// events file and the metrics endpoint. It reports what failed on stderr
// and returns false if anything did.
func (w *watchers) finish(stderr io.Writer) bool {
	ok := true
	if w.progress != nil {
		w.progress.Stop()
		w.progress = nil
	}
	if w.timeline != nil {
		if err := writeTimeline(w.timeline, w.timelinePath); err != nil {
			fmt.Fprintf(stderr, "pcrun: error: writing the timeline: %v\n", err)
			ok = false
		} else {
			fmt.Fprintf(stderr, "pcrun: timeline written to %s\n", w.timelinePath)
		}
		w.timeline = nil
	}
	if w.events != nil {
		err := w.events.Close()
		if w.eventsFile != nil {
			if cerr := w.eventsFile.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "pcrun: error: writing the events: %v\n", err)
			ok = false
		}
		w.events, w.eventsFile = nil, nil
	}
	w.close()
	return ok
}

// close releases what is still open (after an error in watch, or last
// in finish).
func (w *watchers) close() {
	if w.progress != nil {
		w.progress.Stop()
	}
	if w.eventsFile != nil {
		w.eventsFile.Close()
	}
	if w.metrics != nil {
		w.metrics.Close()
		w.metrics = nil
	}
}

func writeTimeline(t *timeline.Timeline, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(path), ".svg") {
		err = t.WriteSVG(f)
	} else {
		err = t.WriteHTML(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
