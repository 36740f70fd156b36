package config

import "testing"

var producerKeys = []string{"name", "replicas", "to", "count", "delay", "item", "print"}

func TestSuggest(t *testing.T) {
	tests := []struct {
		s          string
		candidates []string
		want       string
	}{
		{"cunt", producerKeys, "count"},   // deletion
		{"coutn", producerKeys, "count"},  // transposition
		{"counts", producerKeys, "count"}, // insertion
		{"cAUNT", producerKeys, "count"},  // case-insensitive, keeps the candidate's spelling
		{"itme", producerKeys, "item"},
		{"replcias", producerKeys, "replicas"},
		{"clsoe", Strategies, "close"},
		{"sentinal", Strategies, "sentinel"},
		{"count", producerKeys, "count"}, // exact match
		{"xyzzy", producerKeys, ""},      // far from everything
		{"concurrency", producerKeys, ""},
		{"q", []string{"a"}, ""},               // replacing a whole name is no typo
		{"", producerKeys, ""},                 // nothing typed
		{"cunt", nil, ""},                      // no candidates
		{"bat", []string{"cat", "hat"}, "cat"}, // ties: the first candidate
	}
	for _, tt := range tests {
		if got := Suggest(tt.s, tt.candidates); got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tt.s, tt.candidates, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		s          string
		candidates []string
		want       string
	}{
		{"cunt", producerKeys, "did you mean `count`?"},
		{"coutn", producerKeys, "did you mean `count`?"},
		{"xyzzy", Strategies, "expected one of: `close`, `sentinel`, `join`, `none`"},
		{"xyzzy", nil, ""},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.s, tt.candidates); got != tt.want {
			t.Errorf("DidYouMean(%q, %q) = %q, want %q", tt.s, tt.candidates, got, tt.want)
		}
	}
}

func TestQuoted(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "`a`"},
		{[]string{"a", "b", "c"}, "`a`, `b`, `c`"},
	} {
		if got := Quoted(tt.in); got != tt.want {
			t.Errorf("Quoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"count", "count", 0},
		{"cunt", "count", 1},
		{"coutn", "count", 1}, // one transposition, not two substitutions
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},      // optimal string alignment, not full Damerau
		{"héllo", "hello", 1}, // runes, not bytes
	} {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := distance(tt.b, tt.a); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}
