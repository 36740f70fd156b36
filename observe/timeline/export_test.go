package timeline

// CheckSVG serves the tests of real runs (run_test.go), which are outside
// the package because they import pipeline.
var CheckSVG = checkSVG
