package config

import "time"

// Pipeline is a parsed pipeline file (format version 1).
type Pipeline struct {
	File      string
	Name      string
	Vars      []Var   // in file order
	Queues    []Queue // in file order; one implicit "main" queue when the file has none
	Shutdown  Shutdown
	Producers []Producer
	Consumers []Consumer
	Tests     []Test // `tests:`, then a sibling test file's (ParseTests)
}

// Var is a named constant visible in every expression.
type Var struct {
	Name  string
	Pos   Pos
	Value any // decoded YAML: string, int, float64, bool, nil, []any, map[string]any
}

// Queue describes a queue between stages.
type Queue struct {
	Name      string
	Pos       Pos
	Capacity  int  // items; meaningless when Unbounded
	Unbounded bool // capacity: unbounded
	Implicit  bool // the default "main" queue of a file without `queues`

	Backend    Backend // "" or Memory unless the file says `backend: nats`
	BackendPos Pos
	// The NATS settings; the loader rejects them on a memory queue.
	URL           *Value // a template, evaluated once before the run (stages); nil: DefaultNatsURL
	Stream        string // "": derived from the pipeline and queue names (stages)
	StreamPos     Pos
	Subject       string // "": derived like Stream
	SubjectPos    Pos
	MaxDeliver    int // deliveries of an item before it counts as failed; 0: DefaultMaxDeliver
	MaxDeliverPos Pos
	AckWait       time.Duration // how long a reader may hold an item without word before it is redelivered; 0: DefaultAckWait
	AckWaitPos    Pos
	Replicas      int // servers keeping the stream, 1 to 5; 0: an existing stream's, else 1
	ReplicasPos   Pos
	Storage       string // "file" or "memory"; "": an existing stream's, else file
	StoragePos    Pos
	// How the connection to the broker proves who it is and checks whom it
	// talks to (natsauth.go): file names, templates that stages evaluate
	// once and check. Nil: not given.
	Credentials *Value // a .creds file: a user's JWT and nkey seed
	NKey        *Value // a file holding an nkey seed
	TLS         *TLS

	natsKeys []keyAt // the NATS settings the file gives, for the check on memory queues
}

// TLS is a NATS queue's `tls`: files of PEM data, each a template.
type TLS struct {
	Pos  Pos    // the `tls` value
	CA   *Value // the authorities the broker's certificate must come from; nil: the system's
	Cert *Value // this client's certificate, given with Key
	Key  *Value // the certificate's private key
}

// keyAt is a key of a mapping and where the file writes it.
type keyAt struct {
	key string
	pos Pos
}

// DefaultCapacity is a queue's capacity when the file does not say.
const DefaultCapacity = 1000

// Backend is where a queue's items wait.
type Backend string

// The queue backends.
const (
	// Memory: a queue inside the pcrun process (the default).
	Memory Backend = "memory"
	// NATS: a NATS JetStream stream, which several pcrun processes may share.
	NATS Backend = "nats"
)

// Backends lists the valid backends in documentation order.
var Backends = []string{string(Memory), string(NATS)}

// Defaults of the NATS queue settings.
const (
	DefaultNatsURL    = "nats://127.0.0.1:4222"
	DefaultMaxDeliver = 5
	DefaultAckWait    = 30 * time.Second
)

// DefaultGrace is how long queues may drain after a deadline or signal when
// the file does not say.
const DefaultGrace = 10 * time.Second

// Strategy is how readers of a queue learn to stop.
type Strategy string

// The shutdown strategies; see DESIGN.md.
const (
	Close    Strategy = "close"
	Sentinel Strategy = "sentinel"
	Join     Strategy = "join"
	None     Strategy = "none"
)

// Strategies lists the valid strategies in documentation order.
var Strategies = []string{string(Close), string(Sentinel), string(Join), string(None)}

// Shutdown says how the run ends.
type Shutdown struct {
	Strategy    Strategy
	StrategyPos Pos
	Deadline    time.Duration // 0: none
	DeadlinePos Pos
	Grace       time.Duration
	GracePos    Pos
	Spill       string // "" : no spill file; relative to the pipeline file's directory
	SpillPos    Pos
}

