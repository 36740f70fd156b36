package pipeline

import (
	"math"
	"sync"
	"time"

	"github.com/pcrun/pcrun/observe"
)

// Timeline is an Observer that draws the run (`pcrun run --timeline`): a
// row per worker with its busy, idle and blocked spans, and each queue's
// depth over time beneath. It records while the run goes on, in bounded
// memory however long the run: per worker at most tlSpanBound waits and
// per queue at most tlSampleBound depth samples; past that it merges
// neighbours at a resolution it doubles as needed, so a short run is drawn
// exactly and a long one at the resolution the picture can show.
//
// A queue's capacity comes from its EventQueue; without one, a queue some
// worker was blocked on is drawn with its greatest depth as its capacity
// (a memory queue is full then), another scaled to its greatest depth.
type Timeline struct {
	mu        sync.Mutex
	name      string // the pipeline's
	started   string // RFC 3339, from EventRun
	ledger    string // from EventEnd
	ended     bool
	end       int64 // ns: the latest event
	workers   map[tlWorkerKey]*tlWorker
	queues    map[string]*tlQueue
	queueList []*tlQueue // by first appearance: tlQueue.idx
	deadlocks []tlMark
	lastW     *tlWorker // the last looked up: most events come in runs
	lastQ     *tlQueue
}

type tlWorkerKey struct{ stage, worker string }

type tlWorker struct {
	stage, name string
	kind        byte  // 'p' put before taking, 'c' took first, 0 neither
	start, stop int64 // ns; -1: not seen
	spans       tlSpanList
	fails       tlSeries // when its items failed
}

type tlQueue struct {
	name     string
	idx      uint16
	depth    tlSeries
	maxDepth int
	capacity int   // from EventQueue; 0: unbounded, -1: not reported
	blocked  bool  // a worker waited for room: the queue was full at maxDepth
	closed   int64 // ns; -1: not closed
}

type tlMark struct {
	t   int64
	msg string
}

// NewTimeline returns an empty Timeline; pass it as Options.Observer.
func NewTimeline() *Timeline {
	return &Timeline{workers: map[tlWorkerKey]*tlWorker{}, queues: map[string]*tlQueue{}}
}

// Observe records an event. It is safe for concurrent use and does not
// block beyond a short critical section.
func (t *Timeline) Observe(e observe.Event) {
	at := int64(e.T)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end = max(t.end, at)
	switch e.Kind {
	case observe.EventRun:
		t.name, t.started = e.Stage, e.Msg
	case observe.EventQueue:
		t.queue(e.Queue).capacity = e.Capacity
	case observe.EventEnd:
		t.ledger, t.ended = e.Msg, true
	case observe.EventStarted:
		if w := t.worker(e); w.start < 0 || at < w.start {
			w.start = at
		}
	case observe.EventStopped:
		t.worker(e).stop = at
	case observe.EventIdle, observe.EventBlocked:
		if e.Worker == "" || e.Dur <= 0 {
			return
		}
		w, q := t.worker(e), t.queue(e.Queue)
		sp := tlSpan{start: max(at-int64(e.Dur), 0), end: at, n: 1, q: q.idx}
		if e.Kind == observe.EventBlocked {
			sp.blocked, q.blocked = sp.end-sp.start, true
		} else {
			sp.idle = sp.end - sp.start
		}
		w.spans.add(sp)
	case observe.EventProduced, observe.EventEmitted, observe.EventSentinel, observe.EventTaken:
		if e.Queue != "" && e.Depth >= 0 {
			q := t.queue(e.Queue)
			q.maxDepth = max(q.maxDepth, e.Depth)
			q.depth.add(at, int32(min(e.Depth, math.MaxInt32)))
		}
		if e.Worker != "" && e.Kind != observe.EventSentinel {
			if w := t.worker(e); w.kind == 0 {
				w.kind = 'p'
				if e.Kind == observe.EventTaken {
					w.kind = 'c'
				}
			}
		}
	case observe.EventFailed:
		if e.Worker != "" {
			t.worker(e).fails.add(at, 0)
		}
	case observe.EventClosed:
		if q := t.queue(e.Queue); q.closed < 0 {
			q.closed = at
		}
	case observe.EventDeadlock:
		if len(t.deadlocks) < 16 {
			t.deadlocks = append(t.deadlocks, tlMark{at, e.Msg})
		}
	}
}

