// Package queue defines what the runtime needs from a queue between
// stages, and the counters a queue keeps (Stats).
package queue
