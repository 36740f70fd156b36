package stages

import (
	"math/rand/v2"
	"strconv"

	"github.com/expr-lang/expr/ast"
)

// ProducerEnv is what a producer's expressions see. It is passed to expr by
// value; each worker owns one and changes I and Item between items.
type ProducerEnv struct {
	Name    string            `expr:"name"`    // stage name
	Replica int               `expr:"replica"` // 1-based
	Worker  string            `expr:"worker"`  // name, or name-N with several replicas
	I       int               `expr:"i"`       // 0-based index within the replica
	Count   int               `expr:"count"`   // items each replica makes
	Item    any               `expr:"item"`    // the item just made (print only)
	Env     map[string]string `expr:"env"`     // environment variables
	Line    any               `expr:"line"`    // the record of a source producer (source.go); nil otherwise
	// rng is the worker's generator, for the random functions (random.go);
	// unexported, so no expression sees it.
	rng *rand.Rand
}

// ConsumerEnv is what a consumer's expressions see.
type ConsumerEnv struct {
	Name    string            `expr:"name"`
	Replica int               `expr:"replica"`
	Worker  string            `expr:"worker"`
	Item    any               `expr:"item"`    // the item being handled
	Attempt int               `expr:"attempt"` // 1 on the first try, 2 on the first retry, ...
	Env     map[string]string `expr:"env"`
	// Result is what the item's last exec or shell step did (action_exec.go).
	Result ExecResult `expr:"result"`
	rng    *rand.Rand // see ProducerEnv
}

// producerNames and consumerNames are the built-in names of each
// environment, for "did you mean" hints.
var (
	producerNames = []string{"name", "replica", "worker", "i", "count", "item", "env"} // and `line` with a source
	consumerNames = []string{"name", "replica", "worker", "item", "attempt", "env", "result"}
)

// WorkerName is the name of a stage's worker replica (1-based) of
// replicas: the stage name, with -N appended when the stage has more than
// one replica.
func WorkerName(stage string, replica, replicas int) string {
	if replicas > 1 {
		return stage + "-" + itoa(replica)
	}
	return stage
}

// field is a name of a worker's environment that templates read directly,
// without the VM: the placeholder is the bare name (`${i}`, `${item}`).
type field uint8

const (
	noField field = iota
	fieldName
	fieldReplica
	fieldWorker
	fieldI
	fieldCount
	fieldItem
	fieldAttempt
	fieldLine
)

var (
	producerFields = map[string]field{"name": fieldName, "replica": fieldReplica, "worker": fieldWorker,
		"i": fieldI, "count": fieldCount, "item": fieldItem, "line": fieldLine}
	consumerFields = map[string]field{"name": fieldName, "replica": fieldReplica, "worker": fieldWorker,
		"item": fieldItem, "attempt": fieldAttempt}
)

// fieldOf returns the field a program reads when the program is nothing
// but a name of the environment sample (ProducerEnv{} or ConsumerEnv{}),
// and noField otherwise.
func fieldOf(sample any, p *program) field {
	id, ok := p.prog.Node().(*ast.IdentifierNode)
	if !ok {
		return noField
	}
	switch sample.(type) {
	case ProducerEnv:
		return producerFields[id.Value]
	case ConsumerEnv:
		return consumerFields[id.Value]
	}
	return noField
}

// value reads the field from a worker's environment; false when env is
// not one this package passes (then the VM evaluates the placeholder).
func (f field) value(env any) (any, bool) {
	switch e := env.(type) {
	case *ProducerEnv:
		switch f {
		case fieldName:
			return e.Name, true
		case fieldReplica:
			return e.Replica, true
		case fieldWorker:
			return e.Worker, true
		case fieldI:
			return e.I, true
		case fieldCount:
			return e.Count, true
		case fieldItem:
			return e.Item, true
		case fieldLine:
			return e.Line, true
		}
	case *ConsumerEnv:
		switch f {
		case fieldName:
			return e.Name, true
		case fieldReplica:
			return e.Replica, true
		case fieldWorker:
			return e.Worker, true
		case fieldItem:
			return e.Item, true
		case fieldAttempt:
			return e.Attempt, true
		}
	}
	return nil, false
}

// appendTo appends the field as Format shows it, without boxing numbers.
func (f field) appendTo(b []byte, env any) ([]byte, bool) {
	switch e := env.(type) {
	case *ProducerEnv:
		switch f {
		case fieldName:
			return append(b, e.Name...), true
		case fieldReplica:
			return strconv.AppendInt(b, int64(e.Replica), 10), true
		case fieldWorker:
			return append(b, e.Worker...), true
		case fieldI:
			return strconv.AppendInt(b, int64(e.I), 10), true
		case fieldCount:
			return strconv.AppendInt(b, int64(e.Count), 10), true
		case fieldItem:
			return appendFormat(b, e.Item), true
		case fieldLine:
			return appendFormat(b, e.Line), true
		}
	case *ConsumerEnv:
		switch f {
		case fieldName:
			return append(b, e.Name...), true
		case fieldReplica:
			return strconv.AppendInt(b, int64(e.Replica), 10), true
		case fieldWorker:
			return append(b, e.Worker...), true
		case fieldItem:
			return appendFormat(b, e.Item), true
		case fieldAttempt:
			return strconv.AppendInt(b, int64(e.Attempt), 10), true
		}
	}
	return b, false
}

// byValue is the environment as the VM saw it before workers passed a
// pointer: `$env` evaluates to the whole environment, and an item made
// from it must not change when the worker moves on to the next item.
func byValue(env any) any {
	switch e := env.(type) {
	case *ProducerEnv:
		return *e
	case *ConsumerEnv:
		return *e
	}
	return env
}
