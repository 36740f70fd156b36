//go:build !unix

package effects

import (
	"context"
	"errors"

	"github.com/pcrun/pcrun/stages"
)

// Exec needs process groups, which pcrun uses on Unix systems only.
func Exec(context.Context, *stages.Cmd) (stages.ExecResult, error) {
	return stages.ExecResult{}, errors.New("exec and shell steps need a Unix system")
}
