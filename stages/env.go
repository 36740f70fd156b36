package stages

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
}

// ConsumerEnv is what a consumer's expressions see.
type ConsumerEnv struct {
	Name    string            `expr:"name"`
	Replica int               `expr:"replica"`
	Worker  string            `expr:"worker"`
	Item    any               `expr:"item"`    // the item being handled
	Attempt int               `expr:"attempt"` // 1 on the first try, 2 on the first retry, ...
	Env     map[string]string `expr:"env"`
}

// producerNames and consumerNames are the built-in names of each
// environment, for "did you mean" hints.
var (
	producerNames = []string{"name", "replica", "worker", "i", "count", "item", "env"}
	consumerNames = []string{"name", "replica", "worker", "item", "attempt", "env"}
)

// workerName is the stage name, with -N appended when the stage has more
// than one replica.
func workerName(stage string, replica, replicas int) string {
	if replicas > 1 {
		return stage + "-" + itoa(replica)
	}
	return stage
}
