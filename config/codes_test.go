package config

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestCodesDocumented keeps docs/diagnostics.md and Codes in step: every
// code has a "### code (severity)" section and every section is a code.
func TestCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/diagnostics.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^### ([a-z-]+) \((error|warning)\)$`).FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	for _, c := range Codes {
		if !slices.Contains(documented, c) {
			t.Errorf("code %q has no `### %s (severity)` section in docs/diagnostics.md", c, c)
		}
	}
	for _, c := range documented {
		if !slices.Contains(Codes, c) {
			t.Errorf("docs/diagnostics.md documents %q, which is not in config.Codes", c)
		}
	}
	if dup := len(Codes) - len(slices.Compact(slices.Sorted(slices.Values(Codes)))); dup != 0 {
		t.Errorf("config.Codes has %d duplicate(s)", dup)
	}
}
