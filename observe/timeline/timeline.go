package timeline

import (
	"math"
	"sync"
	"time"

	"github.com/pcrun/pcrun/observe"
)

// Timeline is an observe.Observer that draws a run: a row per worker with
// its busy, idle and blocked spans, and each queue's depth over time
// beneath. It records while the run goes on, in bounded memory however
// long the run: per worker at most spanBound waits and per queue at most
// sampleBound depth samples; past that it merges neighbours at a
// resolution it doubles as needed, so a short run is drawn exactly and a
// long one at the resolution the picture can show.
//
// A queue's capacity comes from its EventQueue; without one, a queue some
// worker was blocked on is drawn with its greatest depth as its capacity
// (a memory queue is full then), another scaled to its greatest depth.
type Timeline struct {
	observe.Base
	mu        sync.Mutex
	name      string // the pipeline's
	started   string // RFC 3339, from EventRun
	ledger    string // from EventEnd
	ended     bool
	end       int64 // ns: the latest event
	workers   map[workerKey]*worker
	queues    map[string]*queue
	queueList []*queue // by first appearance: queue.idx
	deadlocks []mark
	lastW     *worker // the last looked up: most events come in runs
	lastQ     *queue
}

type workerKey struct{ stage, worker string }

type worker struct {
	stage, name string
	kind        byte  // 'p' put before taking, 'c' took first, 0 neither
	start, stop int64 // ns; -1: not seen
	spans       spanList
	fails       series // when its items failed
}

// startedAt records that w started at at; the earliest start counts.
func (w *worker) startedAt(at int64) {
	if w.start < 0 || at < w.start {
		w.start = at
	}
}

type queue struct {
	name     string
	idx      uint16
	depth    series
	maxDepth int
	capacity int   // from EventQueue; 0: unbounded, -1: not reported
	blocked  bool  // a worker waited for room: the queue was full at maxDepth
	closed   int64 // ns; -1: not closed
}

type mark struct {
	t   int64
	msg string
}

// New returns an empty Timeline; pass it as the run's observer
// (pipeline.Options.Observers).
func New() *Timeline {
	return &Timeline{workers: map[workerKey]*worker{}, queues: map[string]*queue{}}
}

// Wants asks for the run's events.
func (t *Timeline) Wants() observe.Want { return observe.WantEvents }

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
		t.queueOf(e.Queue).capacity = e.Capacity
	case observe.EventEnd:
		t.ledger, t.ended = e.Msg, true
	case observe.EventStarted:
		t.workerOf(e).startedAt(at)
	case observe.EventStopped:
		t.workerOf(e).stop = at
	case observe.EventIdle, observe.EventBlocked:
		t.wait(e, at)
	case observe.EventProduced, observe.EventEmitted, observe.EventSentinel, observe.EventTaken:
		t.move(e, at)
	case observe.EventFailed:
		if e.Worker != "" {
			t.workerOf(e).fails.add(at, 0)
		}
	case observe.EventClosed:
		if q := t.queueOf(e.Queue); q.closed < 0 {
			q.closed = at
		}
	case observe.EventDeadlock:
		if len(t.deadlocks) < 16 {
			t.deadlocks = append(t.deadlocks, mark{at, e.Msg})
		}
	}
}

// wait records a worker's wait that ended at at: for an item or a join
// (idle), or for room in a full queue (blocked). Call with t.mu.
func (t *Timeline) wait(e observe.Event, at int64) {
	if e.Worker == "" || e.Dur <= 0 {
		return
	}
	w, q := t.workerOf(e), t.queueOf(e.Queue)
	sp := span{start: max(at-int64(e.Dur), 0), end: at, n: 1, q: q.idx}
	if e.Kind == observe.EventBlocked {
		sp.blocked, q.blocked = sp.end-sp.start, true
	} else {
		sp.idle = sp.end - sp.start
	}
	w.spans.add(sp)
}

