package effects_test

import (
	"encoding/json"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// argvHelper, set to 1 in its environment, makes the test binary print
// its arguments as a JSON list and exit: the child of exec_test.go.
const argvHelper = "PCRUN_TEST_PRINT_ARGV"

func TestMain(m *testing.M) {
	if os.Getenv(argvHelper) == "1" {
		json.NewEncoder(os.Stdout).Encode(os.Args[1:])
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
