package pipetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/internal/exitcode"
	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/stages"
)

// compareCase compares what a case's run produced with what it expects:
// the exit code, stdout, the items put into queues and the ledger.
func compareCase(e config.Expect, out *caseOutput, res *observe.Result, err error) []problem {
	ps := compareExit(e, err, out.stderr.String())
	stdout := lines(out.stdout.String())
	if e.Stdout != nil {
		ps = append(ps, at(e.Stdout.Pos, compareOrdered("stdout", e.Stdout.Texts(), stdout))...)
	}
	if e.StdoutUnordered != nil {
		ps = append(ps, at(e.StdoutUnordered.Pos, compareUnordered("stdout_unordered", e.StdoutUnordered.Texts(), stdout))...)
	}
	if e.StdoutContains != nil {
		ps = append(ps, at(e.StdoutContains.Pos, compareContains("stdout_contains", e.StdoutContains.Texts(), stdout))...)
	}
	for _, q := range e.Queues {
		ps = append(ps, at(q.Pos, compareItems("queues."+q.Queue, q.Items, out.puts[q.Queue]))...)
	}
	return append(ps, compareLedger(e.Ledger, res)...)
}

// at sets the position of problems.
func at(pos config.Pos, ps []problem) []problem {
	for i := range ps {
		ps[i].pos = pos
	}
	return ps
}

func exitText(code int) string {
	if w := config.ExitWord(code); w != "" {
		return fmt.Sprintf("%d (%s)", code, w)
	}
	return strconv.Itoa(code)
}

// compareExit checks the exit code; on a mismatch the detail is why the run
// ended as it did: its error and the notices it wrote.
func compareExit(e config.Expect, err error, stderr string) []problem {
	got := exitcode.Of(err)
	if got == e.Exit {
		return nil
	}
	p := problem{pos: e.ExitPos, summary: fmt.Sprintf("exit: want %s, got %s", exitText(e.Exit), exitText(got))}
	notices := lines(stderr)
	if err != nil {
		notices = append(notices, lines("pcrun: "+err.Error()+"\n")...)
	}
	p.detail = tail(notices, 20)
	return []problem{p}
}

// compareOrdered checks the whole output, in order, with a unified diff.
func compareOrdered(what string, want, got []string) []problem {
	if slices.Equal(want, got) {
		return nil
	}
	d := difflib.UnifiedDiff{A: withNewlines(want), B: withNewlines(got), Context: 3}
	text, err := difflib.GetUnifiedDiffString(d)
	if err != nil { // difflib only fails writing to its own buffer
		text = err.Error()
	}
	return []problem{{summary: what + ": lines differ (-want +got):", detail: lines(text)}}
}

// compareUnordered checks that got holds the same lines as want, as many
// times each, in any order. The detail lists the missing (-) and unexpected
// (+) lines, sorted.
func compareUnordered(what string, want, got []string) []problem {
	missing, extra := multisetDiff(want, got)
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	return []problem{{summary: what + ": lines differ, in any order (-want +got):", detail: plusMinus(missing, extra)}}
}

// compareContains checks that every wanted line is in got, as many times as
// it is wanted. The detail lists the missing lines, then the output.
func compareContains(what string, want, got []string) []problem {
	missing, _ := multisetDiff(want, got)
	if len(missing) == 0 {
		return nil
	}
	detail := plusMinus(missing, nil)
	if len(got) == 0 {
		detail = append(detail, "stdout was empty")
	} else {
		detail = append(detail, fmt.Sprintf("stdout was (%d lines):", len(got)))
		for _, l := range head(got, 20) {
			detail = append(detail, "  "+l)
		}
	}
	return []problem{{summary: fmt.Sprintf("%s: %d line(s) not in stdout (-want):", what, len(missing)), detail: detail}}
}