// worker returns e's worker's record, made on first sight. Call with t.mu.
func (t *Timeline) worker(e observe.Event) *tlWorker {
	if w := t.lastW; w != nil && w.name == e.Worker && w.stage == e.Stage {
		return w
	}
	k := tlWorkerKey{e.Stage, e.Worker}
	w := t.workers[k]
	if w == nil {
		w = &tlWorker{stage: e.Stage, name: e.Worker, start: -1, stop: -1}
		t.workers[k] = w
	}
	t.lastW = w
	return w
}

// queue returns the named queue's record, made on first sight. Call with
// t.mu.
func (t *Timeline) queue(name string) *tlQueue {
	if q := t.lastQ; q != nil && q.name == name {
		return q
	}
	q := t.queues[name]
	if q == nil {
		q = &tlQueue{name: name, idx: uint16(min(len(t.queueList), math.MaxUint16)), closed: -1, capacity: -1}
		t.queues[name] = q
		t.queueList = append(t.queueList, q)
	}
	t.lastQ = q
	return q
}

// Recording bounds. A coalesced list keeps at most half its bound, so a
// doubling pass runs once per bound/2 additions.
const (
	tlSpanBound   = 1 << 13
	tlSampleBound = 1 << 13
	tlFirstRes    = int64(time.Microsecond) // the first merge resolution
)

// tlSpan is a stretch of a worker's life that holds its waits: one wait
// exactly (n == 1, idle or blocked == end-start), or merged neighbours
// with the time they spent waiting.
type tlSpan struct {
	start, end    int64 // [start, end), ns since the run started
	idle, blocked int64 // ns waited within it
	n             uint32
	q             uint16 // the queue of its first wait
}

func (a *tlSpan) merge(b tlSpan) {
	a.end = max(a.end, b.end)
	a.idle += b.idle
	a.blocked += b.blocked
	a.n += b.n
}

// tlSpanList is a worker's waits in time order. Once past tlSpanBound it is
// coalesced at resolution res: neighbours less than res apart merge while
// the merged span stays within 2·res, so a long wait stays exact and the
// list holds at most about 2·duration/res spans.
type tlSpanList struct {
	s   []tlSpan
	res int64 // 0: every wait exact
}

func (l *tlSpanList) mergeable(a *tlSpan, b tlSpan) bool {
	return l.res > 0 && b.start-a.end < l.res && b.end-a.start <= 2*l.res
}

func (l *tlSpanList) add(sp tlSpan) {
	if n := len(l.s); n > 0 {
		last := &l.s[n-1]
		sp.start = max(sp.start, last.end) // a worker waits once at a time
		sp.end = max(sp.end, sp.start)
		if l.mergeable(last, sp) {
			last.merge(sp)
			return
		}
	}
	l.s = append(l.s, sp)
	if len(l.s) <= tlSpanBound {
		return
	}
	for len(l.s) > tlSpanBound/2 {
		l.res = max(2*l.res, tlFirstRes)
		out := l.s[:1]
		for _, sp := range l.s[1:] {
			if last := &out[len(out)-1]; l.mergeable(last, sp) {
				last.merge(sp)
			} else {
				out = append(out, sp)
			}
		}
		l.s = out
	}
}

// tlSample is what a queue's depth did from t until the next sample: it
// ranged over [min, max] and ended at last.
type tlSample struct {
	t              int64
	min, max, last int32
}

// tlSeries is a queue's depth over time: one sample per distinct time, and
// once past tlSampleBound one per bucket of res, which keeps its minimum and
// maximum, so a spike stays visible however long the run.
type tlSeries struct {
	s   []tlSample
	res int64 // 0: exact
}

func (se *tlSeries) sameBucket(a, b int64) bool {
	return a == b || se.res > 0 && a/se.res == b/se.res
}

func (se *tlSeries) add(t int64, v int32) {
	if n := len(se.s); n > 0 {
		last := &se.s[n-1]
		if t = max(t, last.t); se.sameBucket(last.t, t) {
			last.min, last.max, last.last = min(last.min, v), max(last.max, v), v
			return
		}
	}
	se.s = append(se.s, tlSample{t, v, v, v})
	if len(se.s) <= tlSampleBound {
		return
	}
	for len(se.s) > tlSampleBound/2 {
		se.res = max(2*se.res, tlFirstRes)
		out := se.s[:1]
		for _, x := range se.s[1:] {
			if last := &out[len(out)-1]; se.sameBucket(last.t, x.t) {
				last.min, last.max, last.last = min(last.min, x.min), max(last.max, x.max), x.last
			} else {
				out = append(out, x)
			}
		}
		se.s = out
	}
}