// Stage holds what producers and consumers share.
type Stage struct {
	Name        string
	Pos         Pos // position of the stage's `name` value (or the stage itself)
	Replicas    int
	ReplicasPos Pos
	// ReplicasTemplate is `replicas` written as a template of vars and env,
	// e.g. "${workers}": stages evaluate it once, at compile time, and
	// Replicas is only the default (1) until then. Nil for a number.
	ReplicasTemplate *Value
}

// Ref names a queue from a stage's `to` or `from`.
type Ref struct {
	Name string
	Pos  Pos
	Set  bool // written in the file (else inferred from the single queue)
}

// Producer makes items from a template, or from the records of a Source.
type Producer struct {
	Stage
	To       Ref
	Count    int
	CountPos Pos
	CountSet bool // count was given and valid; without a Source, count is required
	// CountTemplate is `count` written as a template of vars and env, e.g.
	// "${n * 2}": stages evaluate it once, at compile time, and Count is
	// 0 until then (CountSet is true). Nil for a number.
	CountTemplate *Value
	Delay         *Value  // optional: duration or template
	Item          *Value  // item template; required without a Source
	Print         *Value  // optional: line template
	Source        *Source // optional: a source kind such as `lines` (source.go)

	sourceKey bool // a source key is written, valid or not: count and item are optional
}

// Consumer takes items from a queue and runs steps on each.
type Consumer struct {
	Stage
	From    Ref
	When    *Value // optional: a bare boolean expression
	Steps   []Step
	To      Ref
	OnError OnError
}

// ErrorAction is what a consumer does with an item after its last failed
// attempt.
type ErrorAction string

// The error actions.
const (
	// Stop (the default): stop producing, drain, exit 1.
	Stop ErrorAction = "stop"
	// Skip: count the item as failed and go on.
	Skip ErrorAction = "skip"
	// DeadLetter: put the item, with its error, into a queue other stages read.
	DeadLetter ErrorAction = "dead_letter"
)

// ErrorActions lists the valid values of `on_error.then`.
var ErrorActions = []ErrorAction{Stop, Skip, DeadLetter}

// OnError is a consumer's `on_error`. The zero value (no key) is: one
// attempt, then stop.
type OnError struct {
	Pos        Pos
	Set        bool
	Retry      *Retry      // nil: no retry
	Then       ErrorAction // "" means Stop
	ThenPos    Pos
	DeadLetter Ref // the queue of `dead_letter`
}

// Retry is `on_error.retry`.
type Retry struct {
	Pos        Pos
	Attempts   int           // tries in all, >= 1; default 3
	Backoff    time.Duration // wait before the first retry; default 100ms
	MaxBackoff time.Duration // cap on any wait; default 10s
	Multiplier float64       // growth of the wait per retry, >= 1; default 2
	Jitter     float64       // spread of each wait, a fraction in [0, 1]; default 0.2
}

// Defaults of `on_error.retry`.
const (
	DefaultAttempts   = 3
	DefaultBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultMultiplier = 2.0
	DefaultJitter     = 0.2
)

// Step is one entry of a consumer's `do` list: an action and its argument.
type Step struct {
	Action    string
	ActionPos Pos
	Arg       *Value
}

// ValueKind says what shape a YAML value has.
type ValueKind int

// The shapes of a Value.
const (
	ScalarValue ValueKind = iota
	MapValue
	ListValue
)

// Value is a YAML value that stages compile: a template string, a constant,
// or a map or list of them. Strings keep enough of their source to map a
// column inside them back to the file ([Text.At]).
type Value struct {
	Kind  ValueKind
	Pos   Pos
	Text  Text   // scalars: the text as written, decoded
	Str   bool   // scalars: a string (else Const holds a number, bool or nil)
	Const any    // scalars that are not strings
	Keys  []Text // maps: keys in file order
	Elems []*Value
}
