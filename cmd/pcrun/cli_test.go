package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pcrun/pcrun/internal/cli"
	"github.com/pcrun/pcrun/internal/exitcode"
)

// runMain runs Main in-process with args after the program name and no
// signals. Call it inside a synctest bubble when the pipeline runs, so its
// delays and sleeps take no real time.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runMainSignals(t, nil, args...)
}

func runMainSignals(t *testing.T, signals <-chan os.Signal, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	code = cli.Main(append([]string{"pcrun"}, args...), signals, nil, &out, &errb)
	stdout, stderr = out.String(), errb.String()
	t.Logf("pcrun %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	return code, stdout, stderr
}

// stdoutLines splits stdout into lines, failing t if the output does not
// end with a newline (a partial last line).
func stdoutLines(t *testing.T, stdout string) []string {
	t.Helper()
	if stdout == "" {
		return nil
	}
	if !strings.HasSuffix(stdout, "\n") {
		t.Errorf("stdout does not end with a whole line: %q", stdout)
	}
	return strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
}

var (
	producedRE = regexp.MustCompile(`^(\S+) Produced (.+)$`)
	ateRE      = regexp.MustCompile(`^(\S+) Ate (.+)$`)
)

// producedAndEaten splits `X Produced ITEM` and `W Ate ITEM` lines into the
// items produced and eaten, failing t on any other line.
func producedAndEaten(t *testing.T, lines []string) (produced, eaten []string) {
	t.Helper()
	for _, l := range lines {
		if m := producedRE.FindStringSubmatch(l); m != nil {
			produced = append(produced, m[2])
		} else if m := ateRE.FindStringSubmatch(l); m != nil {
			eaten = append(eaten, m[2])
		} else {
			t.Errorf("unexpected stdout line %q", l)
		}
	}
	sort.Strings(produced)
	sort.Strings(eaten)
	return produced, eaten
}

// checkEatenOnce checks that every produced item was eaten exactly once
// and nothing else was eaten.
func checkEatenOnce(t *testing.T, produced, eaten []string) {
	t.Helper()
	if !slices.Equal(produced, eaten) {
		t.Errorf("items eaten differ from items produced:\nproduced %q\neaten    %q", produced, eaten)
	}
}

func TestRunExamplesFruitAndSentinel(t *testing.T) {
	for _, name := range []string{"fruit", "sentinel"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				code, stdout, stderr := runMain(t, "../../examples/"+name+".yaml")
				if code != exitcode.OK {
					t.Fatalf("exit %d, want 0", code)
				}
				lines := stdoutLines(t, stdout)
				linePat := regexp.MustCompile(`^(kelly Produced watermelon [0-2]|kelly2 Produced Blueberry [0-2]|peter-[1-3] Ate (watermelon|Blueberry) [0-2])$`)
				for _, l := range lines {
					if !linePat.MatchString(l) {
						t.Errorf("stdout line not whole or unexpected: %q", l)
					}
				}
				produced, eaten := producedAndEaten(t, lines)
				if len(produced) != 6 || len(eaten) != 6 {
					t.Errorf("got %d Produced and %d Ate lines, want 6 and 6", len(produced), len(eaten))
				}
				want := []string{"Blueberry 0", "Blueberry 1", "Blueberry 2", "watermelon 0", "watermelon 1", "watermelon 2"}
				if !slices.Equal(produced, want) {
					t.Errorf("produced %q, want %q", produced, want)
				}
				checkEatenOnce(t, produced, eaten)
				l := parseLedger(t, stderr)
				if l.Name != name || l.How != "finished" || l.Produced != 6 || l.Done != 6 {
					t.Errorf("ledger %+v, want %s finished with 6 produced, 6 done", l, name)
				}
				// Three 1s delays, then 100ms of work, in fake time.
				if got := time.Since(start); got != 3100*time.Millisecond {
					t.Errorf("run took %v of fake time, want 3.1s", got)
				}
			})
		})
	}
}

