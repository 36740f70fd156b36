package nats

import (
	"encoding/json"
	"testing"
)

// TestWire: what appendWire writes, readWire reads back exactly, a plain
// string without a JSON decoder; any other value round-trips through
// encoding/json; and what is not in that form is refused, for the
// generic decoding.
func TestWire(t *testing.T) {
	for _, v := range []any{"watermelon 7", "", `say "hi"`, "tab\there", "café ☕", 3, 2.5, true, nil,
		[]any{"a", 1}, map[string]any{"k": "v"}} {
		js, err := valueJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatalf("%#v: valueJSON wrote %s, not JSON: %v", v, js, err)
		}
		data := appendWire(nil, 42, "cook", js)
		if !json.Valid(data) {
			t.Fatalf("%#v: appendWire wrote %s, not JSON", v, data)
		}
		id, origin, value, ok := readWire(data)
		if !ok || id != 42 || origin != "cook" || string(value) != string(js) {
			t.Errorf("%#v: readWire(%s) = %d, %q, %s, %v", v, data, id, origin, value, ok)
		}
		if s, isPlain := plainString(value); isPlain && s != want {
			t.Errorf("%#v: plainString(%s) = %q, want %q", v, value, s, want)
		}
	}
	if _, _, _, ok := readWire(appendWire(nil, 1, `we"ird`, []byte(`"x"`))); ok {
		t.Errorf("an origin with an escape was read without a decoder")
	}
	for _, other := range []string{"hello", `{"id":1}`, `{"id":x,"origin":"p","value":1}`, `{"foo":"bar"}`} {
		if _, _, _, ok := readWire([]byte(other)); ok {
			t.Errorf("readWire(%s) took it for an item", other)
		}
	}
}
