package stages

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

func TestProducerWorker(t *testing.T) {
	src := func(replicas string) string {
		return yamlLines(
			"producers:",
			"  - name: maker",
			"    replicas: "+replicas,
			"    count: 3",
			"    delay: \"${ (i + 1) * 10 * replica }ms\"",
			"    item: \"${worker}/${replica}/${name}/${i}/${count}\"",
			"    print: \"${worker} made ${item} (${i + 1} of ${count})\"",
			"consumers:",
			"  - name: eat",
			"    do:",
			"      - print: x",
		)
	}
	tests := []struct {
		name      string
		replicas  string
		replica   int
		worker    string
		items     [3]string
		delays    [3]time.Duration
		printLine [3]string
	}{
		{
			name: "one replica has no suffix", replicas: "1", replica: 1, worker: "maker",
			items:  [3]string{"maker/1/maker/0/3", "maker/1/maker/1/3", "maker/1/maker/2/3"},
			delays: [3]time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond},
			printLine: [3]string{
				"maker made maker/1/maker/0/3 (1 of 3)",
				"maker made maker/1/maker/1/3 (2 of 3)",
				"maker made maker/1/maker/2/3 (3 of 3)",
			},
		},
		{
			name: "several replicas add -N", replicas: "3", replica: 2, worker: "maker-2",
			items:  [3]string{"maker-2/2/maker/0/3", "maker-2/2/maker/1/3", "maker-2/2/maker/2/3"},
			delays: [3]time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond},
			printLine: [3]string{
				"maker-2 made maker-2/2/maker/0/3 (1 of 3)",
				"maker-2 made maker-2/2/maker/1/3 (2 of 3)",
				"maker-2 made maker-2/2/maker/2/3 (3 of 3)",
			},
		},
		{
			name: "first of several replicas", replicas: "2", replica: 1, worker: "maker-1",
			items:  [3]string{"maker-1/1/maker/0/3", "maker-1/1/maker/1/3", "maker-1/1/maker/2/3"},
			delays: [3]time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond},
			printLine: [3]string{
				"maker-1 made maker-1/1/maker/0/3 (1 of 3)",
				"maker-1 made maker-1/1/maker/1/3 (2 of 3)",
				"maker-1 made maker-1/1/maker/2/3 (3 of 3)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, src(tt.replicas))
			p := g.Producers[0]
			if p.Name != "maker" || p.To != "main" || p.Count != 3 || itoa(p.Replicas) != tt.replicas || p.Pos != fpos(2, 11) {
				t.Errorf("producer = {Name %q, To %q, Count %d, Replicas %d, Pos %v}, want {maker, main, 3, %s, %v}",
					p.Name, p.To, p.Count, p.Replicas, p.Pos, tt.replicas, fpos(2, 11))
			}
			w := p.Worker(tt.replica)
			if w.Name() != tt.worker {
				t.Errorf("Name() = %q, want %q", w.Name(), tt.worker)
			}
			for i := range 3 {
				d, err := w.Delay(i)
				if err != nil || d != tt.delays[i] {
					t.Errorf("Delay(%d) = %v, %v; want %v", i, d, err, tt.delays[i])
				}
				item, err := w.Item(i)
				if err != nil || item != tt.items[i] {
					t.Errorf("Item(%d) = %#v, %v; want %q", i, item, err, tt.items[i])
				}
				line, ok, err := w.Line(i, item)
				if err != nil || !ok || line != tt.printLine[i] {
					t.Errorf("Line(%d) = %q, %v, %v; want %q, true, nil", i, line, ok, err, tt.printLine[i])
				}
			}
		})
	}
}

func TestProducerWorkerWithoutPrintOrDelay(t *testing.T) {
	g := mustCompile(t, producerFile(nil, `"${i}"`))
	w := g.Producers[0].Worker(1)
	line, ok, err := w.Line(0, 0)
	if line != "" || ok || err != nil {
		t.Errorf("Line without print = %q, %v, %v; want \"\", false, nil", line, ok, err)
	}
	if d, err := w.Delay(1); d != 0 || err != nil {
		t.Errorf("Delay without delay = %v, %v; want 0, nil", d, err)
	}
}

func TestProducerLineFormatsItem(t *testing.T) {
	src := yamlLines(
		"producers:",
		"  - name: p",
		"    count: 1",
		"    item: \"${ {'n': i, 'l': [1, nil]} }\"",
		"    print: \"${item}\"",
		"  - name: q",
		"    count: 1",
		"    item: \"${ i }\"",
		"    print: \"got ${item} and ${ item + 1 }\"",
		"consumers:",
		"  - name: c",
		"    do:",
		"      - print: x",
	)
	g := mustCompile(t, src)
	for _, tt := range []struct {
		stage int
		want  string
	}{
		{0, `{"l":[1,null],"n":0}`},
		{1, "got 0 and 1"},
	} {
		w := g.Producers[tt.stage].Worker(1)
		item, err := w.Item(0)
		if err != nil {
			t.Fatal(err)
		}
		line, ok, err := w.Line(0, item)
		if err != nil || !ok || line != tt.want {
			t.Errorf("%s: Line = %q, %v, %v; want %q", g.Producers[tt.stage].Name, line, ok, err, tt.want)
		}
	}
}