func TestRunExampleKitchen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, stderr := runMain(t, "../../examples/kitchen.yaml")
		if code != exitcode.OK {
			t.Fatalf("exit %d, want 0", code)
		}
		lines := stdoutLines(t, stdout)
		linePat := regexp.MustCompile(`^server serves ([A-Z]+) cooked by cook-[12]$`)
		var dishes []string
		for _, l := range lines {
			m := linePat.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("stdout line not whole or unexpected: %q", l)
				continue
			}
			dishes = append(dishes, m[1])
		}
		sort.Strings(dishes)
		if want := []string{"PIE", "SALAD", "SOUP", "STEW"}; !slices.Equal(dishes, want) {
			t.Errorf("dishes served %q, want %q", dishes, want)
		}
		l := parseLedger(t, stderr)
		// 6 orders (2 empty, filtered) + 4 dishes emitted by the cooks.
		if l.Name != "kitchen" || l.Produced != 10 || l.Done != 8 || l.Filtered != 2 {
			t.Errorf("ledger %+v, want kitchen with 10 produced, 8 done, 2 filtered", l)
		}
	})
}

func TestRunExampleHangDeadlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, stderr := runMain(t, "../../examples/hang.yaml")
		if code != exitcode.Deadlock {
			t.Fatalf("exit %d, want %d (deadlock)", code, exitcode.Deadlock)
		}
		produced, eaten := producedAndEaten(t, stdoutLines(t, stdout))
		if len(produced) != 3 {
			t.Errorf("got %d Produced lines, want 3", len(produced))
		}
		checkEatenOnce(t, produced, eaten)
		for _, want := range []string{
			`peter-1, peter-2, peter-3 wait to take from queue "main"`,
			"no live stage can write to it",
			"hint:",
			"strategy: close",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not contain %q", want)
			}
		}
		l := parseLedger(t, stderr)
		if l.How != "deadlocked" || l.Produced != 3 || l.Done != 3 {
			t.Errorf("ledger %+v, want deadlocked with 3 produced, 3 done", l)
		}
	})
}

func TestRunSubcommandSameAsDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code1, out1, err1 := runMain(t, "../../examples/fruit.yaml")
		code2, out2, err2 := runMain(t, "run", "../../examples/fruit.yaml")
		if code1 != exitcode.OK || code2 != exitcode.OK {
			t.Fatalf("exit %d and %d, want 0 and 0", code1, code2)
		}
		// Which replica eats which item varies from run to run.
		replica := regexp.MustCompile(`^peter-[1-3] `)
		sorted := func(s string) []string {
			l := stdoutLines(t, s)
			for i := range l {
				l[i] = replica.ReplaceAllString(l[i], "peter-N ")
			}
			sort.Strings(l)
			return l
		}
		if a, b := sorted(out1), sorted(out2); !slices.Equal(a, b) {
			t.Errorf("`pcrun FILE` and `pcrun run FILE` print different lines:\n%q\n%q", a, b)
		}
		if a, b := parseLedger(t, err1), parseLedger(t, err2); a != b {
			t.Errorf("ledgers differ: %+v vs %+v", a, b)
		}
	})
}

func TestRunSetVar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, _ := runMain(t, "run", "--set", "food=banana", "../../examples/fruit.yaml")
		if code != exitcode.OK {
			t.Fatalf("exit %d, want 0", code)
		}
		lines := stdoutLines(t, stdout)
		if !slices.Contains(lines, "kelly Produced banana 0") {
			t.Errorf("stdout has no line %q", "kelly Produced banana 0")
		}
		if strings.Contains(stdout, "watermelon") {
			t.Errorf("--set food=banana did not replace watermelon")
		}
		produced, eaten := producedAndEaten(t, lines)
		checkEatenOnce(t, produced, eaten)
	})
}

