package stages

import (
	"errors"
	"reflect"
	"testing"
)

func litSeg(s string) segment { return segment{lit: s} }

func exSeg(code string, line, col int) segment {
	return segment{expr: code, isEx: true, line: line, col: col}
}

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []segment
	}{
		{"empty", "", nil},
		{"literal", "plain text", []segment{litSeg("plain text")}},
		{"lone dollar", "a$ and $x and $ {y}", []segment{litSeg("a$ and $x and $ {y}")}},
		{"one placeholder", "${x}", []segment{exSeg("x", 1, 2)}},
		{"spaces kept in code", "${ x }", []segment{exSeg(" x ", 1, 2)}},
		{"placeholders and text", "${food} ${i}", []segment{exSeg("food", 1, 2), litSeg(" "), exSeg("i", 1, 10)}},
		{"text around", "a${b}c", []segment{litSeg("a"), exSeg("b", 1, 3), litSeg("c")}},
		{"adjacent", "${a}${b}", []segment{exSeg("a", 1, 2), exSeg("b", 1, 6)}},
		{"escape", "$${x}", []segment{litSeg("${x}")}},
		{"escape merges with text", "a $${b} c", []segment{litSeg("a ${b} c")}},
		{"escape then placeholder", "a $${b} ${c}", []segment{litSeg("a ${b} "), exSeg("c", 1, 10)}},
		{"dollar before escape", "$$${x}", []segment{litSeg("$${x}")}},
		{"map literal", `${ {"a": 1}.a }`, []segment{exSeg(` {"a": 1}.a `, 1, 2)}},
		{"brace in double quotes", `${ "}" }`, []segment{exSeg(` "}" `, 1, 2)}},
		{"brace in map string", `${ {"a": "}"}.a }`, []segment{exSeg(` {"a": "}"}.a `, 1, 2)}},
		{"escaped quote", `${ 'it\'s}' }`, []segment{exSeg(` 'it\'s}' `, 1, 2)}},
		{"backquote string", "${`}`}", []segment{exSeg("`}`", 1, 2)}},
		{"brackets and parens", "${ [1, 2][(0)] }!", []segment{exSeg(" [1, 2][(0)] ", 1, 2), litSeg("!")}},
		{"multi-line", "x\n${y}\n  ${ z\n }", []segment{litSeg("x\n"), exSeg("y", 2, 2), litSeg("\n  "), exSeg(" z\n ", 3, 4)}},
		{"columns count runes", "é€${x}ü", []segment{litSeg("é€"), exSeg("x", 1, 4), litSeg("ü")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scan(tt.in)
			if err != nil {
				t.Fatalf("scan(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("scan(%q)\n got %v\nwant %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestScanErrors(t *testing.T) {
	const (
		unterminated = "unterminated placeholder: `${` has no matching `}`"
		empty        = "empty placeholder `${}`"
	)
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"bare open", "${", 1, 0, unterminated},
		{"no closing brace", "abc ${x", 1, 4, unterminated},
		{"second placeholder open", "ok ${a} ${ b", 1, 8, unterminated},
		{"after escape", "$${ ${", 1, 4, unterminated},
		{"brace inside string", `${ "}" `, 1, 0, unterminated},
		{"unclosed string", `${ "abc }`, 1, 0, unterminated},
		{"closing brace eaten by paren", "line\n  ${ (a}", 2, 2, unterminated},
		{"runes before", "é€ ${", 1, 3, unterminated},
		{"empty", "${}", 1, 0, empty},
		{"blank", "x ${  }", 1, 2, empty},
		{"blank across lines", "x\n y ${\n}", 2, 3, empty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, err := scan(tt.in)
			var se *ScanError
			if !errors.As(err, &se) {
				t.Fatalf("scan(%q) = %v, %v; want a *ScanError", tt.in, segs, err)
			}
			if segs != nil {
				t.Errorf("scan(%q) returned segments %v with its error", tt.in, segs)
			}
			if se.Line != tt.line || se.Col != tt.col {
				t.Errorf("scan(%q): error at %d:%d, want %d:%d", tt.in, se.Line, se.Col, tt.line, tt.col)
			}
			if se.Msg != tt.msg || se.Error() != tt.msg {
				t.Errorf("scan(%q): message %q (Error() %q), want %q", tt.in, se.Msg, se.Error(), tt.msg)
			}
		})
	}
}

func TestHasPlaceholder(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"plain", false},
		{"$x {y}", false},
		{"$${x}", false},
		{"$$${x}", false},
		{"${x}", true},
		{"a ${b} c", true},
		{"$${a} ${b}", true},
		{"${", true},   // malformed: compiling it reports the error
		{"${ }", true}, // likewise
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := HasPlaceholder(tt.in); got != tt.want {
				t.Errorf("HasPlaceholder(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
