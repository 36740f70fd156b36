package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/internal/cli"
	"github.com/pcrun/pcrun/internal/exitcode"
)

func simMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(append([]string{"pcrun"}, args...), nil, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// `pcrun sim` prints the lines in virtual-time order and the summary in
// virtual time, with the exit codes of a real run; --simulate is the same.
func TestSimCommand(t *testing.T) {
	code, out, errs := simMain(t, "sim", "../../examples/fruit.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if !strings.HasPrefix(out, "kelly Produced watermelon 0\nkelly2 Produced Blueberry 0\npeter-1 Ate watermelon 0\n") {
		t.Errorf("stdout:\n%s", out)
	}
	for _, want := range []string{"pcrun: simulated 3.1s of virtual time in ", "pcrun: fruit finished in 3.1s: 6 produced = 6 done"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs)
		}
	}
	code2, out2, _ := simMain(t, "run", "--simulate", "../../examples/fruit.yaml")
	if code2 != 0 || out2 != out {
		t.Errorf("run --simulate: exit %d, stdout:\n%s", code2, out2)
	}
	if code, _, errs := simMain(t, "sim", "../../examples/hang.yaml"); code != exitcode.Deadlock || !strings.Contains(errs, "deadlock: no live stage") {
		t.Errorf("hang: exit %d, want 3\n%s", code, errs)
	}
}

// Steps that do real work make a simulation refuse, exit 2, naming them.
func TestSimRefuses(t *testing.T) {
	code, out, errs := simMain(t, "sim", "../../examples/checksum.yaml")
	if code != exitcode.Usage || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"cannot be simulated", "consumer sum has exec, write step(s)", "producer list reads its items (lines)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs)
		}
	}
	if code, _, errs := simMain(t, "run", "--until", "1s", "../../examples/fruit.yaml"); code != exitcode.Usage {
		t.Errorf("--until without --simulate: exit %d\n%s", code, errs)
	}
}

// examples/capacity.yaml's `replicas` is "${servers}": --set servers=5
// runs 5 servers (the summary's workers column) and lowers the mean wait.
func TestSimSetReplicas(t *testing.T) {
	for _, tc := range []struct {
		sets          []string
		workers, wait string
	}{
		{nil, "4", "1.59s"},
		{[]string{"--set", "servers=5"}, "5", "183ms"},
		{[]string{"--set", "servers=6"}, "6", "61.9ms"},
	} {
		args := append(append([]string{"sim", "--seed", "42"}, tc.sets...), "../../examples/capacity.yaml")
		code, _, errs := simMain(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errs)
		}
		server := regexp.MustCompile(`(?m)^\s*server\s+consumer\s+` + tc.workers + `\s`)
		wait := regexp.MustCompile(`(?m)^\s*requests\s+unbounded\s+2000\s+2000\s+\d+\s+2000\s+0\s+0\s+0\s+` + regexp.QuoteMeta(tc.wait) + `\s`)
		if !server.MatchString(errs) || !wait.MatchString(errs) {
			t.Errorf("%v: want %s workers and a mean wait of %s:\n%s", args, tc.workers, tc.wait, errs)
		}
	}
}