// TestRunSetVarWithCommas: a value given with --set keeps its commas (a
// list of broker URLs is one value); --only still takes names separated
// by commas.
func TestRunSetVarWithCommas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, stderr := runMain(t, "run", "--set", "food=kiwi,lime", "--only", "kelly,kelly2,peter", "../../examples/fruit.yaml")
		if code != exitcode.OK {
			t.Fatalf("exit %d, want 0\n%s", code, stderr)
		}
		if lines := stdoutLines(t, stdout); !slices.Contains(lines, "kelly Produced kiwi,lime 0") {
			t.Errorf("stdout has no line %q:\n%s", "kelly Produced kiwi,lime 0", stdout)
		}
	})
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"no args", nil, []string{"no pipeline file given", "hint:"}},
		{"run without file", []string{"run"}, []string{"no pipeline file given", "hint:"}},
		{"unknown var", []string{"--set", "nope=1", "../../examples/fruit.yaml"},
			[]string{"no var `nope`", "expected one of: `food`"}},
		{"misspelt var", []string{"run", "--set", "fod=banana", "../../examples/fruit.yaml"},
			[]string{"no var `fod`", "did you mean `food`?"}},
		{"set without value", []string{"--set", "food", "../../examples/fruit.yaml"},
			[]string{"expected NAME=VALUE"}},
		{"flag after file", []string{"run", "../../examples/fruit.yaml", "--quiet"},
			[]string{`unexpected argument "--quiet"`, "hint: flags go before the file"}},
		{"flag after file, default command", []string{"../../examples/fruit.yaml", "--set", "food=x"},
			[]string{`unexpected argument "--set"`, "hint: flags go before the file"}},
		{"two files", []string{"../../examples/fruit.yaml", "../../examples/hang.yaml"},
			[]string{"unexpected argument", "one file at a time"}},
		{"unknown flag", []string{"--bogus", "../../examples/fruit.yaml"},
			[]string{"flag provided but not defined", "hint: see `pcrun --help`"}},
		{"missing file", []string{"testdata/no-such-file.yaml"},
			[]string{"no-such-file.yaml", "nothing was run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tc.args...)
			if code != exitcode.Usage {
				t.Errorf("exit %d, want %d", code, exitcode.Usage)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q", w)
				}
			}
		})
	}
}

// A mistyped subcommand should get a `did you mean` hint naming the command.
func TestMistypedCommandHint(t *testing.T) {
	code, _, stderr := runMain(t, "rn")
	if code != exitcode.Usage {
		t.Errorf("exit %d, want %d", code, exitcode.Usage)
	}
	if !strings.Contains(stderr, `unknown command or file "rn"`) {
		t.Errorf("stderr does not name the unknown command")
	}
	if !strings.Contains(stderr, "did you mean `pcrun run`?") {
		t.Errorf("no command suggestion in stderr: %q", stderr)
	}
}

func TestQuietRemovesSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		code, stdout, stderr := runMain(t, "--quiet", "../../examples/kitchen.yaml")
		if code != exitcode.OK {
			t.Fatalf("exit %d, want 0", code)
		}
		if stderr != "" {
			t.Errorf("--quiet: stderr not empty: %q", stderr)
		}
		if n := len(stdoutLines(t, stdout)); n != 4 {
			t.Errorf("--quiet: %d stdout lines, want 4", n)
		}
		code, _, stderr = runMain(t, "run", "-q", "../../examples/kitchen.yaml")
		if code != exitcode.OK || stderr != "" {
			t.Errorf("run -q: exit %d, stderr %q; want 0 and empty", code, stderr)
		}
	})
}

func TestCLIVersionAndHelp(t *testing.T) {
	code, stdout, _ := runMain(t, "--version")
	if code != exitcode.OK {
		t.Errorf("--version: exit %d, want 0", code)
	}
	if !strings.Contains(stdout, "pcrun version "+cli.Version) {
		t.Errorf("--version: stdout %q does not contain the version", stdout)
	}
	code, stdout, _ = runMain(t, "--help")
	if code != exitcode.OK {
		t.Errorf("--help: exit %d, want 0", code)
	}
	for _, w := range []string{"pcrun run", "validate", "--set", "--quiet"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("--help: stdout does not contain %q", w)
		}
	}
}

func TestRunStepFailures(t *testing.T) {
	for _, tc := range []struct {
		file, name string
		want       []string // substrings of stderr
	}{
		{"testdata/when_fail.yaml", "when_fail", []string{
			"consumer checker", `item "apple 0"`, "testdata/when_fail.yaml:10:12:", "item(s) failed"}},
		{"testdata/divide_by_zero.yaml", "divide_by_zero", []string{
			"consumer divider", "item 0", "testdata/divide_by_zero.yaml:10:21:", "divide by zero"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				code, stdout, stderr := runMain(t, tc.file)
				if code != exitcode.Failed {
					t.Fatalf("exit %d, want %d", code, exitcode.Failed)
				}
				if stdout != "" {
					t.Errorf("stdout not empty: %q", stdout)
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr does not contain %q", w)
					}
				}
				l := parseLedger(t, stderr)
				if l.Name != tc.name || l.Failed == 0 {
					t.Errorf("ledger %+v, want %s with failed items", l, tc.name)
				}
			})
		})
	}
}

func TestRunDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		code, stdout, stderr := runMain(t, "testdata/deadline.yaml")
		elapsed := time.Since(start)
		l := parseLedger(t, stderr)
		want := exitcode.OK
		if l.Failed > 0 || l.Abandoned > 0 {
			want = exitcode.Failed
		}
		if code != want {
			t.Errorf("exit %d, want %d for ledger %+v", code, want, l)
		}
		if l.How != "stopped at its deadline" {
			t.Errorf("ledger says %q, want %q", l.How, "stopped at its deadline")
		}
		if l.Produced < 1 || l.Produced > 3 {
			t.Errorf("produced %d items, want about 2 (a 2s deadline, one item a second)", l.Produced)
		}
		if !strings.Contains(stderr, "deadline 2.5s reached") || !strings.Contains(stderr, "draining queues for up to 1s") {
			t.Errorf("stderr does not announce the deadline and the drain")
		}
		produced, eaten := producedAndEaten(t, stdoutLines(t, stdout))
		if int64(len(produced)) != l.Produced {
			t.Errorf("%d Produced lines, ledger says %d", len(produced), l.Produced)
		}
		checkEatenOnce(t, produced, eaten)
		if elapsed < 2*time.Second || elapsed > 3*time.Second {
			t.Errorf("run took %v of fake time, want between the deadline (2s) and its end of grace (3s)", elapsed)
		}
	})
}

// In-process signals: the same paths as the subprocess tests, on the fake
// clock, so the timing is exact.
func TestRunSignalDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sig := make(chan os.Signal, 2)
		go func() {
			time.Sleep(1025 * time.Millisecond)
			sig <- os.Interrupt
		}()
		code, stdout, stderr := runMainSignals(t, sig, "testdata/slow.yaml")
		if code != exitcode.Interrupted {
			t.Fatalf("exit %d, want %d", code, exitcode.Interrupted)
		}
		if !strings.Contains(stderr, "draining queues for up to 10s") {
			t.Errorf("stderr does not announce draining")
		}
		l := parseLedger(t, stderr)
		if l.How != "interrupted" || l.Abandoned != 0 || l.Failed != 0 {
			t.Errorf("ledger %+v, want interrupted with nothing failed or abandoned", l)
		}
		produced, eaten := producedAndEaten(t, stdoutLines(t, stdout))
		// Items at 50ms, 100ms, ... 1000ms were put before the signal.
		if len(produced) != 20 || l.Produced != 20 {
			t.Errorf("%d Produced lines, ledger %d; want 20", len(produced), l.Produced)
		}
		checkEatenOnce(t, produced, eaten)
	})
}

func TestRunSecondSignalCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		sig := make(chan os.Signal, 2)
		go func() {
			time.Sleep(1025 * time.Millisecond)
			sig <- os.Interrupt
			time.Sleep(time.Second)
			sig <- os.Interrupt
		}()
		code, stdout, stderr := runMainSignals(t, sig, "testdata/stuck.yaml")
		if code != exitcode.Interrupted {
			t.Fatalf("exit %d, want %d", code, exitcode.Interrupted)
		}
		if got := time.Since(start); got != 2025*time.Millisecond {
			t.Errorf("run took %v of fake time, want 2.025s (ended by the second signal)", got)
		}
		for _, w := range []string{"draining queues", "interrupted again"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr does not contain %q", w)
			}
		}
		l := parseLedger(t, stderr)
		if l.Produced != 20 || l.Done != 0 || l.Abandoned != 20 {
			t.Errorf("ledger %+v, want 20 produced, all abandoned", l)
		}
		produced, eaten := producedAndEaten(t, stdoutLines(t, stdout))
		if len(produced) != 20 || len(eaten) != 0 {
			t.Errorf("%d Produced and %d Ate lines, want 20 and 0", len(produced), len(eaten))
		}
	})
}

// A NAME.test.yaml passed to run points at the pipeline and at pcrun test.
func TestRunTestFile(t *testing.T) {
	code, stdout, stderr := runPcrun("run", "../../examples/kitchen.test.yaml")
	if code != exitcode.Usage || stdout != "" {
		t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
	}
	for _, want := range []string{"holds test cases, not a pipeline", "pcrun run ../../examples/kitchen.yaml", "pcrun test ../../examples/kitchen.test.yaml"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
