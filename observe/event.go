package observe

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// EventKind says what happened. The names (String) are the `event` field of
// the JSON lines `pcrun run --events` writes; docs/events.md lists them.
type EventKind uint8

const (
	// EventRun is the first event of a run: Stage is the pipeline's name,
	// Msg the wall-clock time it started (RFC 3339).
	EventRun EventKind = iota
	// EventQueue follows EventRun, once per queue the run uses: Queue and
	// its Capacity (0: unbounded).
	EventQueue
	// EventStarted: a worker started.
	EventStarted
	// EventStopped: a worker exited.
	EventStopped
	// EventProduced: a producer (or the replay of a spill file) put Item
	// into Queue, which then held Depth entries.
	EventProduced
	// EventEmitted: a consumer put Item into Queue (an emit step or a dead
	// letter).
	EventEmitted
	// EventSentinel: an end marker was put into Queue (strategy sentinel).
	EventSentinel
	// EventTaken: a worker took Item from Queue, which then held Depth
	// entries. Item 0 is an end marker.
	EventTaken
	// EventDone, EventFiltered, EventFailed: a consumer finished Item:
	// its steps ran, its `when` was false, or it failed (Msg says why).
	EventDone
	EventFiltered
	EventFailed
	// EventAbandoned: Item will not be finished: left in Queue at the
	// end, cut off by a stop mid-steps, or cut off while being put.
	EventAbandoned
	// EventIdle: the worker waited Dur, ending at T, for an item in the
	// empty Queue (or for Queue's items to be finished, strategy join).
	EventIdle
	// EventBlocked: the worker waited Dur, ending at T, to put into the
	// full Queue.
	EventBlocked
	// EventClosed: Queue was closed (strategy close): its readers drain it.
	EventClosed
	// EventDeadlock: no live worker can make progress; Msg says who waits
	// on what.
	EventDeadlock
	// EventEnd is the last event: Msg is the ledger line.
	EventEnd
)

var eventNames = [...]string{"run", "queue", "started", "stopped", "produced", "emitted", "sentinel", "taken",
	"done", "filtered", "failed", "abandoned", "idle", "blocked", "closed", "deadlock", "end"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event" + strconv.Itoa(int(k))
}

// Event is one thing that happened in a run. Fields that do not apply are
// zero (Depth: -1 when unknown).
type Event struct {
	T      time.Duration // since the run started
	Kind   EventKind
	Stage  string
	Worker string
	Queue  string
	Item   uint64 // the item's id, unique in the run
	Depth  int    // entries in Queue after a put or take; -1: unknown
	// Capacity is Queue's (EventQueue only; 0: unbounded).
	Capacity int
	Dur      time.Duration
	Msg      string
}

// AppendJSON appends the event as one line of JSON (no newline), with
// fields in a fixed order and those that do not apply left out:
//
//	{"t":0.012345,"event":"taken","stage":"eat","worker":"eat-2","queue":"fruit","item":17,"depth":3}
//
// t and dur are seconds, to the microsecond.
func (e Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"t":`...)
	b = appendSeconds(b, e.T)
	b = append(b, `,"event":"`...)
	b = append(b, e.Kind.String()...)
	b = append(b, '"')
	b = appendField(b, "stage", e.Stage)
	b = appendField(b, "worker", e.Worker)
	b = appendField(b, "queue", e.Queue)
	if e.Item != 0 {
		b = append(b, `,"item":`...)
		b = strconv.AppendUint(b, e.Item, 10)
	}
	if e.Depth >= 0 && e.Queue != "" && e.Kind != EventQueue && e.Kind != EventClosed && e.Kind != EventIdle && e.Kind != EventBlocked && e.Kind != EventAbandoned {
		b = append(b, `,"depth":`...)
		b = strconv.AppendInt(b, int64(e.Depth), 10)
	}
	if e.Kind == EventQueue {
		b = append(b, `,"capacity":`...)
		b = strconv.AppendInt(b, int64(e.Capacity), 10)
	}
	if e.Dur != 0 {
		b = append(b, `,"dur":`...)
		b = appendSeconds(b, e.Dur)
	}
	b = appendField(b, "msg", e.Msg)
	return append(b, '}')
}

func appendSeconds(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64)
}

// appendField appends ,"key":"value" with value escaped as JSON, unless
// value is empty.
func appendField(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return appendJSONString(b, value)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
