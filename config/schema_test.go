package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// mappingSchema is one object schema that stands for a mapping the loader
// walks, and how to build a file with a given value in its place.
type mappingSchema struct {
	path   string // JSON pointer of the mapping, e.g. /producers/0
	schema *Schema
	at     func(v any) any // the whole file, with v as this mapping
}

// mappings walks s and returns every object schema that rejects unknown
// keys and names some (step mappings have no keys without actions, and
// the loader leaves their keys to stages).
func mappings(s *Schema, path string, at func(any) any) []mappingSchema {
	var out []mappingSchema
	if s.AdditionalProperties == false && len(s.Properties) > 0 {
		out = append(out, mappingSchema{path: path, schema: s, at: at})
	}
	for _, p := range s.Properties {
		out = append(out, mappings(p.Schema, path+"/"+p.Name, func(v any) any { return at(map[string]any{p.Name: v}) })...)
	}
	if ap, ok := s.AdditionalProperties.(*Schema); ok {
		out = append(out, mappings(ap, path+"/q", func(v any) any { return at(map[string]any{"q": v}) })...)
	}
	if s.Items != nil {
		out = append(out, mappings(s.Items, path+"/0", func(v any) any { return at([]any{v}) })...)
	}
	for _, b := range slices.Concat(s.AnyOf, s.OneOf) {
		out = append(out, mappings(b, path, at)...)
	}
	return out
}

func parseValue(t *testing.T, doc any) Diagnostics {
	t.Helper()
	src, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, ds := Parse("schema.yaml", src)
	t.Logf("file:\n%s", src)
	return ds
}

const unknown = "zzzzzzzzzzzz" // close to no key, so the hint lists them all

var (
	unknownKeyRE   = regexp.MustCompile("^unknown key `" + unknown + "` in (.*)$")
	expectedKeysRE = regexp.MustCompile("^expected one of: (.*)$")
	missingKeyRE   = regexp.MustCompile("^(.*) is missing required key `([^`]+)`$")
)

// TestFileSchemaMatchesLoader checks, for every mapping in the schema, that
// the loader accepts exactly the keys the schema lists (the hint for an
// unknown key lists the keys the loader's field table has) and requires
// exactly the keys the schema requires. A mapping added to the file format
// is covered as soon as its field appears in a table.
func TestFileSchemaMatchesLoader(t *testing.T) {
	ms := mappings(FileSchema(nil), "", func(v any) any { return v })
	var paths []string
	for _, m := range ms {
		paths = append(paths, m.path)
	}
	for _, want := range []string{"", "/queues/q", "/shutdown", "/producers/0", "/consumers/0", "/consumers/0/on_error", "/consumers/0/on_error/retry"} {
		if !slices.Contains(paths, want) {
			t.Errorf("the schema has no mapping at %q; found %q", want, paths)
		}
	}
	for _, m := range ms {
		// what names the mapping in the loader's messages, e.g. "producer #1".
		var what string
		t.Run("keys"+m.path, func(t *testing.T) {
			var props []string
			for _, p := range m.schema.Properties {
				props = append(props, p.Name)
			}
			var keys []string
			found := 0
			for _, d := range parseValue(t, m.at(map[string]any{unknown: 1})) {
				sm := unknownKeyRE.FindStringSubmatch(d.Message)
				if d.Code != CodeUnknownField || sm == nil {
					continue
				}
				found, what = found+1, sm[1]
				hm := expectedKeysRE.FindStringSubmatch(d.Hint)
				if hm == nil {
					t.Fatalf("hint %q does not list the keys", d.Hint)
				}
				for _, k := range strings.Split(hm[1], ", ") {
					keys = append(keys, strings.Trim(k, "`"))
				}
			}
			if found != 1 {
				t.Fatalf("the loader reported %d unknown-field diagnostics for `%s`, want 1", found, unknown)
			}
			if !slices.Equal(props, keys) {
				t.Errorf("schema properties %q, loader keys %q", props, keys)
			}
		})
		t.Run("required"+m.path, func(t *testing.T) {
			if what == "" {
				t.Skip("the keys check failed")
			}
			var missing []string
			for _, d := range parseValue(t, m.at(map[string]any{})) {
				sm := missingKeyRE.FindStringSubmatch(d.Message)
				if d.Code == CodeMissing && sm != nil && sm[1] == what {
					missing = append(missing, sm[2])
				}
			}
			// A mapping of several shapes (oneOf: a template or a source
			// producer) requires, when empty, the keys of its first shape.
			required := m.schema.Required
			if len(m.schema.OneOf) > 0 {
				required = slices.Concat(required, m.schema.OneOf[0].Required)
			}
			if !slices.Equal(required, missing) {
				t.Errorf("schema requires %q, loader requires %q in %s", required, missing, what)
			}
		})
	}
}

