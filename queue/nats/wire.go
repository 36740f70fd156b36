package nats

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// An item travels as one JSON object, written by appendWire in exactly
// this form:
//
//	{"id":7,"origin":"p","value":"watermelon 7"}
//
// readWire reads that form without a JSON decoder, and a string value
// without escapes without one either: the common case costs no
// reflection. Anything else (a message some other program published, a
// value that is not a plain string) goes through encoding/json.

// appendWire appends the wire form of an item: id, the stage that made
// it, and its value as JSON.
func appendWire(b []byte, id uint64, origin string, value []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, origin)
	b = append(b, `,"value":`...)
	b = append(b, value...)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	if plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// plain reports whether s is printable ASCII without a quote or a
// backslash: its JSON string is itself in quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// valueJSON is an item's value as JSON: a plain string written directly,
// anything else by encoding/json.
func valueJSON(v any) ([]byte, error) {
	if s, ok := v.(string); ok && plain(s) {
		return appendJSONString(make([]byte, 0, len(s)+2), s), nil
	}
	return json.Marshal(v)
}

// readWire reads the form appendWire writes: ok is false for anything
// else. value is the value's JSON.
func readWire(data []byte) (id uint64, origin string, value []byte, ok bool) {
	rest, found := bytes.CutPrefix(data, []byte(`{"id":`))
	if !found {
		return 0, "", nil, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	id, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return 0, "", nil, false
	}
	rest, found = bytes.CutPrefix(rest[n:], []byte(`,"origin":"`))
	if !found {
		return 0, "", nil, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return 0, "", nil, false
	}
	origin = string(rest[:end])
	rest, found = bytes.CutPrefix(rest[end+1:], []byte(`,"value":`))
	if !found || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return 0, "", nil, false
	}
	return id, origin, rest[:len(rest)-1], true
}

// plainString returns the string a JSON value is when it is a string
// without escapes.
func plainString(value []byte) (string, bool) {
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return "", false
	}
	in := value[1 : len(value)-1]
	if bytes.IndexByte(in, '"') >= 0 || bytes.IndexByte(in, '\\') >= 0 {
		return "", false
	}
	return string(in), true
}
