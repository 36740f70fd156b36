package pipetest

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/pcrun/pcrun/config"
)

// suite is a pipeline and its test cases.
type suite struct {
	file string
	pl   *config.Pipeline
}

// runner runs suites one case after the other and writes, as it goes, one
// line per case, what went wrong under a failure, and the totals.
type runner struct {
	w       io.Writer
	filter  *regexp.Regexp // nil: every case
	environ []string       // nil: the process environment
	Report
}

// run runs every selected case of suites, until ctx ends: the case then
// running is cut short and reported as interrupted, and no other starts.
func (t *runner) run(ctx context.Context, suites []suite) {
	defer t.summary()
	for _, s := range suites {
		if len(s.pl.Tests) == 0 {
			t.NoTests++
			fmt.Fprintf(t.w, "?    %s: no tests\n", s.file)
			continue
		}
		if !t.runSuite(ctx, s) {
			return
		}
	}
}

// runSuite runs the selected cases of s and reports whether the run goes
// on (ctx has not ended).
func (t *runner) runSuite(ctx context.Context, s suite) bool {
	for i := range s.pl.Tests {
		tc := &s.pl.Tests[i]
		if t.filter != nil && !t.filter.MatchString(tc.Name) {
			t.Skipped++
			continue
		}
		if ctx.Err() != nil {
			t.Interrupted = true
			return false
		}
		r := runCase(ctx, s.pl, tc, t.environ)
		if r.interrupted {
			t.Interrupted = true
			fmt.Fprintf(t.w, "INTR %s: %s\n", tc.Pos.File, tc.Name)
			return false
		}
		t.report(r)
	}
	return true
}

// report writes one case's line and, if it failed, why.
func (t *runner) report(r *caseResult) {
	tc := r.test
	if r.passed() {
		t.Passed++
		fmt.Fprintf(t.w, "ok   %s: %s (%s)\n", tc.Pos.File, tc.Name, elapsed(r.elapsed))
		return
	}
	t.Failed++
	fmt.Fprintf(t.w, "FAIL %s: %s\n", tc.Pos.File, tc.Name)
	for _, p := range r.problems {
		pos := p.pos
		if !pos.IsValid() {
			pos = tc.Pos
		}
		fmt.Fprintf(t.w, "    %s: %s\n", pos, p.summary)
		for _, d := range p.detail {
			fmt.Fprintf(t.w, "        %s\n", strings.TrimRight(d, " \t"))
		}
	}
}

// summary writes the totals, last.
func (t *runner) summary() {
	if t.NoTests > 0 {
		fmt.Fprintf(t.w, "%d file(s) without tests\n", t.NoTests)
	}
	fmt.Fprintf(t.w, "%d passed, %d failed", t.Passed, t.Failed)
	if t.Skipped > 0 {
		fmt.Fprintf(t.w, ", %d skipped", t.Skipped)
	}
	fmt.Fprintln(t.w)
}

// elapsed formats how long a case took, to the millisecond.
func elapsed(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}
