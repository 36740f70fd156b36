package pipeline_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
)

// TestOnPut checks that an observer sees every item put, by producers and
// by emit steps, once each, and never a sentinel end marker.
func TestOnPut(t *testing.T) {
	g := compile(t, `queues:
  main: {capacity: 1}
  out: {}
shutdown: {strategy: sentinel}
producers:
  - name: p
    to: main
    replicas: 2
    count: 3
    delay: 1s
    item: "${worker}-${i}"
consumers:
  - name: c
    from: main
    to: out
    replicas: 3
    do:
      - sleep: 10ms
      - emit: {from: "${item}"}
  - name: sink
    from: out
    replicas: 2
`)
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		puts := map[string][]string{}
		res, err := pipeline.Run(t.Context(), g, pipeline.Options{Observers: []observe.Observer{observe.Funcs{OnPut: func(q string, v any) {
			mu.Lock()
			defer mu.Unlock()
			puts[q] = append(puts[q], fmt.Sprint(v))
		}}}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"p-1-0", "p-1-1", "p-1-2", "p-2-0", "p-2-1", "p-2-2"}
		var wantOut []string
		for _, w := range want {
			wantOut = append(wantOut, "map[from:"+w+"]")
		}
		slices.Sort(puts["main"])
		slices.Sort(puts["out"])
		if !slices.Equal(puts["main"], want) || !slices.Equal(puts["out"], wantOut) {
			t.Errorf("the observer saw %q, want main %q and out %q", puts, want, wantOut)
		}
		for _, q := range res.Queues {
			if q.Markers == 0 {
				t.Errorf("queue %s: no end markers, the test does not check that puts skip them", q.Name)
			}
		}
	})
}
