package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOf(t *testing.T) {
	var diags config.Diagnostics
	diags.Errorf(config.Pos{File: "p.yaml", Line: 1, Col: 1}, config.CodeRead, "", "broken")
	deadlock := &pipeline.DeadlockError{Strategy: "none"}
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"usage", &UsageError{errors.New("no file given")}, Usage},
		{"wrapped usage", fmt.Errorf("pcrun: %w", &UsageError{errors.New("x")}), Usage},
		{"usage wins over what it wraps", &UsageError{deadlock}, Usage},
		{"an error of another package that says it is usage", fmt.Errorf("test: %w", selfUsage{true, deadlock}), Usage},
		{"an error that says it is not usage", selfUsage{false, errors.New("x")}, Failed},
		{"an error that is not usage, wrapping a deadlock", selfUsage{false, deadlock}, Deadlock},
		{"diagnostics", diags, Usage},
		{"wrapped diagnostics", fmt.Errorf("p.yaml: %w", diags), Usage},
		{"deadlock", deadlock, Deadlock},
		{"wrapped deadlock", fmt.Errorf("run: %w", deadlock), Deadlock},
		{"interrupted", pipeline.ErrInterrupted, Interrupted},
		{"wrapped interrupted", fmt.Errorf("run: %w", pipeline.ErrInterrupted), Interrupted},
		{"deadlock wins over interrupted", errors.Join(pipeline.ErrInterrupted, deadlock), Deadlock},
		{"failed", &pipeline.FailedError{Failed: 1}, Failed},
		{"a source that cannot be read, from a run", &pipeline.SourceError{Err: errors.New("no such file")}, Failed},
		{"any other error", errors.New("broker unreachable"), Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(c.err); got != c.want {
				t.Errorf("Of(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}

// selfUsage is an error type of another package: it cannot name
// UsageError, and says by its Usage method whether it is bad usage.
type selfUsage struct {
	usage bool
	err   error
}

func (e selfUsage) Error() string { return "self: " + e.err.Error() }
func (e selfUsage) Unwrap() error { return e.err }
func (e selfUsage) Usage() bool   { return e.usage }

func TestUsageErrorUnwraps(t *testing.T) {
	inner := errors.New("bad flag")
	err := &UsageError{inner}
	if err.Error() != "bad flag" || !errors.Is(err, inner) {
		t.Errorf("UsageError{%v}: Error() = %q, Is(inner) = %v", inner, err.Error(), errors.Is(err, inner))
	}
}
