package pipeline

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/pcrun/pcrun/stages"
)

// SpillRecord is one line of a spill file (JSON lines). A run with a spill
// writer records every abandoned item ("item" records) and where every
// producer replica stopped ("producer" records); a later run given the file
// to resume from puts the items back into their queues and starts each
// producer replica where it stopped, so the two runs together handle every
// item.
type SpillRecord struct {
	Kind string `json:"kind"` // "item" or "producer"

	// item: the queue it was in (or was being put into), the stage that
	// produced it, its id in that run, why it was abandoned, and the value.
	Queue  string `json:"queue,omitempty"`
	Origin string `json:"origin,omitempty"`
	ID     uint64 `json:"id,omitempty"`
	Reason string `json:"reason,omitempty"` // deadline, interrupt, failure, deadlock, cancelled
	Item   any    `json:"item,omitempty"`

	// producer: the stage and replica, the index of the first item it did
	// not make, and how many it was to make.
	Stage   string `json:"stage,omitempty"`
	Replica int    `json:"replica,omitempty"`
	Next    int    `json:"next,omitempty"`
	Count   int    `json:"count,omitempty"`
}

// spill collects the records of one run; safe for concurrent use. It is
// nil when the run has no spill writer, so recording costs nothing then.
type spill struct {
	mu      sync.Mutex
	records []SpillRecord
}

func (s *spill) add(r SpillRecord) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.records = append(s.records, r)
	s.mu.Unlock()
}

// write writes the producer records (by stage, then replica), then the
// items by id, one JSON line each. A record JSON cannot hold (an item with
// NaN or an infinity in it) is left out and named in the error; every other
// record is still written, so the file never ends in half a line and one
// odd item does not cost the others. items counts the item records written.
func (s *spill) write(w io.Writer) (items int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortStableFunc(s.records, func(a, b SpillRecord) int {
		if a.Kind != b.Kind {
			if a.Kind == "producer" {
				return -1
			}
			return 1
		}
		if a.Kind == "item" {
			return cmp.Compare(a.ID, b.ID)
		}
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Replica, b.Replica))
	})
	bw := bufio.NewWriter(w)
	var bad []string
	for _, r := range s.records {
		line, err := json.Marshal(r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("item %d in queue %s: %v", r.ID, r.Queue, err))
			continue
		}
		bw.Write(line)
		bw.WriteByte('\n')
		if r.Kind == "item" {
			items++
		}
	}
	if err := bw.Flush(); err != nil {
		return items, err
	}
	if len(bad) > 0 {
		return items, fmt.Errorf("%d item(s) left out, JSON cannot hold them; the first: %s", len(bad), bad[0])
	}
	return items, nil
}

// Resume is what a run picks up from an earlier run's spill file.
type Resume struct {
	// Items are put back into their queues in id order by one writer, the
	// "replay" ledger row, which starts with the producers and runs beside
	// them: replayed and new items may interleave.
	Items []SpillRecord
	// Next maps a producer stage and replica to the index it starts at.
	Next map[string]map[int]int
}

// ReadResume reads a spill file. Records of unknown kinds, and item records
// without a queue, are errors naming the line.
func ReadResume(r io.Reader) (*Resume, error) {
	res := &Resume{Next: map[string]map[int]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec SpillRecord
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber() // 3 stays the int 3, as the template made it
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		rec.Item = stages.FromJSON(rec.Item)
		switch rec.Kind {
		case "item":
			if rec.Queue == "" {
				return nil, fmt.Errorf("line %d: an item record needs its queue", line)
			}
			res.Items = append(res.Items, rec)
		case "producer":
			if rec.Stage == "" || rec.Replica < 1 || rec.Next < 0 {
				return nil, fmt.Errorf("line %d: a producer record needs stage, replica >= 1 and next >= 0", line)
			}
			if res.Next[rec.Stage] == nil {
				res.Next[rec.Stage] = map[int]int{}
			}
			res.Next[rec.Stage][rec.Replica] = rec.Next
		default:
			return nil, fmt.Errorf("line %d: unknown record kind %q (want item or producer)", line, rec.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return res, nil
}
