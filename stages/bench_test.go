package stages

import (
	"context"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// Benchmarks of what a worker does per item: evaluate a template, run
// `when`, run steps. Compare runs with benchstat:
//
//	go test ./stages -run '^$' -bench . -count 6 > old.txt

// BenchmarkTemplate evaluates a producer's `item` template, the way
// ProducerWorker.Item does for every item.
func BenchmarkTemplate(b *testing.B) {
	for _, bc := range []struct{ name, item string }{
		{"constant", `"watermelon"`},
		{"single", `"${i}"`},
		{"single_string", `"${worker}"`},
		{"mixed", `"watermelon ${i}"`},
		{"mixed_two", `"${worker} made ${i} of ${count}"`},
		{"expr", `"${i * 2 + 1}"`},
		{"map", `{n: "${i}", name: "watermelon ${i}", kind: fruit}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, ds := Compile(benchParse(b, producerFile(nil, bc.item)), noEnv)
			if ds.HasErrors() {
				b.Fatal(ds)
			}
			w := g.Producers[0].Worker(1)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := w.Item(i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConsumer runs one consumer worker on an item: `when` alone,
// a print step, an emit step.
func BenchmarkConsumer(b *testing.B) {
	for _, bc := range []struct{ name, stage string }{
		{"when", "    when: len(item) > 0\n"},
		{"print", "    do:\n      - print: \"${worker} ate ${item}\"\n"},
		{"emit", "    to: out\n    do:\n      - emit: \"cooked ${item}\"\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := "queues: {main: {}, out: {}}\nproducers:\n  - {name: p, count: 1, item: x, to: main}\n" +
				"consumers:\n  - name: c\n    from: main\n" + bc.stage +
				"  - {name: d, from: out, do: [print: x]}\n"
			g, ds := Compile(benchParse(b, src), noEnv)
			if ds.HasErrors() {
				b.Fatal(ds)
			}
			w := g.Consumers[0].Worker(1, discardFx{})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Handle(ctx, "watermelon 12345"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchParse(b *testing.B, src string) *config.Pipeline {
	b.Helper()
	pl, ds := config.Parse(testFile, []byte(src))
	if pl == nil || ds.HasErrors() {
		b.Fatalf("config.Parse:\n%v\nsource:\n%s", ds, src)
	}
	return pl
}

// discardFx does nothing: the benchmarks measure the steps, not the queues.
type discardFx struct{}

func (discardFx) Print([]byte) error                         { return nil }
func (discardFx) Emit(context.Context, any) error            { return nil }
func (discardFx) Sleep(context.Context, time.Duration) error { return nil }
func (discardFx) Exec(context.Context, *Cmd) (ExecResult, error) {
	return ExecResult{}, nil
}
func (discardFx) Write(string, []byte) error { return nil }
