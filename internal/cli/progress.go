package cli

import (
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/pcrun/pcrun/observe"
)

// Live progress (`pcrun run --progress`): while a run goes on, stderr
// shows a bar per producer (items made of its total, rate, time left), a
// bar per queue (depth against capacity, the deepest it got) and a line
// per consumer (items taken, rate), redrawn in place by mpb.
// `print` lines bound for the same terminal go through mpb's container,
// which writes them above the bars as part of its next redraw: a line and
// a frame never share a write, so neither garbles the other.

const (
	progressPoll  = 120 * time.Millisecond // how often the counters are read and the bars redrawn
	progressRate  = 2 * time.Second        // time constant of the rates' moving average
	progressWidth = 40                     // columns of a bar, when the terminal has them
)

// progressEnabled says whether `--progress MODE` draws bars on stderr:
// never, no; always, yes, whatever stderr is; auto, only when stderr is a
// terminal that says how wide it is (one reporting 0 columns, as some
// pseudo-terminals do, would show no bar), TERM is not dumb and the CI
// variable is unset or empty.
// --quiet turns the bars off in every mode, always included: it asks for
// a stderr with nothing but what must be said.
func progressEnabled(mode string, stderr io.Writer, quiet bool) bool {
	if quiet {
		return false
	}
	switch mode {
	case "always":
		return true
	case "auto":
		return isTerminal(stderr) && os.Getenv("TERM") != "dumb" && os.Getenv("CI") == ""
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	width, _, err := term.GetSize(int(f.Fd()))
	return err == nil && width > 0
}

// sameOutput reports whether a and b write to the same place: the same
// file (two descriptors of one terminal are), or the same writer.
func sameOutput(a, b io.Writer) bool {
	fa, okA := a.(*os.File)
	fb, okB := b.(*os.File)
	if okA && okB {
		sa, errA := fa.Stat()
		sb, errB := fb.Stat()
		if errA != nil || errB != nil {
			return fa.Fd() == fb.Fd()
		}
		return os.SameFile(sa, sb)
	}
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

// progress draws a run's bars on stderr. newProgress makes it, Start
// starts its one goroutine, Stop draws the last frame and ends it.
type progress struct {
	observe.Base   // an observer of the run: Start hands it the live counters
	stdout, stderr io.Writer
	above          bool // stdout shares stderr: print lines go above the bars
	c              *mpb.Progress
	refresh        chan any // the poller asks c for a frame
	ended          chan any // closed by c once shut down (Stop, or an error drawing)

	mu       sync.Mutex // held by every write that may go to c, and to switch drawing
	drawing  bool       // bars are on stderr: writes go through c
	started  bool
	stopped  bool
	quit     chan struct{} // closed by Stop: the poller reads once more and returns
	wg       sync.WaitGroup
	stopOnce sync.Once

	rows []*progressRow // the poller's until it returns, then Stop's
}

// newProgress prepares bars on stderr; stdout is where the run prints.
// Nothing is drawn before Start.
func newProgress(stderr, stdout io.Writer) *progress {
	p := &progress{stdout: stdout, stderr: stderr, above: sameOutput(stdout, stderr)}
	// ForceTTY: escape codes and redraws even when stderr is not a
	// terminal, which only --progress always asks for (a terminal would
	// be detected anyway). Off a terminal the width is mpb's 80.
	// The poller asks for each frame (refresh) once it has read the
	// counters, so a frame is never older than its reading. (Without a
	// refresh, auto or manual, ForceTTY alone leaves a writer that is not a
	// terminal unrendered in v8.16.2, and what is written to the container
	// never comes out.)
	p.refresh, p.ended = make(chan any), make(chan any)
	p.c = mpb.New(mpb.WithOutput(stderr), mpb.ForceTTY(),
		mpb.WithManualRefresh(p.refresh), mpb.WithShutdownNotifier(p.ended))
	return p
}

// Stdout returns the writer for the run's print lines, each written whole
// in one call. When stdout is the terminal the bars are on, lines go above
// the bars while they are drawn; otherwise it is stdout itself (a file
// stays an *os.File, which the run buffers).
func (p *progress) Stdout() io.Writer {
	if !p.above || p.stdout == nil {
		return p.stdout
	}
	return aboveBars{p, p.stdout}
}

// Stderr returns a writer for the run's notices (retries, signals) that
// puts them above the bars while they are drawn, whole lines at a time.
func (p *progress) Stderr() io.Writer { return aboveBars{p, p.stderr} }

// aboveBars writes through the container while bars are drawn, and
// straight to w before and after.
type aboveBars struct {
	p *progress
	w io.Writer
}

func (a aboveBars) Write(b []byte) (int, error) {
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	if a.p.drawing {
		if n, err := a.p.c.Write(b); err == nil {
			return n, nil // written with the next frame, above it
		}
		a.p.drawing = false // the container gave up drawing (a terminal gone)
	}
	return a.w.Write(b)
}

// Start starts the goroutine that reads l every progressPoll and updates
// the bars; Stop ends it. It returns at once: the first reading, which
// for a NATS queue asks its broker, is the goroutine's.
func (p *progress) Start(l observe.Live) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started, p.quit = true, make(chan struct{})
	p.wg.Go(func() { p.poll(l) })
}

// Stop reads the counters once more, draws the last frame, writes what
// was printed since the previous one and shuts the container down; the
// cursor is left below the bars. Later writes go straight to their
// files. Safe to call more than once, and without Start; every goroutine
// of the bars has ended when it returns.
func (p *progress) Stop() {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.stopped = true
		quit := p.quit
		p.mu.Unlock()
		if quit != nil {
			close(quit)
			p.wg.Wait()
		}
		p.mu.Lock() // writes wait for the last frame, then go straight out
		defer p.mu.Unlock()
		for _, r := range p.rows {
			r.bar.Abort(false) // the last bar to end asks for the final frame
		}
		p.c.Wait()
		p.drawing = false
	})
}

