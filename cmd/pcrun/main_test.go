package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pcrun/pcrun/queue/nats/natstest"
)

// pcrunBin is the pcrun binary built once by TestMain for the subprocess
// tests; buildErr says why it could not be built.
var (
	pcrunBin string
	buildErr error
)

// raceEnabled is set by race_test.go when the tests run with -race; the
// binary is then built with -race too, so the real signal path is checked.
var raceEnabled bool

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h)) // a subprocess started by a test: see spill_test.go
	}
	dir, err := os.MkdirTemp("", "pcrun-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pcrun tests: cannot create a temp dir: %v\n", err)
		os.Exit(1)
	}
	pcrunBin, buildErr = buildPcrun(dir)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		natstest.Remove()
		os.Exit(code)
	}))
}

// buildPcrun builds this package into dir with the `go` on PATH.
func buildPcrun(dir string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no `go` command on PATH to build pcrun: %v", err)
	}
	bin := filepath.Join(dir, "pcrun")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(gobin, append(args, ".")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %v: %v\n%s", gobin, append(args, "."), err, out.String())
	}
	return bin, nil
}

// pcrunBinary returns the built pcrun binary, failing t if it could not be built.
func pcrunBinary(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("cannot build the pcrun binary: %v", buildErr)
	}
	return pcrunBin
}

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

// ledger is the first line of the end-of-run summary:
// `pcrun: NAME HOW in DURATION: P produced = D done + X filtered + F failed
// [(S skipped, L dead-lettered)] + A abandoned [+ H handed off]`.
type ledger struct {
	Name, How                                   string
	Elapsed                                     time.Duration
	Produced, Done, Filtered, Failed, Abandoned int64
	Skipped, DeadLettered, HandedOff            int64
	Shared                                      bool // the handed-off term is there
}

var ledgerRE = regexp.MustCompile(`(?m)^pcrun: (\S+) (.+?) in (\S+): (\d+) produced = (\d+) done \+ (\d+) filtered \+ (\d+) failed(?: \((\d+) skipped, (\d+) dead-lettered\))? \+ (\d+) abandoned(?: \+ (\d+) handed off)?$`)

// parseLedger finds the ledger line in stderr and checks that it balances.
func parseLedger(t *testing.T, stderr string) ledger {
	t.Helper()
	all := ledgerRE.FindAllStringSubmatch(stderr, -1)
	if len(all) != 1 {
		t.Fatalf("want exactly one ledger line in stderr, found %d:\n%s", len(all), stderr)
	}
	m := all[0]
	d, err := time.ParseDuration(m[3])
	if err != nil {
		t.Fatalf("ledger line %q: bad duration: %v", m[0], err)
	}
	n := func(s string) int64 {
		if s == "" {
			return 0
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ledger line %q: %v", m[0], err)
		}
		return v
	}
	l := ledger{Name: m[1], How: m[2], Elapsed: d,
		Produced: n(m[4]), Done: n(m[5]), Filtered: n(m[6]), Failed: n(m[7]),
		Skipped: n(m[8]), DeadLettered: n(m[9]), Abandoned: n(m[10]), HandedOff: n(m[11]), Shared: m[11] != ""}
	if l.Produced != l.Done+l.Filtered+l.Failed+l.Abandoned+l.HandedOff || l.Skipped+l.DeadLettered > l.Failed {
		t.Errorf("ledger does not balance: %q", m[0])
	}
	if bytes.Contains([]byte(stderr), []byte("does not balance")) {
		t.Errorf("pcrun reports an unbalanced ledger:\n%s", stderr)
	}
	return l
}
