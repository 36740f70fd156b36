package stages

import (
	"sort"

	"github.com/pcrun/pcrun/config"
)

// action is a kind of consumer step: its key in `do`, what it does, and how
// it compiles. Each action lives in its own file (action_*.go).
type action struct {
	name  string
	doc   string
	emits bool // writes into the consumer's `to` queue
	// realWork: the step acts on the world outside pcrun (runs processes,
	// writes files), so a simulation must not run it.
	realWork bool
	arg      *config.Schema // the shape of the argument for `pcrun schema`; nil: any
	compile  func(c *compiler, st config.Step) Step
}

// actions holds every action by name; filled by the action files' init.
var actions = map[string]*action{}

func register(a *action) { actions[a.name] = a }

func actionNames() []string {
	var out []string
	for n := range actions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Action describes a step action for docs and tools.
type Action struct {
	Name  string
	Doc   string
	Emits bool
	// RealWork: the action acts on the world outside pcrun (runs
	// processes, writes files); a simulated run must refuse it.
	RealWork bool
	// Arg is the JSON Schema of the action's argument; nil means any value.
	Arg *config.Schema
}

// Actions lists the step actions pcrun knows, by name.
func Actions() []Action {
	var out []Action
	for _, n := range actionNames() {
		a := actions[n]
		out = append(out, Action{Name: a.name, Doc: a.doc, Emits: a.emits, RealWork: a.realWork, Arg: a.arg})
	}
	return out
}