// move records an item put into or taken from a queue at at: the queue's
// depth after it, and whether its worker put or took first. Call with
// t.mu.
func (t *Timeline) move(e observe.Event, at int64) {
	if e.Queue != "" && e.Depth >= 0 {
		q := t.queueOf(e.Queue)
		q.maxDepth = max(q.maxDepth, e.Depth)
		q.depth.add(at, int32(min(e.Depth, math.MaxInt32)))
	}
	if e.Worker != "" && e.Kind != observe.EventSentinel {
		if w := t.workerOf(e); w.kind == 0 {
			w.kind = 'p'
			if e.Kind == observe.EventTaken {
				w.kind = 'c'
			}
		}
	}
}

// workerOf returns e's worker's record, made on first sight. Call with
// t.mu.
func (t *Timeline) workerOf(e observe.Event) *worker {
	if w := t.lastW; w != nil && w.name == e.Worker && w.stage == e.Stage {
		return w
	}
	k := workerKey{e.Stage, e.Worker}
	w := t.workers[k]
	if w == nil {
		w = &worker{stage: e.Stage, name: e.Worker, start: -1, stop: -1}
		t.workers[k] = w
	}
	t.lastW = w
	return w
}

// queueOf returns the named queue's record, made on first sight. Call
// with t.mu.
func (t *Timeline) queueOf(name string) *queue {
	if q := t.lastQ; q != nil && q.name == name {
		return q
	}
	q := t.queues[name]
	if q == nil {
		q = &queue{name: name, idx: uint16(min(len(t.queueList), math.MaxUint16)), closed: -1, capacity: -1}
		t.queues[name] = q
		t.queueList = append(t.queueList, q)
	}
	t.lastQ = q
	return q
}

// Recording bounds. A coalesced list keeps at most half its bound, so a
// doubling pass runs once per bound/2 additions.
const (
	spanBound   = 1 << 13
	sampleBound = 1 << 13
	firstRes    = int64(time.Microsecond) // the first merge resolution
)

// span is a stretch of a worker's life that holds its waits: one wait
// exactly (n == 1, idle or blocked == end-start), or merged neighbours
// with the time they spent waiting.
type span struct {
	start, end    int64 // [start, end), ns since the run started
	idle, blocked int64 // ns waited within it
	n             uint32
	q             uint16 // the queue of its first wait
}

func (a *span) merge(b span) {
	a.end = max(a.end, b.end)
	a.idle += b.idle
	a.blocked += b.blocked
	a.n += b.n
}

// spanList is a worker's waits in time order. Once past spanBound it is
// coalesced at resolution res: neighbours less than res apart merge while
// the merged span stays within 2·res, so a long wait stays exact and the
// list holds at most about 2·duration/res spans.
type spanList struct {
	s   []span
	res int64 // 0: every wait exact
}

func (l *spanList) mergeable(a *span, b span) bool {
	return l.res > 0 && b.start-a.end < l.res && b.end-a.start <= 2*l.res
}

func (l *spanList) add(sp span) {
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
	if len(l.s) <= spanBound {
		return
	}
	for len(l.s) > spanBound/2 {
		l.res = max(2*l.res, firstRes)
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

// sample is what a queue's depth did from t until the next sample: it
// ranged over [min, max] and ended at last.
type sample struct {
	t              int64
	min, max, last int32
}

// series is a queue's depth over time: one sample per distinct time, and
// once past sampleBound one per bucket of res, which keeps its minimum and
// maximum, so a spike stays visible however long the run.
type series struct {
	s   []sample
	res int64 // 0: exact
}

func (se *series) sameBucket(a, b int64) bool {
	return a == b || se.res > 0 && a/se.res == b/se.res
}

func (se *series) add(t int64, v int32) {
	if n := len(se.s); n > 0 {
		last := &se.s[n-1]
		if t = max(t, last.t); se.sameBucket(last.t, t) {
			last.min, last.max, last.last = min(last.min, v), max(last.max, v), v
			return
		}
	}
	se.s = append(se.s, sample{t, v, v, v})
	if len(se.s) <= sampleBound {
		return
	}
	for len(se.s) > sampleBound/2 {
		se.res = max(2*se.res, firstRes)
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
