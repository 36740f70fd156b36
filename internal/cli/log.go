package cli

import (
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/pipeline"
)

// newLogger makes the run's logger from --log-level and --log-format:
// text is the "pcrun: ..." lines (pipeline.LogHandler), json one JSON
// object per record with its time, level, message and attributes.
func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	name := strings.ToLower(c.String("log-level"))
	switch name {
	case "debug", "info", "warn", "error":
		_ = level.UnmarshalText([]byte(name))
	default:
		return nil, usagef("pcrun: error: unknown log level %q\nhint: use debug, info, warn or error", c.String("log-level"))
	}
	switch c.String("log-format") {
	case "text":
		return slog.New(pipeline.NewLogHandler(w, level)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	}
	return nil, usagef("pcrun: error: unknown log format %q\nhint: use text or json", c.String("log-format"))
}
