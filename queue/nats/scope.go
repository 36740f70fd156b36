package nats

import "github.com/pcrun/pcrun/stages"

// A run id (pipeline.Options.RunID, `--run-id`) scopes everything a run
// keeps on its brokers: the key-value bucket is PCRUN_<pipeline>-run-<id>
// and each queue's stream and subject carry the id
// (<stream>-run-<id>, <subject>.<id>), so runs of one pipeline with
// different ids never see each other's items, rosters or records. The
// default run (no id) keeps the names the file gives.

// Scope returns the name a run of pipeline with runID keeps its bucket
// under, and queues as that run has them on the broker.
func Scope(pipeline, runID string, queues []*stages.Queue) (string, []*stages.Queue) {
	out := make([]*stages.Queue, len(queues))
	for i, q := range queues {
		out[i] = scopedQueue(q, runID)
	}
	return scopeName(pipeline, runID), out
}

func scopeName(pipeline, runID string) string {
	if runID == "" {
		return pipeline
	}
	return pipeline + "-run-" + runID
}

// scopedQueue is q with the stream and subject of the run runID.
func scopedQueue(q *stages.Queue, runID string) *stages.Queue {
	if runID == "" {
		return q
	}
	c := *q
	c.Stream += "-run-" + runID
	c.Subject += "." + runID
	return &c
}
