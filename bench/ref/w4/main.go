// Command w4 is the hand-written reference for bench/w4.yaml: a producer
// and two consumers joined by a buffered channel of capacity 1000; each
// consumer writes one line per item through one shared, mutex-guarded
// buffered writer on stdout, flushed at the end. No pcrun code.
//
//	w4 N > file
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: w4 N")
		os.Exit(2)
	}
	ch := make(chan string, 1000)
	go func() {
		for i := range n {
			ch <- fmt.Sprintf("watermelon %d", i)
		}
		close(ch)
	}()
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 1; c <= 2; c++ {
		wg.Go(func() {
			worker := "c-" + strconv.Itoa(c)
			for it := range ch {
				line := worker + " ate " + it + "\n"
				mu.Lock()
				out.WriteString(line)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "w4:", err)
		os.Exit(1)
	}
}
