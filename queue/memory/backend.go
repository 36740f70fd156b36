// Package memory is the embedded queue backend, the default: queues inside
// the pcrun process, under one lock shared by all of a run's memory
// queues, which makes its deadlock detection exact (world.go).
package memory

import (
	"context"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/queue"
)

func init() { queue.Register(config.Memory, backend{}) }

type backend struct{}

// Open makes the run's memory queues, sharing one world.
func (backend) Open(_ context.Context, env *queue.Env, specs []*queue.Spec) (queue.Set, error) {
	s := &set{w: newWorld(env)}
	for _, sp := range specs {
		capacity := sp.Capacity
		if sp.Unbounded {
			capacity = 0
		}
		s.queues = append(s.queues, newMemQueue(s.w, sp.Name, capacity, sp.LocalWriters(), sp.ReaderReplicas))
	}
	return s, nil
}

// set is a run's memory queues. It is a queue.Tracker: every worker of
// the run enters its world, so a stall is seen the moment it happens.
type set struct {
	w      *world
	queues []*memQueue
}

var (
	_ queue.Tracker = (*set)(nil)
	_ queue.Batcher = (*memQueue)(nil)
)

func (s *set) Queues() []queue.Queue {
	out := make([]queue.Queue, len(s.queues))
	for i, q := range s.queues {
		out[i] = q
	}
	return out
}

func (s *set) Start(context.Context) error { return nil }

// Idle reports whether no queue holds an unfinished item.
func (s *set) Idle(context.Context) bool {
	for _, q := range s.queues {
		if !q.idleNow() {
			return false
		}
	}
	return true
}

func (s *set) Close() {}

func (s *set) Enter()                     { s.w.enter() }
func (s *set) Leave()                     { s.w.leave() }
func (s *set) Stalls() <-chan queue.Stall { return s.w.stall }
