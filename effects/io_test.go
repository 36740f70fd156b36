package effects_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/sim"
	"github.com/pcrun/pcrun/stages"
)

// An IO step is one file and one registration call: this toy action,
// `notify: {to: TEMPLATE, text: TEMPLATE}`, is registered from this test
// file alone, as an action's own file in package effects would (say
// `http:`), and the tests below compile, validate, run and simulate
// pipelines that use it.
func init() {
	stages.RegisterIO(stages.IOAction{
		Name: "notify",
		Doc:  "notify: {to: TEMPLATE, text: TEMPLATE} sends the text to a recipient (a test action).",
		Fields: []stages.IOField{
			{Name: "to", Doc: "The recipient.", Required: true},
			{Name: "text", Doc: "What to send."},
		},
		Do: notes.send,
	})
}

// inbox records what notify sent; "nobody" refuses.
type inbox struct {
	mu   sync.Mutex
	sent []string
}

var notes inbox

func (b *inbox) send(ctx context.Context, args map[string]any) error {
	if args["to"] == "nobody" {
		return errors.New("no such recipient")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, fmt.Sprintf("%v<-%v", args["to"], args["text"]))
	return ctx.Err()
}

func (b *inbox) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.sent
	b.sent = nil
	slices.Sort(out)
	return out
}

const notifyPipeline = `
producers: [{name: p, count: 3, item: "${i}"}]
consumers:
  - name: c
    replicas: 2
    on_error: skip
    do:
      - notify: {to: "${item == 1 ? 'nobody' : 'ops'}", text: "item ${item}"}
`

// TestIOActionRuns: a whole run carries the step out for every item; an
// error fails its item with the step's position.
func TestIOActionRuns(t *testing.T) {
	g := compile(t, t.TempDir(), notifyPipeline)
	var errb strings.Builder
	res, err := pipeline.Run(t.Context(), g, pipeline.Options{Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if got := notes.take(); !slices.Equal(got, []string{"ops<-item 0", "ops<-item 2"}) {
		t.Errorf("sent %q", got)
	}
	if l := res.Total; l.Done != 2 || l.Skipped != 1 {
		t.Errorf("ledger %s, want 2 done and 1 skipped", l)
	}
	if !strings.Contains(errb.String(), "p.yaml:8:9: notify: no such recipient") {
		t.Errorf("stderr does not say where the step failed:\n%s", errb.String())
	}
}

// TestIOActionDiagnostics: its fields are checked as a built-in step's.
func TestIOActionDiagnostics(t *testing.T) {
	for arg, want := range map[string]string{
		`notify: {to: ops, txt: hi}`: "unknown key `txt` in `notify` | did you mean `text`?",
		`notify: {text: hi}`:         "`notify` needs `to` | e.g. notify: {to: ...}",
		`notify: ops`:                "`notify` takes a mapping | e.g. notify: {to: ...}",
		`notify: {to: "${nope}"}`:    "unknown name `nope`",
	} {
		pl, ds := config.Parse("p.yaml", []byte("producers: [{name: p, count: 1, item: x}]\nconsumers:\n  - {name: c, do: [{"+arg+"}]}\n"))
		if ds.HasErrors() {
			t.Fatalf("%s: parse: %v", arg, ds)
		}
		_, ds = stages.Compile(pl, stages.Options{Environ: []string{}})
		var got []string
		for _, d := range ds {
			got = append(got, d.Message+" | "+d.Hint)
		}
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("%s: got %q, want one containing %q", arg, got, want)
		}
	}
}

// TestIOActionKnown: the schema lists it as real work, and a simulation
// refuses it as it refuses exec.
func TestIOActionKnown(t *testing.T) {
	i := slices.IndexFunc(stages.Actions(), func(a stages.Action) bool { return a.Name == "notify" })
	if i < 0 || !stages.Actions()[i].RealWork || stages.Actions()[i].Arg == nil {
		t.Fatalf("actions: %+v", stages.Actions())
	}
	g := compile(t, t.TempDir(), notifyPipeline)
	var refused *sim.RefusedError
	if err := sim.Check(g); !errors.As(err, &refused) || !strings.Contains(err.Error(), "consumer c has notify step(s)") {
		t.Errorf("sim.Check = %v", err)
	}
}

// TestRegisterIORejects: after a graph was compiled, and twice.
func TestRegisterIORejects(t *testing.T) {
	compile(t, t.TempDir(), notifyPipeline)
	for name, a := range map[string]stages.IOAction{
		"after compiling": {Name: "late", Fields: []stages.IOField{{Name: "x"}}, Do: notes.send},
		"twice":           {Name: "notify", Fields: []stages.IOField{{Name: "x"}}, Do: notes.send},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterIO did not panic", name)
				}
			}()
			stages.RegisterIO(a)
		}()
	}
}