// handleFile has a consumer `c` (2 replicas) that filters on item.keep,
// prints, sleeps, emits a map and a string, and prints again.
var handleFile = yamlLines(
	"queues:", // 1
	"  in: {}",
	"  out: {}",
	"producers:",
	"  - {name: p, to: in, count: 1, item: x}", // 5
	"consumers:",
	"  - name: c",
	"    from: in",
	"    to: out",
	"    replicas: 2", // 10
	"    when: 'item.keep'",
	"    do:",
	"      - print: \"${worker} got ${item.v}\"",
	"      - sleep: \"${ item.v * 10 }ms\"",
	"      - emit: \"${ {'v': item.v, 'by': worker, 'tags': [replica]} }\"", // 15
	"      - emit: \"v=${ 100 / item.v }\"",
	"      - print: done",
	"  - name: sink",
	"    from: out",
	"    do: [print: \"${item}\"]", // 20
)

func TestConsumerHandle(t *testing.T) {
	g := mustCompile(t, handleFile)
	c := g.Consumers[0]
	if c.Name != "c" || c.From != "in" || c.To != "out" || !c.Emits || c.Replicas != 2 || c.Pos != fpos(7, 11) || c.ToPos != fpos(9, 9) {
		t.Errorf("consumer = %+v", *c)
	}
	if s := g.Consumers[1]; s.To != "" || s.Emits {
		t.Errorf("sink: To %q, Emits %v; want \"\", false", s.To, s.Emits)
	}
	tests := []struct {
		name  string
		item  any
		want  Outcome
		calls []string
		emits []any
	}{
		{
			name: "filtered", item: map[string]any{"keep": false, "v": 1}, want: Filtered,
		},
		{
			name: "steps in order", item: map[string]any{"keep": true, "v": 4}, want: Done,
			calls: []string{
				"print c-2 got 4",
				"sleep 40ms",
				`emit {"by":"c-2","tags":[2],"v":4}`,
				"emit v=25",
				"print done",
			},
			emits: []any{map[string]any{"v": 4, "by": "c-2", "tags": []any{2}}, "v=25"},
		},
		{
			name: "float item", item: map[string]any{"keep": true, "v": 0.5}, want: Done,
			calls: []string{
				"print c-2 got 0.5",
				"sleep 5ms",
				`emit {"by":"c-2","tags":[2],"v":0.5}`,
				"emit v=200",
				"print done",
			},
			emits: []any{map[string]any{"v": 0.5, "by": "c-2", "tags": []any{2}}, "v=200"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := &fakeFx{}
			w := c.Worker(2, fx)
			if w.Name() != "c-2" {
				t.Errorf("Name() = %q, want c-2", w.Name())
			}
			got, err := w.Handle(t.Context(), tt.item)
			if err != nil || got != tt.want {
				t.Fatalf("Handle = %v, %v; want %v, nil", got, err, tt.want)
			}
			if !reflect.DeepEqual(fx.calls, tt.calls) {
				t.Errorf("calls\n got %q\nwant %q", fx.calls, tt.calls)
			}
			if !reflect.DeepEqual(fx.emits, tt.emits) {
				t.Errorf("emits\n got %#v\nwant %#v", fx.emits, tt.emits)
			}
		})
	}
}

// TestConsumerWorkerReuse checks that a worker handles items one after
// another without keeping anything of the previous item.
func TestConsumerWorkerReuse(t *testing.T) {
	g := mustCompile(t, handleFile)
	fx := &fakeFx{}
	w := g.Consumers[0].Worker(1, fx)
	items := []any{
		map[string]any{"keep": true, "v": 1},
		map[string]any{"keep": false, "v": 2},
		map[string]any{"keep": true, "v": 3},
	}
	var outcomes []Outcome
	for _, it := range items {
		o, err := w.Handle(t.Context(), it)
		if err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, o)
	}
	if want := []Outcome{Done, Filtered, Done}; !reflect.DeepEqual(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	want := []string{
		"print c-1 got 1", "sleep 10ms", `emit {"by":"c-1","tags":[1],"v":1}`, "emit v=100", "print done",
		"print c-1 got 3", "sleep 30ms", `emit {"by":"c-1","tags":[1],"v":3}`, "emit v=33.333333333333336", "print done",
	}
	if !reflect.DeepEqual(fx.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", fx.calls, want)
	}
}

// errFile has a consumer whose steps fail on some items.
var errFile = yamlLines(
	"producers:",
	"  - {name: p, count: 1, item: x}",
	"consumers:",
	"  - name: c",
	"    do:", // 5
	"      - print: start",
	"      - sleep: \"${ item.n * 2 }ms\"",
	"      - print: \"r=${ 10 % item.d }\"",
)

