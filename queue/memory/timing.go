package memory

// How the summary's times are measured, without a clock read per item on
// the hot path (a clock read costs about as much as moving an item):
//
//   - Busy, idle and blocked: a worker reads the clock only when a queue
//     operation has to wait (world.wait), which costs a sleep and a wake-up
//     anyway. Its idle time is its waits for items (and joins), its
//     blocked time its waits to put into a full queue, and its busy time
//     the rest of its life.
//   - The wait of an item from put to take is sampled: every item among
//     the first waitSampleAll of the run, then one in waitSampleEvery, is
//     stamped when it is put and measured when it is taken. A batch of
//     items put together shares one clock read.

const (
	waitSampleAll   = 1024
	waitSampleEvery = 64
)

// sampled reports whether an item's wait in a queue is measured.
func sampled(id uint64) bool {
	return id != 0 && (id <= waitSampleAll || id%waitSampleEvery == 0)
}