// compareItems checks the items put into a queue against the wanted ones,
// as multisets. A wanted mapping or list matches an item of the same
// structure (leaves compared by their text); any other wanted value
// matches an item whose text (as `print` shows it) is the same.
func compareItems(what string, want []config.TestItem, got []any) []problem {
	left := make([]bool, len(got)) // got[i] not matched yet
	for i := range left {
		left[i] = true
	}
	var missing []string
	match := func(key func(any) string, w any) bool {
		k := key(w)
		for i, g := range got {
			if left[i] && key(g) == k {
				left[i] = false
				return true
			}
		}
		return false
	}
	// Structures first: they match fewer items than text does.
	for _, pass := range []bool{true, false} {
		for _, w := range want {
			if structured(w.Value) != pass {
				continue
			}
			key := itemText
			if pass {
				key = structureKey
			}
			if !match(key, w.Value) {
				missing = append(missing, showItem(w.Value))
			}
		}
	}
	var extra []string
	for i, g := range got {
		if left[i] {
			extra = append(extra, showItem(g))
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return []problem{{summary: fmt.Sprintf("%s: items differ, in any order (-want +got; %d wanted, %d put):", what, len(want), len(got)),
		detail: plusMinus(missing, extra)}}
}

// compareLedger checks the totals the case names.
func compareLedger(want []config.Total, res *observe.Result) []problem {
	if len(want) == 0 || res == nil {
		return nil
	}
	l := res.Total
	got := map[string]int64{"produced": l.Produced, "done": l.Done, "filtered": l.Filtered, "failed": l.Failed,
		"skipped": l.Skipped, "dead_lettered": l.DeadLettered, "abandoned": l.Abandoned}
	var out []problem
	for _, w := range want {
		if g := got[w.Key]; g != w.N {
			out = append(out, problem{pos: w.Pos, summary: fmt.Sprintf("ledger.%s: want %d, got %d", w.Key, w.N, g)})
		}
	}
	if len(out) > 0 {
		out[len(out)-1].detail = []string{"ledger: " + l.String()}
	}
	return out
}

// structured reports whether v is a mapping or a list.
func structured(v any) bool {
	if v == nil {
		return false
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
		return true
	}
	return false
}

// itemText is an item as `print` shows it.
func itemText(v any) string { return stages.Format(v) }

// structureKey is v with every leaf replaced by its text, as JSON (whose
// object keys are sorted), so equal structures have equal keys.
func structureKey(v any) string {
	b, err := json.Marshal(normalize(v))
	if err != nil {
		return "!" + stages.Format(v)
	}
	return string(b)
}

func normalize(v any) any {
	if v == nil {
		return stages.Format(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[stages.Format(it.Key().Interface())] = normalize(it.Value().Interface())
		}
		return m
	case reflect.Slice, reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = normalize(rv.Index(i).Interface())
		}
		return l
	}
	return stages.Format(v)
}

// showItem writes an item for a diff line: strings quoted, the rest as
// `print` shows them.
func showItem(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return stages.Format(v)
}

// multisetDiff returns the lines of want missing from got and those of got
// not in want, counting repeats, each sorted.
func multisetDiff(want, got []string) (missing, extra []string) {
	n := map[string]int{}
	for _, l := range got {
		n[l]++
	}
	for _, l := range want {
		if n[l] > 0 {
			n[l]--
		} else {
			missing = append(missing, l)
		}
	}
	for _, l := range got {
		if n[l] > 0 {
			n[l]--
			extra = append(extra, l)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func plusMinus(missing, extra []string) []string {
	var out []string
	for _, l := range missing {
		out = append(out, "-"+l)
	}
	for _, l := range extra {
		out = append(out, "+"+l)
	}
	return out
}

// lines splits output into lines; "" has none.
func lines(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func withNewlines(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l + "\n"
	}
	return out
}

// head returns the first n lines, with a note of how many were left out.
func head(ls []string, n int) []string {
	if len(ls) <= n {
		return ls
	}
	return append(append([]string(nil), ls[:n]...), fmt.Sprintf("... (%d more)", len(ls)-n))
}

// tail returns the last n lines, with a note of how many were left out.
func tail(ls []string, n int) []string {
	if len(ls) <= n {
		return ls
	}
	return append([]string{fmt.Sprintf("... (%d lines before)", len(ls)-n)}, ls[len(ls)-n:]...)
}
