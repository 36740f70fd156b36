package cli

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runMain runs Main in-process with args after the program name and no
// signals. The command's end-to-end tests are in cmd/pcrun; the tests
// here use it to drive a piece through the command.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	code = Main(append([]string{"pcrun"}, args...), nil, nil, &out, &errb)
	stdout, stderr = out.String(), errb.String()
	t.Logf("pcrun %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	return code, stdout, stderr
}
