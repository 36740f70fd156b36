package pipetest

import (
	"strings"
	"testing"

	"github.com/pcrun/pcrun/config"
)

// TestRunCaseCompares exercises the comparisons directly.
func TestRunCaseCompares(t *testing.T) {
	item := func(v any) config.TestItem { return config.TestItem{Value: v} }
	for _, c := range []struct {
		name string
		want []config.TestItem
		got  []any
		ok   bool
	}{
		{"text", []config.TestItem{item("1"), item("a")}, []any{"a", 1}, true},
		{"number as text", []config.TestItem{item(1.5)}, []any{"1.5"}, true},
		{"map", []config.TestItem{item(map[string]any{"a": 1, "b": []any{"x"}})}, []any{map[string]any{"b": []any{"x"}, "a": "1"}}, true},
		{"map as its text", []config.TestItem{item(`{"a":1}`)}, []any{map[string]any{"a": 1}}, true},
		{"map differs", []config.TestItem{item(map[string]any{"a": 1})}, []any{map[string]any{"a": 2}}, false},
		{"repeats count", []config.TestItem{item("a"), item("a")}, []any{"a"}, false},
		{"extra item", []config.TestItem{item("a")}, []any{"a", "b"}, false},
		{"null", []config.TestItem{item(nil)}, []any{nil}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := compareItems("queues.q", c.want, c.got)
			if (len(ps) == 0) != c.ok {
				t.Errorf("compareItems: %v, want ok=%v", ps, c.ok)
			}
		})
	}
	if ps := compareUnordered("x", []string{"a", "b", "a"}, []string{"a", "a", "b"}); len(ps) != 0 {
		t.Errorf("same multiset: %v", ps)
	}
	if ps := compareUnordered("x", []string{"a", "b"}, []string{"a", "a", "b"}); len(ps) != 1 || strings.Join(ps[0].detail, ",") != "+a" {
		t.Errorf("extra line: %v", ps)
	}
	if ps := compareContains("x", []string{"a", "a"}, []string{"b", "a"}); len(ps) != 1 || ps[0].detail[0] != "-a" {
		t.Errorf("repeated wanted line: %v", ps)
	}
	if ps := compareOrdered("x", []string{}, []string{}); len(ps) != 0 {
		t.Errorf("empty: %v", ps)
	}
}
