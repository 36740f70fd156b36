// Command w3 is the hand-written reference for bench/w3.yaml: a producer,
// two transformers and two consumers joined by two buffered channels of
// capacity 1000. No pcrun code.
//
//	w3 N
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
		fmt.Fprintln(os.Stderr, "usage: w3 N")
		os.Exit(2)
	}
	raw := make(chan string, 1000)
	cooked := make(chan string, 1000)
	go func() {
		for i := range n {
			raw <- fmt.Sprintf("watermelon %d", i)
		}
		close(raw)
	}()
	var cooks sync.WaitGroup
	for range 2 {
		cooks.Go(func() {
			for it := range raw {
				cooked <- "cooked " + it
			}
		})
	}
	go func() { cooks.Wait(); close(cooked) }()
	var done atomic.Int64
	var eaters sync.WaitGroup
	for range 2 {
		eaters.Go(func() {
			k := int64(0)
			for it := range cooked {
				if len(it) > 0 {
					k++
				}
			}
			done.Add(k)
		})
	}
	eaters.Wait()
	if done.Load() != int64(n) {
		fmt.Fprintf(os.Stderr, "w3: %d done, want %d\n", done.Load(), n)
		os.Exit(1)
	}
}
