package cli

import (
	"encoding/json"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

func schemaCommand(_ *env) *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print the JSON Schema (draft 2020-12) of the pipeline file format",
		Description: "Editors use it to complete and check pipeline files; with yaml-language-server, start a file with\n" +
			"   # yaml-language-server: $schema=PATH/TO/pcrun.schema.json\n" +
			"docs/pcrun.schema.json in the repository is this output.",
		Action:       func(c *cli.Context) error { return writeSchema(c.App.Writer) },
		OnUsageError: onUsageError,
	}
}

// fileSchema is the pipeline file's schema with the step actions stages knows.
func fileSchema() *config.Schema {
	var actions []config.StepAction
	for _, a := range stages.Actions() {
		actions = append(actions, config.StepAction{Name: a.Name, Doc: a.Doc, Arg: a.Arg})
	}
	return config.FileSchema(actions)
}

// writeSchema writes the schema as indented JSON, ending with a newline.
func writeSchema(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(fileSchema())
}
