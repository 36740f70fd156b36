package nats

// Delivery is at least once: the broker delivers a message again when
// its ack_wait passes without word (a step slower than the keeper could
// cover, a process paused), or when an acknowledgement is lost (a broker
// restart). Within one process, every delivery of a message carries its
// stream sequence, so the queue tells them apart and hands a message to
// a reader once:
//
//   - a delivery of a message a reader here holds (fetched, taken, not yet
//     acknowledged or handed back) is kept beside it, and goes the way
//     the first one goes: acknowledged with it, or handed back with it;
//   - a delivery of a message this process finished recently is
//     acknowledged again at once (its first acknowledgement was lost).
//
// Such deliveries count only in QueueStats.Redelivered, never in the
// ledger. finishedKeep bounds the memory of finished messages: a message
// is delivered again within ack_wait of its lost acknowledgement, while
// a run finishes far fewer items than that in the meantime.

const finishedKeep = 1 << 16

// finished remembers the stream sequences of the last finishedKeep
// messages this process acknowledged.
type finished struct {
	set  map[uint64]struct{}
	ring []uint64
	next int
}

func (f *finished) add(seq uint64) {
	if f.set == nil {
		f.set, f.ring = map[uint64]struct{}{}, make([]uint64, 0, 1024)
	}
	if _, ok := f.set[seq]; ok {
		return
	}
	if len(f.ring) < finishedKeep {
		f.ring = append(f.ring, seq)
	} else {
		delete(f.set, f.ring[f.next])
		f.ring[f.next] = seq
		f.next = (f.next + 1) % finishedKeep
	}
	f.set[seq] = struct{}{}
}

func (f *finished) has(seq uint64) bool {
	_, ok := f.set[seq]
	return ok
}

// admit reports whether d, just fetched (and held), is to be handed to a
// reader: not when it is another delivery of a message held or finished
// here. It keeps such a delivery beside the held one, or acknowledges
// it again.
func (q *natsQueue) admit(d *delivery) bool {
	if d.seq == 0 {
		return true // no metadata: nothing to tell deliveries apart by
	}
	q.hmu.Lock()
	if first := q.bySeq[d.seq]; first != nil {
		first.dups = append(first.dups, d) // stays held: the keeper keeps it in progress too
		q.hmu.Unlock()
		return false
	}
	if q.done.has(d.seq) {
		delete(q.held, d)
		q.hmu.Unlock()
		d.msg.Ack()
		return false
	}
	q.bySeq[d.seq] = d
	q.hmu.Unlock()
	return true
}

// settle ends this process's hold on d's message, acknowledged (ack) or
// handed back; the deliveries kept beside it go the same way. The caller
// acknowledges or hands back d itself.
func (q *natsQueue) settle(d *delivery, ack bool) {
	q.hmu.Lock()
	delete(q.held, d)
	dups := d.dups
	d.dups = nil
	for _, x := range dups {
		delete(q.held, x)
	}
	if d.seq != 0 && q.bySeq[d.seq] == d {
		delete(q.bySeq, d.seq)
	}
	if ack && d.seq != 0 {
		q.done.add(d.seq)
	}
	q.hmu.Unlock()
	for _, x := range dups {
		if ack {
			x.msg.Ack()
		} else {
			x.msg.Nak()
		}
	}
}