// poll reads l and redraws every progressPoll until Stop; the last
// reading is drawn by Stop.
func (p *progress) poll(l observe.Live) {
	s := l.Snapshot()
	p.addRows(s)
	if len(p.rows) == 0 {
		return
	}
	t := time.NewTicker(progressPoll)
	defer t.Stop()
	for {
		for _, r := range p.rows {
			r.update(s)
		}
		select {
		case <-p.quit:
			return
		case p.refresh <- nil:
		case <-p.ended: // c gave up drawing; Stop still ends the bars
		}
		select {
		case <-p.quit:
			s = l.Snapshot()
			for _, r := range p.rows {
				r.update(s)
			}
			return
		case <-t.C:
			s = l.Snapshot()
		}
	}
}

// addRows makes the bars for the stages and queues of s: producers (and
// the replay of a resumed run), queues, then consumers, the way items
// flow. Writes go through the container from now on.
func (p *progress) addRows(s observe.Snapshot) {
	var rows []*progressRow
	for i, st := range s.Stages {
		if st.Kind != "consumer" {
			rows = append(rows, &progressRow{kind: rowProducer, name: st.Name, index: i, total: st.Total})
		}
	}
	for i, q := range s.Queues {
		rows = append(rows, &progressRow{kind: rowQueue, name: q.Name, index: i, total: int64(q.Capacity)})
	}
	for i, st := range s.Stages {
		if st.Kind == "consumer" {
			rows = append(rows, &progressRow{kind: rowConsumer, name: st.Name, index: i, total: -1})
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rows {
		r.text.Store(&rowText{})
		// Total 0: the bar never completes by itself, only in Stop.
		bar, err := p.c.Add(0, r.filler().Build(), mpb.BarWidth(progressWidth),
			mpb.PrependDecorators(
				decor.Name(r.name, decor.WCSyncSpaceR),
				decor.Any(func(decor.Statistics) string { return r.text.Load().count }, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(
				decor.Any(func(decor.Statistics) string { return r.text.Load().rate }, decor.WCSyncSpaceR),
				decor.Any(func(decor.Statistics) string { return r.text.Load().more }, decor.WCSyncWidthR)))
		if err != nil { // the container gave up drawing
			break
		}
		if r.total > 0 {
			bar.SetTotal(r.total, false) // shown; reaching it completes nothing
		}
		r.bar = bar
		p.rows = append(p.rows, r)
	}
	p.drawing = len(p.rows) > 0
}

type rowKind int

const (
	rowProducer rowKind = iota // a producer or the replay: made of total
	rowQueue                   // depth of capacity
	rowConsumer                // items taken
)

// progressRow is one bar. The poller updates it; its decorators, run by
// mpb's goroutines, read text.
type progressRow struct {
	kind  rowKind
	name  string
	index int   // in Snapshot.Stages or Snapshot.Queues
	total int64 // items to make, queue capacity; <= 0 unknown or unbounded
	bar   *mpb.Bar
	text  atomic.Pointer[rowText]

	rate   float64       // items a second (rated)
	last   int64         // count at the last reading
	lastAt time.Duration // when, into the run
}

// rowText is what a row's decorators show, around its bar.
type rowText struct{ count, rate, more string }

// filler is the bar's drawing: a bar against a known total, else blanks
// as wide, so the columns after it stay aligned.
func (r *progressRow) filler() mpb.BarFillerBuilder {
	if r.total > 0 || (r.kind == rowProducer && r.total == 0) {
		return mpb.BarStyle()
	}
	return blankFiller{}
}

type blankFiller struct{}

func (blankFiller) Build() mpb.BarFiller {
	return mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
		n := st.AvailableWidth
		if st.RequestedWidth > 0 {
			n = min(st.RequestedWidth, n)
		}
		if n < 2 { // mpb's bar draws nothing when its brackets do not fit
			return nil
		}
		_, err := io.WriteString(w, strings.Repeat(" ", n))
		return err
	})
}

// update moves the row to the counters of s.
func (r *progressRow) update(s observe.Snapshot) {
	var t rowText
	var cur int64
	switch r.kind {
	case rowQueue:
		if r.index >= len(s.Queues) || s.Queues[r.index].Name != r.name {
			return
		}
		q := s.Queues[r.index]
		cur = int64(q.Depth)
		t = queueText(q)
	default:
		if r.index >= len(s.Stages) || s.Stages[r.index].Name != r.name {
			return
		}
		st := s.Stages[r.index]
		if r.kind == rowProducer {
			cur = st.Produced
		} else {
			cur = st.Taken // a consumer's items end in its producer's ledger
		}
		r.rated(cur, s.Elapsed)
		t = stageText(st, r.rate)
	}
	r.text.Store(&t)
	r.bar.SetCurrent(cur)
}

// rated folds the count at elapsed into the row's rate: the plain average
// over the first progressRate, then a moving average over progressRate,
// so a stage that stalls shows its rate fall.
func (r *progressRow) rated(count int64, elapsed time.Duration) {
	dt := (elapsed - r.lastAt).Seconds()
	if dt <= 0 {
		return
	}
	if elapsed < progressRate { // too early for a moving average: the mean so far
		r.rate = float64(count) / elapsed.Seconds()
	} else {
		inst := float64(count-r.last) / dt
		r.rate += (1 - math.Exp(-dt/progressRate.Seconds())) * (inst - r.rate)
	}
	r.last, r.lastAt = count, elapsed
}

// stageText is a producer's or consumer's row: items made (of its
// total) or taken, the rate, then for a producer the time left and how
// many of its items failed, for a consumer the items it emitted.
func stageText(st observe.StageProgress, rate float64) rowText {
	t := rowText{rate: formatRate(rate)}
	if st.Kind == "consumer" {
		t.count = fmt.Sprintf("%d taken", st.Taken)
		if st.Produced > 0 {
			t.more = fmt.Sprintf("%d emitted", st.Produced)
		}
		return t
	}
	verb := "made"
	if st.Kind == "replay" {
		verb = "replayed"
	}
	if st.Total < 0 {
		t.count = fmt.Sprintf("%d %s", st.Produced, verb)
		return t
	}
	t.count = fmt.Sprintf("%d/%d %s", st.Produced, st.Total, verb)
	switch left := st.Total - st.Produced; {
	case left <= 0:
		t.more = "done"
	case rate > 0:
		t.more = "ETA " + formatETA(time.Duration(float64(left)/rate*float64(time.Second)))
	default:
		t.more = "ETA ?"
	}
	if st.Failed > 0 { // of its items, wherever they failed
		t.more += fmt.Sprintf(", %d failed", st.Failed)
	}
	return t
}

// queueText is a queue's row: its depth (of its capacity), the deepest it
// got.
func queueText(q observe.QueueStats) rowText {
	t := rowText{count: fmt.Sprintf("%d queued", q.Depth), rate: fmt.Sprintf("max %d", q.MaxDepth)}
	if q.Capacity > 0 {
		t.count = fmt.Sprintf("%d/%d queued", q.Depth, q.Capacity)
	}
	return t
}

func formatRate(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.1f/s", r)
	}
	return fmt.Sprintf("%.0f/s", r)
}

func formatETA(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}
