// Package observe holds what watches a run sees: its events (Event, an
// Observer receives them; EventWriter writes them as JSON lines), its live
// counters (Live, Snapshot) and its result (Result, with the Ledger that
// accounts for every item). It imports no part of the runtime, so the
// runtime, the backends and every observer (the timeline, progress bars,
// metrics) can share these types.
package observe
