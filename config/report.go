package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Formats diagnostics can be written in; see docs/diagnostics.md.
const (
	FormatText   = "text"
	FormatJSON   = "json"
	FormatGitHub = "github"
)

// Formats lists the valid values of `pcrun validate --format`.
var Formats = []string{FormatText, FormatJSON, FormatGitHub}

// Sources maps a file name to its content, so text output can quote the
// offending line. A missing file just means no quote.
type Sources map[string][]byte

// Load reads and parses the pipeline file at path, as Load does, keeping
// its text in s so that diagnostics can quote the offending line.
func (s Sources) Load(path string) (*Pipeline, Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Load(path) // reports the read error in the usual form
	}
	s[path] = data
	return Parse(path, data)
}

// line returns line n (1-based) of file without its newline.
func (s Sources) line(file string, n int) (string, bool) {
	src, ok := s[file]
	if !ok || n < 1 {
		return "", false
	}
	for i := 1; i < n; i++ {
		j := strings.IndexByte(string(src), '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	text := string(src)
	if j := strings.IndexByte(text, '\n'); j >= 0 {
		text = text[:j]
	}
	return strings.TrimSuffix(text, "\r"), true
}

// WriteText writes ds like a compiler: the position, severity and message;
// the source line with a caret under the column (and tildes to the end of
// the range on the same line); then the hint. With color, ANSI colours mark
// the severity; callers decide (a terminal, and NO_COLOR unset).
func WriteText(w io.Writer, ds Diagnostics, src Sources, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var b strings.Builder
	for _, d := range ds {
		sev := paint("1;33", d.Severity.String())
		if d.Severity == Error {
			sev = paint("1;31", d.Severity.String())
		}
		fmt.Fprintf(&b, "%s: %s: %s\n", paint("1", d.Pos.String()), sev, paint("1", d.Message))
		if text, ok := src.line(d.Pos.File, d.Pos.Line); ok && d.Pos.Col > 0 {
			b.WriteString(quote(text, d, paint))
		}
		if d.Hint != "" {
			hint := strings.ReplaceAll(d.Hint, "\n", "\n\t")
			fmt.Fprintf(&b, "\t%s %s\n", paint("36", "hint:"), hint)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// quote renders the source line and a caret line under it. Tabs are kept in
// the caret line so the caret lines up whatever the tab width.
func quote(text string, d Diagnostic, paint func(string, string) string) string {
	num := fmt.Sprint(d.Pos.Line)
	var caret strings.Builder
	col := 1
	for _, r := range text {
		if col >= d.Pos.Col {
			break
		}
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
		col++
	}
	width := 1
	if d.End.Line == d.Pos.Line && d.End.Col > d.Pos.Col {
		width = min(d.End.Col, utf8.RuneCountInString(text)+1) - d.Pos.Col
	}
	mark := "^" + strings.Repeat("~", max(width-1, 0))
	return fmt.Sprintf(" %s | %s\n %s | %s%s\n", num, text, strings.Repeat(" ", len(num)), caret.String(), paint("1;32", mark))
}

// JSONDiagnostic is one element of `pcrun validate --format json`. Its
// fields are stable. Lines and columns are 1-based (columns count
// characters); the end is the last position of the offending text plus
// one column, or equal to the start when only the start is known.
type JSONDiagnostic struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
	Severity  string `json:"severity"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Hint      string `json:"hint"`
}

// ToJSON converts d to its stable JSON form.
func (d Diagnostic) ToJSON() JSONDiagnostic {
	end := d.End.Or(d.Pos)
	return JSONDiagnostic{
		File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col,
		EndLine: end.Line, EndColumn: end.Col,
		Severity: d.Severity.String(), Code: d.Code, Message: d.Message, Hint: d.Hint,
	}
}

// WriteJSON writes ds as one indented JSON array ([] when empty).
func WriteJSON(w io.Writer, ds Diagnostics) error {
	out := make([]JSONDiagnostic, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ToJSON())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteGitHub writes ds as GitHub Actions workflow commands, so each
// problem annotates the file in a pull request.
func WriteGitHub(w io.Writer, ds Diagnostics) error {
	var b strings.Builder
	for _, d := range ds {
		j := d.ToJSON()
		props := []string{"file=" + ghProp(j.File)}
		if j.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", j.Line))
			if j.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", j.Column))
			}
			if j.EndLine > j.Line {
				props = append(props, fmt.Sprintf("endLine=%d", j.EndLine))
			} else if j.EndLine == j.Line && j.EndColumn > j.Column {
				props = append(props, fmt.Sprintf("endColumn=%d", j.EndColumn))
			}
		}
		props = append(props, "title="+ghProp("pcrun "+j.Code))
		msg := j.Message
		if j.Hint != "" {
			msg += "\nhint: " + j.Hint
		}
		fmt.Fprintf(&b, "::%s %s::%s\n", j.Severity, strings.Join(props, ","), ghData(msg))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ghData escapes a workflow command's message.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProp escapes a workflow command's property value.
func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
