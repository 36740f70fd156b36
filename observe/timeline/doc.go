// Package timeline draws a run (`pcrun run --timeline`, docs/observing.md):
// a Timeline receives the run's events (observe.Event) as its observer,
// records them in bounded memory, and writes the picture as SVG (WriteSVG)
// or as an HTML page around it (WriteHTML).
//
// It knows the run only through its events: it imports observe and no part
// of the runtime, so a real run and a simulated one draw the same way.
package timeline
