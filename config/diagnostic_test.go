package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestPosString(t *testing.T) {
	tests := []struct {
		pos  Pos
		want string
	}{
		{Pos{}, "-"},
		{Pos{File: "f.yaml"}, "f.yaml"},
		{Pos{File: "f.yaml", Line: 3}, "f.yaml:3"},
		{Pos{File: "f.yaml", Line: 3, Col: 7}, "f.yaml:3:7"},
	}
	for _, tt := range tests {
		if got := tt.pos.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.pos, got, tt.want)
		}
	}
	if (Pos{File: "f.yaml"}).IsValid() || !(Pos{Line: 1}).IsValid() {
		t.Error("IsValid must hold exactly when Line > 0")
	}
}

func TestPosBefore(t *testing.T) {
	tests := []struct {
		p, q Pos
		want bool
	}{
		{Pos{"a", 9, 9}, Pos{"b", 1, 1}, true},
		{Pos{"b", 1, 1}, Pos{"a", 9, 9}, false},
		{Pos{"a", 1, 9}, Pos{"a", 2, 1}, true},
		{Pos{"a", 2, 1}, Pos{"a", 1, 9}, false},
		{Pos{"a", 2, 1}, Pos{"a", 2, 3}, true},
		{Pos{"a", 2, 3}, Pos{"a", 2, 1}, false},
		{Pos{"a", 2, 3}, Pos{"a", 2, 3}, false},
	}
	for _, tt := range tests {
		if got := tt.p.Before(tt.q); got != tt.want {
			t.Errorf("%v.Before(%v) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestPosOr(t *testing.T) {
	key, stage := Pos{File: "f", Line: 3, Col: 5}, Pos{File: "f", Line: 1, Col: 3}
	if got := key.Or(stage); got != key {
		t.Errorf("valid.Or = %v, want %v", got, key)
	}
	if got := (Pos{}).Or(stage); got != stage {
		t.Errorf("zero.Or = %v, want %v", got, stage)
	}
	if got := (Pos{File: "f"}).Or(stage); got != stage {
		t.Errorf("file only.Or = %v, want %v", got, stage)
	}
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Pos: Pos{"f.yaml", 3, 5}, Severity: Error, Code: CodeUnknownField, Message: "unknown key `cunt`", Hint: "did you mean `count`?"},
			"f.yaml:3:5: error: unknown key `cunt`\n\thint: did you mean `count`?"},
		{Diagnostic{Pos: Pos{"f.yaml", 1, 1}, Severity: Warning, Code: CodeQueueUnread, Message: "queue `q` is never read"},
			"f.yaml:1:1: warning: queue `q` is never read"},
		{Diagnostic{Pos: Pos{File: "gone.yaml"}, Severity: Error, Code: CodeRead, Message: "cannot read"},
			"gone.yaml: error: cannot read"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
		if got := tt.d.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestDiagnosticsAdd(t *testing.T) {
	var ds Diagnostics
	at := Pos{"f.yaml", 2, 3}
	ds.Errorf(at, CodeType, "h1", "%s must be %d", "x", 1)
	ds.Warnf(at, CodeQueueUnused, "", "plain %q", "w")
	ds.Add(Error, at, CodeRange, "h3", "no args")
	want := Diagnostics{
		{Pos: at, Severity: Error, Code: CodeType, Message: "x must be 1", Hint: "h1"},
		{Pos: at, Severity: Warning, Code: CodeQueueUnused, Message: `plain "w"`},
		{Pos: at, Severity: Error, Code: CodeRange, Message: "no args", Hint: "h3"},
	}
	if !reflect.DeepEqual(ds, want) {
		t.Errorf("got %#v\nwant %#v", ds, want)
	}
}

func TestDiagnosticsErrAndCount(t *testing.T) {
	warn := Diagnostic{Pos: Pos{"f", 1, 1}, Severity: Warning, Message: "w"}
	err := Diagnostic{Pos: Pos{"f", 2, 1}, Severity: Error, Message: "e"}
	tests := []struct {
		name          string
		ds            Diagnostics
		hasErrors     bool
		errors, warns int
		errNil        bool
	}{
		{name: "nil", ds: nil, errNil: true},
		{name: "empty", ds: Diagnostics{}, errNil: true},
		{name: "only warnings", ds: Diagnostics{warn, warn}, warns: 2, errNil: true},
		{name: "one error", ds: Diagnostics{err}, hasErrors: true, errors: 1},
		{name: "mixed", ds: Diagnostics{warn, err, warn, err}, hasErrors: true, errors: 2, warns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ds.HasErrors(); got != tt.hasErrors {
				t.Errorf("HasErrors() = %v, want %v", got, tt.hasErrors)
			}
			if e, w := tt.ds.Count(); e != tt.errors || w != tt.warns {
				t.Errorf("Count() = %d, %d; want %d, %d", e, w, tt.errors, tt.warns)
			}
			got := tt.ds.Err()
			if (got == nil) != tt.errNil {
				t.Fatalf("Err() = %v, want nil: %v", got, tt.errNil)
			}
			if got != nil {
				var as Diagnostics
				if !errors.As(got, &as) || !reflect.DeepEqual(as, tt.ds) {
					t.Errorf("Err() does not unwrap to the list: %#v", got)
				}
			}
		})
	}
}

func TestDiagnosticsSort(t *testing.T) {
	mk := func(file string, line, col int, msg string) Diagnostic {
		return Diagnostic{Pos: Pos{file, line, col}, Message: msg}
	}
	ds := Diagnostics{
		mk("b.yaml", 1, 1, "b1"),
		mk("a.yaml", 10, 2, "a10.2"),
		mk("a.yaml", 2, 30, "a2.30"),
		mk("a.yaml", 10, 1, "a10.1"),
		mk("a.yaml", 2, 5, "a2.5 first"),
		mk("", 0, 0, "no position"),
		mk("a.yaml", 2, 5, "a2.5 second"),
		mk("a.yaml", 2, 5, "a2.5 third"),
	}
	ds.Sort()
	var got []string
	for _, d := range ds {
		got = append(got, d.Message)
	}
	want := []string{"no position", "a2.5 first", "a2.5 second", "a2.5 third", "a2.30", "a10.1", "a10.2", "b1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after Sort: %q\nwant %q", got, want)
	}
}

// TestDiagnosticsSortStable uses enough diagnostics that an unstable sort
// would reorder those at the same position.
func TestDiagnosticsSortStable(t *testing.T) {
	var ds Diagnostics
	for i := range 60 {
		line := 1 + (i%3)*10 // lines 1, 11, 21 interleaved
		ds = append(ds, Diagnostic{Pos: Pos{"f.yaml", 21 - line + 1, 1}, Message: fmt.Sprint(i)})
	}
	ds.Sort()
	last := map[int]int{} // line -> index of its last message
	for i, d := range ds {
		if i > 0 && d.Pos.Before(ds[i-1].Pos) {
			t.Fatalf("not sorted at %d: %v after %v", i, d.Pos, ds[i-1].Pos)
		}
		var n int
		fmt.Sscan(d.Message, &n)
		if prev, ok := last[d.Pos.Line]; ok && n < prev {
			t.Fatalf("diagnostics at %v reordered: %d after %d", d.Pos, n, prev)
		}
		last[d.Pos.Line] = n
	}
}

func TestDiagnosticsWrite(t *testing.T) {
	ds := Diagnostics{
		{Pos: Pos{"f.yaml", 3, 5}, Severity: Error, Message: "unknown key `cunt` in producer `p`", Hint: "did you mean `count`?"},
		{Pos: Pos{"f.yaml", 9, 1}, Severity: Warning, Message: "queue `q` is never read"},
	}
	const want = "f.yaml:3:5: error: unknown key `cunt` in producer `p`\n" +
		"\thint: did you mean `count`?\n" +
		"f.yaml:9:1: warning: queue `q` is never read\n"
	var b strings.Builder
	if err := ds.Write(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("Write:\n%q\nwant\n%q", b.String(), want)
	}
	if got := ds.Error(); got != strings.TrimSuffix(want, "\n") {
		t.Errorf("Error() = %q, want %q", got, strings.TrimSuffix(want, "\n"))
	}
	var empty strings.Builder
	if err := (Diagnostics{}).Write(&empty); err != nil || empty.Len() != 0 {
		t.Errorf("empty Write wrote %q, %v", empty.String(), err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

func TestDiagnosticsWriteError(t *testing.T) {
	ds := Diagnostics{{Message: "a"}, {Message: "b"}}
	w := &failWriter{}
	if err := ds.Write(w); err == nil || err.Error() != "disk full" {
		t.Errorf("Write error = %v, want disk full", err)
	}
	if w.n != 1 {
		t.Errorf("Write kept writing after an error: %d writes", w.n)
	}
}

func TestSeverityString(t *testing.T) {
	if Error.String() != "error" || Warning.String() != "warning" {
		t.Errorf("severities print as %q, %q", Error, Warning)
	}
}
