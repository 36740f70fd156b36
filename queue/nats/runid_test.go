package nats_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/pcrun/pcrun/pipeline"
	natsq "github.com/pcrun/pcrun/queue/nats"
)

// Runs of one pipeline on one broker, told apart by run ids (scope.go),
// and a run of every stage that would reset a live run (rungen.go).

const runIDPipeline = `
name: twin
queues: {main: {backend: nats, url: "${url}", capacity: 4}}
producers:
  - {name: p, count: %d, delay: 2ms, item: "%s ${i}"}
consumers:
  - {name: c, replicas: 2, do: [print: "${worker} Ate ${item}"]}
`

// TestNatsRunIDsApart: two runs of every stage of one pipeline at once on
// one broker, with different run ids: each purges and reads only its own
// streams and keys, so each eats exactly its own items.
func TestNatsRunIDsApart(t *testing.T) {
	url := startNats(t)
	const n = 40
	a := goRun(t, fmt.Sprintf(runIDPipeline, n, "a"), url, pipeline.Options{RunID: "a"})
	b := goRun(t, fmt.Sprintf(runIDPipeline, n, "b"), url, pipeline.Options{RunID: "b"})
	for name, ch := range map[string]<-chan natsOutcome{"a": a, "b": b} {
		o := wait(t, ch, "run "+name)
		if o.err != nil {
			t.Fatalf("run %s: %v\n%s", name, o.err, o.stderr)
		}
		var want []string
		for i := range n {
			want = append(want, name+" "+strconv.Itoa(i))
		}
		slices.Sort(want)
		if got := eaten(o.stdout); !slices.Equal(got, want) {
			t.Errorf("run %s ate %v, want its own %d items once each", name, got, n)
		}
	}
	js := jsClient(t, url)
	for _, stream := range []string{"PCRUN_twin_main-run-a", "PCRUN_twin_main-run-b"} {
		if _, err := js.Stream(t.Context(), stream); err != nil {
			t.Errorf("stream %s: %v", stream, err)
		}
	}
}

// TestNatsLiveRunNotReset: a run of every stage refuses to start (and
// purge) while a process of the pipeline's run on the broker is alive,
// naming it and --run-id; with its own run id it runs.
func TestNatsLiveRunNotReset(t *testing.T) {
	url := startNats(t)
	js := jsClient(t, url)
	src := fmt.Sprintf(runIDPipeline, 5, "x")
	// A consumer process of a shared run, waiting for its producer.
	consumer := goRun(t, src, url, pipeline.Options{Only: []string{"c"}})
	waitRoster(t, js, "twin", "main", "the consumer registered", readerProcs(1))
	o := runNats(t, src, url, pipeline.Options{})
	var re *natsq.RunningError
	if !errors.As(o.err, &re) || len(re.Processes) != 1 || !slices.Equal(re.Processes[0].Stages, []string{"c"}) {
		t.Errorf("a run of every stage beside a live run: err %v, want a RunningError naming the consumer", o.err)
	}
	if o = runNats(t, src, url, pipeline.Options{RunID: "mine"}); o.err != nil || len(o.stdout) != 5 {
		t.Errorf("with its own run id: err %v, output %v", o.err, o.stdout)
	}
	// The consumer's run goes on: its producer comes.
	if p := runNats(t, src, url, pipeline.Options{Only: []string{"p"}}); p.err != nil {
		t.Fatalf("producer: %v\n%s", p.err, p.stderr)
	}
	if c := wait(t, consumer, "consumer"); c.err != nil || len(c.stdout) != 5 {
		t.Errorf("consumer: err %v, ate %v", c.err, c.stdout)
	}
}