func TestConsumerHandleErrors(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		item   any
		worker string
		calls  []string // effects before the failure
		pos    config.Pos
		msg    string
	}{
		{
			// line 11 `    when: 'item.keep'`: the expression starts at column 12.
			name: "when not boolean", file: handleFile, item: map[string]any{"v": 1}, worker: "c-1",
			pos: fpos(11, 12), msg: "`when` gave null, not a boolean",
		},
		{
			// `keep` is at column 17; the message is expr's for a field of a string.
			name: "when on a string", file: handleFile, item: "plain", worker: "c-1",
			pos: fpos(11, 17), msg: "invalid operation: int(string)",
		},
		{
			// line 8 `      - print: "r=${ 10 % item.d }"`: `%` is column 25.
			name: "division by zero", file: errFile, item: map[string]any{"n": 1, "d": 0}, worker: "c",
			calls: []string{"print start", "sleep 2ms"},
			pos:   fpos(8, 25), msg: "runtime error: integer divide by zero",
		},
		{
			// line 7 `      - sleep: "${ item.n * 2 }ms"`: `*` is column 27.
			name: "missing key in arithmetic", file: errFile, item: map[string]any{"d": 1}, worker: "c",
			calls: []string{"print start"},
			pos:   fpos(7, 27), msg: "invalid operation: <nil> * int",
		},
		{
			// `n` is column 25.
			name: "field of a string", file: errFile, item: "str", worker: "c",
			calls: []string{"print start"},
			pos:   fpos(7, 25), msg: "invalid operation: int(string)",
		},
		{
			name: "wrong type in arithmetic", file: errFile, item: map[string]any{"n": "a"}, worker: "c",
			calls: []string{"print start"},
			pos:   fpos(7, 27), msg: "invalid operation: string * int",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, tt.file)
			fx := &fakeFx{}
			w := g.Consumers[0].Worker(1, fx)
			o, err := w.Handle(t.Context(), tt.item)
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("Handle(%#v) = %v, %v; want a *StepError", tt.item, o, err)
			}
			if se.Stage != "c" || se.Worker != tt.worker || !reflect.DeepEqual(se.Item, tt.item) {
				t.Errorf("StepError{Stage %q, Worker %q, Item %#v}; want c, %s, %#v", se.Stage, se.Worker, se.Item, tt.worker, tt.item)
			}
			var re *RuntimeError
			if !errors.As(err, &re) {
				t.Fatalf("error %v does not wrap a *RuntimeError", err)
			}
			if re.Pos != tt.pos || re.Msg != tt.msg {
				t.Errorf("RuntimeError %v: %q; want %v: %q", re.Pos, re.Msg, tt.pos, tt.msg)
			}
			want := tt.worker + ": item " + Quote(tt.item) + ": " + tt.pos.String() + ": " + tt.msg
			if err.Error() != want {
				t.Errorf("Error() = %q\n want %q", err.Error(), want)
			}
			if !reflect.DeepEqual(fx.calls, tt.calls) {
				t.Errorf("effects before the failure: %q, want %q", fx.calls, tt.calls)
			}
		})
	}
}

// TestConsumerEffectErrors checks that an error from an effect fails the
// item (wrapped in a *StepError) and stops its steps, and that a done
// context is reported as itself, not as a failed item.
func TestConsumerEffectErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("print fails", func(t *testing.T) {
		g := mustCompile(t, errFile)
		fx := &fakeFx{printErr: boom}
		_, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), map[string]any{"n": 1, "d": 1})
		var se *StepError
		if !errors.As(err, &se) || !errors.Is(err, boom) {
			t.Fatalf("Handle = %v; want a *StepError wrapping boom", err)
		}
		if want := `c: item {"d":1,"n":1}: boom`; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		if want := []string{"print start"}; !reflect.DeepEqual(fx.calls, want) {
			t.Errorf("calls %q, want %q", fx.calls, want)
		}
	})
	t.Run("emit fails", func(t *testing.T) {
		g := mustCompile(t, handleFile)
		fx := &fakeFx{emitErr: boom}
		_, err := g.Consumers[0].Worker(1, fx).Handle(t.Context(), map[string]any{"keep": true, "v": 1})
		if !errors.Is(err, boom) {
			t.Fatalf("Handle = %v; want boom", err)
		}
		if want := []string{"print c-1 got 1", "sleep 10ms", `emit {"by":"c-1","tags":[1],"v":1}`}; !reflect.DeepEqual(fx.calls, want) {
			t.Errorf("calls %q, want %q", fx.calls, want)
		}
	})
	t.Run("context canceled during sleep", func(t *testing.T) {
		g := mustCompile(t, errFile)
		fx := &fakeFx{}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := g.Consumers[0].Worker(1, fx).Handle(ctx, map[string]any{"n": 1, "d": 1})
		if err != context.Canceled {
			t.Fatalf("Handle = %#v; want context.Canceled itself", err)
		}
		if want := []string{"print start", "sleep 2ms"}; !reflect.DeepEqual(fx.calls, want) {
			t.Errorf("calls %q, want %q", fx.calls, want)
		}
	})
}
