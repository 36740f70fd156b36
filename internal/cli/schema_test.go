package cli

import (
	"slices"
	"testing"

	"github.com/pcrun/pcrun/stages"
)

// TestSchemaStepActions checks that the step actions in the schema are the
// ones stages knows.
func TestSchemaStepActions(t *testing.T) {
	step := fileSchema().Property("consumers").Items.Property("do").Items
	var got, want []string
	for _, p := range step.Properties {
		got = append(got, p.Name)
	}
	for _, a := range stages.Actions() {
		want = append(want, a.Name)
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("step actions in the schema %q, in stages %q", got, want)
	}
}
