package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/pipeline"
)

// watchers are what `pcrun run` attaches to a run to show it: the events
// file (--events), the timeline picture (--timeline), the metrics endpoint
// (--metrics-addr) and the progress bars (--progress). They are set up
// before the run, so a bad flag or a busy port stops it before anything
// runs, and finished after it.
type watchers struct {
	events       *pipeline.EventWriter
	eventsFile   *os.File // nil for stderr
	timeline     *pipeline.Timeline
	timelinePath string
	metrics      *metricsServer
	progress     *progress
	// stderr is where the run's log lines and notices go while it runs:
	// above the progress bars when there are bars.
	stderr io.Writer
}

// watch reads the flags and attaches what they ask for to opts. On error
// (exit 2) nothing is left open.
func watch(c *cli.Context, stderr io.Writer, opts *pipeline.Options) (*watchers, error) {
	w := &watchers{stderr: stderr}
	var obs pipeline.Observers
	var onStart []func(*pipeline.Live)
	fail := func(msg, hint string) (*watchers, error) {
		w.close()
		return nil, usagef("pcrun: error: %s\nhint: %s", msg, hint)
	}
	mode := c.String("progress")
	switch mode {
	case "auto", "always", "never":
	default:
		return fail(fmt.Sprintf("unknown progress mode %q", mode), "use auto (bars on a terminal), always or never")
	}
	if progressEnabled(mode, stderr, c.Bool("quiet")) {
		w.progress = newProgress(stderr, opts.Stdout)
		opts.Stdout = w.progress.Stdout() // printed lines scroll above the bars
		w.stderr = w.progress.Stderr()    // and so do notices and log lines
		opts.Stderr = w.stderr
	}
	if path := c.String("timeline"); path != "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".svg", ".html", ".htm":
		default:
			return fail(fmt.Sprintf("--timeline %s: the picture is written as SVG or HTML", path), "name the file FILE.svg or FILE.html")
		}
		w.timeline, w.timelinePath = pipeline.NewTimeline(), path
		obs = append(obs, w.timeline)
	}
	if path := c.String("events"); path != "" {
		out := w.stderr
		if path != "-" {
			f, err := os.Create(path)
			if err != nil {
				return fail(fmt.Sprintf("--events: %v", err), "give a file in a directory you can write to, or - for stderr")
			}
			w.eventsFile, out = f, f
		}
		w.events = pipeline.NewEventWriter(out)
		obs = append(obs, w.events)
	}
	if addr := c.String("metrics-addr"); addr != "" {
		m, err := startMetrics(addr)
		if err != nil {
			return fail(fmt.Sprintf("--metrics-addr %s: %v", addr, err), "give a free HOST:PORT, e.g. 127.0.0.1:9464 (port 0 picks one)")
		}
		w.metrics = m
		fmt.Fprintf(stderr, "pcrun: metrics at http://%s/metrics\n", m.Addr())
		onStart = append(onStart, m.Attach)
	}
	if w.progress != nil {
		onStart = append(onStart, w.progress.Start)
	}
	switch len(obs) {
	case 0:
	case 1:
		opts.Observer = obs[0]
	default:
		opts.Observer = obs
	}
	if len(onStart) > 0 {
		opts.OnStart = func(l *pipeline.Live) {
			for _, f := range onStart {
				f(l)
			}
		}
	}
	return w, nil
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

func writeTimeline(t *pipeline.Timeline, path string) error {
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
