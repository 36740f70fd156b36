package nats_test

import "github.com/pcrun/pcrun/internal/testpipe"

// The helpers of internal/testpipe, under the names these tests use.
var (
	compile = testpipe.Compile
	eaten   = testpipe.Eaten
	items   = testpipe.Items
	totals  = testpipe.Totals
)
