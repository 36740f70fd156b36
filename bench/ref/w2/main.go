// Command w2 is the hand-written reference for bench/w2.yaml: Python's
// JoinableQueue program in Go. Two producers put N/2 items each into a
// buffered channel of capacity 1000 and then join (wait until every item
// put is done); three daemon consumers check len(item) > 0 and mark each
// item done. No pcrun code.
//
//	w2 N
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: w2 N")
		os.Exit(2)
	}
	ch := make(chan string, 1000)
	q := &joinable{}
	q.idle.L = &q.mu
	var producers sync.WaitGroup
	for _, food := range []string{"watermelon", "blueberry"} {
		producers.Go(func() {
			for i := range n / 2 {
				q.unfinished.Add(1)
				ch <- fmt.Sprintf("%s %d", food, i)
			}
			q.join()
		})
	}
	var done atomic.Int64
	var consumers sync.WaitGroup
	for range 3 {
		consumers.Go(func() {
			for it := range ch {
				if len(it) > 0 {
					done.Add(1)
				}
				q.taskDone()
			}
		})
	}
	producers.Wait()
	close(ch) // stop the daemons
	consumers.Wait()
	if done.Load() != int64(n/2*2) {
		fmt.Fprintf(os.Stderr, "w2: %d done, want %d\n", done.Load(), n/2*2)
		os.Exit(1)
	}
}

// joinable counts the items put and not yet done, as a JoinableQueue does.
type joinable struct {
	unfinished atomic.Int64
	mu         sync.Mutex
	idle       sync.Cond
}

func (q *joinable) taskDone() {
	if q.unfinished.Add(-1) == 0 {
		q.mu.Lock()
		q.idle.Broadcast()
		q.mu.Unlock()
	}
}

// join waits until no item put is unfinished.
func (q *joinable) join() {
	q.mu.Lock()
	for q.unfinished.Load() > 0 {
		q.idle.Wait()
	}
	q.mu.Unlock()
}
