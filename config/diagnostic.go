package config

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity says whether a diagnostic stops a run.
type Severity int

const (
	// Warning marks a hazard: the file is valid but probably not what was meant.
	Warning Severity = iota
	// Error marks a file that cannot run.
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Diagnostic codes. They are stable: tools and docs refer to them.
const (
	CodeRead           = "read"               // the file cannot be read
	CodeSyntax         = "yaml-syntax"        // not valid YAML
	CodeUnknownField   = "unknown-field"      // a key the format does not have
	CodeDuplicateKey   = "duplicate-key"      // a key given twice in one mapping
	CodeType           = "wrong-type"         // a value of the wrong kind
	CodeMissing        = "missing-field"      // a required key is absent
	CodeDuplicateName  = "duplicate-name"     // two stages share a name
	CodeBadName        = "bad-name"           // a name with characters pcrun does not allow
	CodeUndefinedQueue = "undefined-queue"    // to/from names no queue
	CodeAmbiguousQueue = "ambiguous-queue"    // to/from omitted with several queues
	CodeRange          = "out-of-range"       // a number outside what the key allows
	CodeCapacity       = "bad-capacity"       // capacity below 1 or not a number
	CodeDuration       = "bad-duration"       // not a duration
	CodeEnum           = "bad-value"          // not one of the allowed values
	CodeVersion        = "bad-version"        // a version other than 1
	CodeVar            = "bad-var"            // a var that shadows a built-in name, or --set of an unknown var
	CodeNoStages       = "no-stages"          // nothing to run
	CodeExprSyntax     = "expr-syntax"        // an expression that does not parse
	CodeExprType       = "expr-type"          // an expression of the wrong type
	CodeUnknownName    = "unknown-name"       // an expression names something undefined
	CodeTemplate       = "bad-template"       // an unterminated ${ or an empty placeholder
	CodeUnknownAction  = "unknown-action"     // a step whose action pcrun does not know
	CodeStep           = "bad-step"           // a step that is not a map with exactly one action
	CodeEmitWithoutTo  = "emit-without-to"    // a step emits but the consumer has no `to`
	CodeToWithoutEmit  = "to-without-emit"    // a consumer has `to` but never emits
	CodeQueueUnread    = "queue-unread"       // items put in a queue no stage reads
	CodeQueueUnwritten = "queue-unwritten"    // a queue no stage writes
	CodeQueueUnused    = "queue-unused"       // a queue nobody reads or writes
	CodeCycle          = "queue-cycle"        // a consumer feeds its own input
	CodeWillDeadlock   = "will-deadlock"      // strategy none with finite producers
	CodeUnreachable    = "unreachable-stage"  // a consumer no producer's items can reach
	CodeDeadlineShort  = "deadline-too-short" // the deadline stops a producer before its last item
	CodeNoItems        = "no-items"           // a producer with count 0
	CodeConflict       = "conflicting-fields" // two keys that contradict each other
	CodeDeadLetterLoop = "dead-letter-loop"   // a consumer dead-letters into the queue it reads
	CodeBackoffOverMax = "backoff-over-max"   // on_error.retry backoff longer than max_backoff
	CodeURL            = "bad-url"            // a NATS queue's url that is not nats:// or tls://, or a file its connection needs that cannot be read
	CodeShellItem      = "shell-item"         // a shell script that pastes `item` into itself
	CodeSource         = "bad-source"         // a producer source that cannot be read: stdin twice, an empty path or command
	CodeSelection      = "bad-selection"      // `run --only` names no stage of the file, or cuts a memory queue
)

// Codes lists every diagnostic code; docs/diagnostics.md explains each.
var Codes = []string{
	CodeRead, CodeSyntax, CodeUnknownField, CodeDuplicateKey, CodeType, CodeMissing,
	CodeDuplicateName, CodeBadName, CodeUndefinedQueue, CodeAmbiguousQueue, CodeRange,
	CodeCapacity, CodeDuration, CodeEnum, CodeVersion, CodeVar, CodeNoStages,
	CodeExprSyntax, CodeExprType, CodeUnknownName, CodeTemplate, CodeUnknownAction,
	CodeStep, CodeEmitWithoutTo, CodeToWithoutEmit, CodeQueueUnread, CodeQueueUnwritten,
	CodeQueueUnused, CodeCycle, CodeWillDeadlock, CodeUnreachable, CodeDeadlineShort, CodeNoItems,
	CodeConflict, CodeDeadLetterLoop, CodeBackoffOverMax, CodeURL,
	CodeSource, CodeShellItem, CodeSelection,
}

// Diagnostic is one problem in a pipeline file.
type Diagnostic struct {
	Pos      Pos
	End      Pos // optional end of the offending range
	Severity Severity
	Code     string
	Message  string
	Hint     string // optional: how to fix it
}

// String formats d as "file:line:col: severity: message (hint)".
func (d Diagnostic) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", d.Pos, d.Severity, d.Message)
	if d.Hint != "" {
		fmt.Fprintf(&b, "\n\thint: %s", d.Hint)
	}
	return b.String()
}

func (d Diagnostic) Error() string { return d.String() }

// Diagnostics is a list of problems, usually from one or more files.
type Diagnostics []Diagnostic

// Add appends a diagnostic.
func (ds *Diagnostics) Add(sev Severity, pos Pos, code, hint, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Pos: pos, Severity: sev, Code: code, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// Errorf appends an error.
func (ds *Diagnostics) Errorf(pos Pos, code, hint, format string, args ...any) {
	ds.Add(Error, pos, code, hint, format, args...)
}

// Warnf appends a warning.
func (ds *Diagnostics) Warnf(pos Pos, code, hint, format string, args ...any) {
	ds.Add(Warning, pos, code, hint, format, args...)
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Count returns the number of errors and warnings.
func (ds Diagnostics) Count() (errors, warnings int) {
	for _, d := range ds {
		if d.Severity == Error {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

// Sort orders the list by file and position, keeping the order of
// diagnostics at the same position.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Pos.Before(ds[j].Pos) })
}

// Err returns the list as an error if it holds an error, else nil.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return ds
}

func (ds Diagnostics) Error() string {
	var b strings.Builder
	ds.Write(&b)
	return strings.TrimRight(b.String(), "\n")
}

// Write prints every diagnostic, one per line (hints indented below).
func (ds Diagnostics) Write(w io.Writer) error {
	for _, d := range ds {
		if _, err := fmt.Fprintln(w, d.String()); err != nil {
			return err
		}
	}
	return nil
}
