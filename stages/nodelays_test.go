package stages

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pcrun/pcrun/config"
)

// sleepRecorder is an Effects that records the durations it is asked to sleep.
type sleepRecorder struct{ slept []time.Duration }

func (s *sleepRecorder) Print([]byte) error              { return nil }
func (s *sleepRecorder) Emit(context.Context, any) error { return nil }
func (s *sleepRecorder) Exec(context.Context, *Cmd) (ExecResult, error) {
	return ExecResult{}, nil
}
func (s *sleepRecorder) Write(string, []byte) error { return nil }
func (s *sleepRecorder) Sleep(_ context.Context, d time.Duration) error {
	s.slept = append(s.slept, d)
	return nil
}

const delayed = `producers:
  - name: p
    count: 3
    delay: "${i == 2 ? 'soon' : string(i + 1) + 's'}"
    item: "${i}"
  - name: q
    count: 1
    delay: 1h
    item: x
    to: main
consumers:
  - name: c
    do:
      - sleep: 250ms
      - sleep: "${item == 1 ? -1 : item}"
`

// TestNoDelays checks that Options.NoDelays makes every delay and sleep 0
// while templates still run, so their errors surface as in a real run.
func TestNoDelays(t *testing.T) {
	pl, ds := config.Parse("d.yaml", []byte(delayed))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	for _, noDelays := range []bool{false, true} {
		g, ds := Compile(pl, Options{Environ: []string{}, NoDelays: noDelays})
		if g == nil {
			t.Fatal(ds)
		}
		w := g.Producers[0].Worker(1)
		for i, want := range []time.Duration{time.Second, 2 * time.Second} {
			if noDelays {
				want = 0
			}
			if d, err := w.Delay(i); d != want || err != nil {
				t.Errorf("NoDelays=%v: delay %d = %v, %v; want %v", noDelays, i, d, err, want)
			}
		}
		if _, err := w.Delay(2); err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
			t.Errorf("NoDelays=%v: delay 2: %v, want the template's error", noDelays, err)
		}
		if d, _ := g.Producers[1].Worker(1).Delay(0); d != map[bool]time.Duration{false: time.Hour, true: 0}[noDelays] {
			t.Errorf("NoDelays=%v: constant delay %v", noDelays, d)
		}
		if d, ok := g.Producers[1].delay.Const(); d != time.Hour || !ok {
			t.Errorf("NoDelays=%v: Const() = %v, %v; want the delay as written", noDelays, d, ok)
		}
		fx := &sleepRecorder{}
		cw := g.Consumers[0].Worker(1, fx)
		if _, err := cw.Handle(t.Context(), 3); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{250 * time.Millisecond, 3 * time.Second}
		if noDelays {
			want = []time.Duration{0, 0}
		}
		if len(fx.slept) != 2 || fx.slept[0] != want[0] || fx.slept[1] != want[1] {
			t.Errorf("NoDelays=%v: slept %v, want %v", noDelays, fx.slept, want)
		}
		if _, err := cw.Handle(t.Context(), 1); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("NoDelays=%v: a negative sleep gave %v, want an error", noDelays, err)
		}
	}
}
