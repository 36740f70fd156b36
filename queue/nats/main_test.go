package nats_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/pcrun/pcrun/queue/nats/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		natstest.Remove() // the nats-server a cluster test built, if any
		os.Exit(code)
	}))
}
