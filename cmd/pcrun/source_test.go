package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcrun/pcrun/internal/cli"
	"github.com/pcrun/pcrun/internal/exitcode"
)

// The CLI feeds its stdin to a `lines: -` producer.
func TestRunReadsStdin(t *testing.T) {
	var out, errb syncBuffer
	code := cli.Main([]string{"pcrun", "run", "-q", "../../examples/logfilter.yaml"}, nil,
		strings.NewReader("t1 INFO fine\nt2 ERROR broken pipe\n"), &out, &errb)
	if code != exitcode.OK || out.String() != "[ERROR] broken pipe (t2, line 2)\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// A source file that does not exist stops the run before anything runs:
// exit 2, the file named, no stack trace.
func TestRunMissingSourceFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte("producers:\n  - {name: logs, lines: app.log}\nconsumers:\n  - {name: c}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, "run", path)
	want := "pcrun: error: producer logs: cannot open " + filepath.Join(dir, "app.log") + ": no such file or directory\n" +
		"pcrun: " + path + ": nothing was run\n"
	if code != exitcode.Usage || stdout != "" || stderr != want {
		t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
}