// TestFileSchemaDescribesEveryKey checks that every property has a
// description: a field without a doc shows nothing in an editor.
func TestFileSchemaDescribesEveryKey(t *testing.T) {
	var walk func(s *Schema, path string)
	walk = func(s *Schema, path string) {
		for _, p := range s.Properties {
			if p.Schema.Description == "" {
				t.Errorf("%s/%s has no description: give its field a doc", path, p.Name)
			}
			walk(p.Schema, path+"/"+p.Name)
		}
		if ap, ok := s.AdditionalProperties.(*Schema); ok {
			walk(ap, path+"/*")
		}
		if s.Items != nil {
			walk(s.Items, path+"/*")
		}
		for _, b := range slices.Concat(s.AnyOf, s.OneOf) {
			walk(b, path)
		}
	}
	walk(FileSchema([]StepAction{{Name: "print", Doc: "print a line"}}), "")
}

// TestFileSchemaDefaults checks the defaults the schema states against the
// ones the loader applies.
func TestFileSchemaDefaults(t *testing.T) {
	s := FileSchema(nil)
	pl, ds := Parse("d.yaml", []byte("producers: [{name: p, count: 1, item: x}]\n"))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	queue := s.Property("queues").AdditionalProperties.(*Schema)
	shutdown := s.Property("shutdown")
	producer := s.Property("producers").Items
	grace, err := time.ParseDuration(shutdown.Property("grace").Default.(string))
	if err != nil {
		t.Fatal(err)
	}
	duration := func(v any) time.Duration {
		d, err := time.ParseDuration(v.(string))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// A consumer without on_error stops; one with `retry: {}` retries
	// with every default.
	onError := s.Property("consumers").Items.Property("on_error")
	onErrorMap := onError.OneOf[1]
	retry := onErrorMap.Property("retry").OneOf[1]
	pl2, ds := Parse("d.yaml", []byte("producers: [{name: p, count: 1, item: x}]\nconsumers: [{name: c, on_error: {retry: {}}}]\n"))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	policy, r := pl2.Consumers[0].OnError, pl2.Consumers[0].OnError.Retry
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"capacity", queue.Property("capacity").Default, pl.Queues[0].Capacity},
		{"strategy", shutdown.Property("strategy").Default, string(pl.Shutdown.Strategy)},
		{"grace", grace, pl.Shutdown.Grace},
		{"replicas", producer.Property("replicas").Default, pl.Producers[0].Replicas},
		{"queues", fmt.Sprint(s.Property("queues").Default), fmt.Sprintf("map[%s:map[capacity:%d]]", pl.Queues[0].Name, pl.Queues[0].Capacity)},
		{"on_error", onError.Default, string(policy.Then)},
		{"retry", onErrorMap.Property("retry").Default, 1},
		{"then", onErrorMap.Property("then").Default, string(policy.Then)},
		{"attempts", retry.Property("attempts").Default, r.Attempts},
		{"backoff", duration(retry.Property("backoff").Default), r.Backoff},
		{"max_backoff", duration(retry.Property("max_backoff").Default), r.MaxBackoff},
		{"multiplier", retry.Property("multiplier").Default, r.Multiplier},
		{"jitter", retry.Property("jitter").Default, r.Jitter},
	} {
		if c.got != c.want {
			t.Errorf("%s: schema default %v, loader default %v", c.name, c.got, c.want)
		}
	}
}

// TestDurationPatterns checks the schema's duration patterns against
// ParseDuration, which the loader uses.
func TestDurationPatterns(t *testing.T) {
	duration := regexp.MustCompile(durationPattern)
	zero := regexp.MustCompile(zeroPattern)
	for _, s := range []string{
		"0", "+0", "1s", "250ms", "1m30s", "1h2m3.5s", "1.5h", ".5s", "1.s", "10us", "10µs", "10μs", "3ns", " 2s ", "+5s", "0s", "0.0ms",
		"", "1", "1.5", "s", "5 sec", "-2s", "1d", "forever", "1s2", "${x}", "1ss", ".s", "1..5s",
	} {
		d, err := ParseDuration(s)
		if got := duration.MatchString(s); got != (err == nil) {
			t.Errorf("%q: pattern matches %v, ParseDuration error %v", s, got, err)
		}
		if got := zero.MatchString(s); got != (err == nil && d == 0) {
			t.Errorf("%q: zero pattern matches %v, ParseDuration gives %v, %v", s, got, d, err)
		}
	}
}

// TestSchemaJSON checks that properties marshal in table order and that
// an encoder without HTML escaping (as `pcrun schema` uses) writes text as is.
func TestSchemaJSON(t *testing.T) {
	s := &Schema{Type: "object", Properties: Properties{
		{Name: "b", Schema: &Schema{Description: "x < y & z"}},
		{Name: "a", Schema: &Schema{Const: 0, Default: false}},
	}, AdditionalProperties: false}
	var got strings.Builder
	enc := json.NewEncoder(&got)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{"b":{"description":"x < y & z"},"a":{"default":false,"const":0}},"additionalProperties":false}` + "\n"
	if got.String() != want {
		t.Errorf("got  %s\nwant %s", got.String(), want)
	}
}
