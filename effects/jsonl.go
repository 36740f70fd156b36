package effects

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// `jsonl: FILE` (or `jsonl: -`, stdin): a record per JSON value, one a
// line; blank lines between them are no records.
func init() { RegisterOpener(config.JSONLSource, openJSONL) }

func openJSONL(s *stages.Source, env SourceEnv) (Reader, error) {
	r, err := openInput(s, env)
	if err != nil {
		return nil, err
	}
	return &jsonlReader{r}, nil
}

// jsonlReader decodes the lines of its lineReader, whose Stop, Finish and
// Where it has.
type jsonlReader struct{ *lineReader }

// Next returns the next JSON value as stages.FromJSON makes it, or a
// *RecordError for a line that is not exactly one JSON value.
func (r *jsonlReader) Next() (any, error) {
	for {
		b, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // blank lines between JSON values are not records
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // 3 stays the int 3, as in spill files
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, &RecordError{fmt.Sprintf("%s: line %d: not JSON: %v", r.where, r.line, jsonMessage(err))}
		}
		if dec.More() {
			return nil, &RecordError{fmt.Sprintf("%s: line %d: more than one JSON value on the line (jsonl takes one per line)", r.where, r.line)}
		}
		return stages.FromJSON(v), nil
	}
}

// jsonMessage shortens encoding/json's errors for a one-line message.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the value is cut short"
	}
	return err.Error()
}
