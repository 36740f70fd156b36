// Command w1 is the hand-written reference for bench/w1.yaml: one producer
// formats "watermelon %d" into a buffered channel of capacity 1000, one
// item per send, and four consumers check len(item) > 0. No pcrun code.
//
//	w1 N
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
		fmt.Fprintln(os.Stderr, "usage: w1 N")
		os.Exit(2)
	}
	ch := make(chan string, 1000)
	go func() {
		for i := range n {
			ch <- fmt.Sprintf("watermelon %d", i)
		}
		close(ch)
	}()
	var done atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			k := int64(0)
			for it := range ch {
				if len(it) > 0 {
					k++
				}
			}
			done.Add(k)
		})
	}
	wg.Wait()
	if done.Load() != int64(n) {
		fmt.Fprintf(os.Stderr, "w1: %d done, want %d\n", done.Load(), n)
		os.Exit(1)
	}
}
