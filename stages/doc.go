// Package stages compiles the stages of a parsed pipeline into executable
// behaviour: expr programs and templates compiled once, steps built from
// actions, and the graph of queues with its hazards. It starts no
// goroutines and owns no queues; the pipeline package runs what it builds
// through the [Effects] a worker is given.
//
// Compiled programs are immutable and shared by every worker of a stage;
// each worker gets its own expr VM and environment ([ProducerWorker],
// [ConsumerWorker]), so nothing here needs a lock.
package stages
