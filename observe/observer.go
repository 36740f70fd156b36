package observe

// Observer watches a run: the runtime tells it when the run starts (with
// its live counters), what happens (events), each item put into a queue,
// and how the run ended. The event writer, the timeline, progress bars,
// metrics and `pcrun test` are observers.
//
// Event and Put are called from the worker that caused them, concurrently
// with other workers, sometimes while a queue's lock is held (so that a
// queue's events come in the order the queue saw them): they must be safe
// for concurrent use, return quickly, and never call back into the run.
// The runtime calls them only when Wants asks for them, so an observer
// that needs neither costs the run nothing per item.
type Observer interface {
	// Wants says which of Event and Put the observer needs.
	Wants() Want
	// Start is called once the queues are open, just before the workers
	// start. live stays readable after the run returns.
	Start(live Live)
	// Observe receives an event (WantEvents).
	Observe(e Event)
	// Put is called once for each item put into a queue (by a producer,
	// the replay of a spill file or a step), after the put, never for
	// an end marker (WantPuts).
	Put(queue string, item any)
	// End is called once, after every worker has exited, with the
	// result (the one the run returns).
	End(res *Result)
}

// Want says which calls an Observer needs.
type Want uint8

const (
	WantEvents Want = 1 << iota
	WantPuts
)

// Base is an Observer that wants nothing and ignores everything: embed it
// and define the methods you need.
type Base struct{}

func (Base) Wants() Want     { return 0 }
func (Base) Start(Live)      {}
func (Base) Observe(Event)   {}
func (Base) Put(string, any) {}
func (Base) End(*Result)     {}

// Funcs is an Observer made of functions; a nil one is not called, and
// Wants follows which of OnEvent and OnPut are set.
type Funcs struct {
	OnStart func(Live)
	OnEvent func(Event)
	OnPut   func(queue string, item any)
	OnEnd   func(*Result)
}

func (f Funcs) Wants() Want {
	var w Want
	if f.OnEvent != nil {
		w |= WantEvents
	}
	if f.OnPut != nil {
		w |= WantPuts
	}
	return w
}

func (f Funcs) Start(l Live) {
	if f.OnStart != nil {
		f.OnStart(l)
	}
}

func (f Funcs) Observe(e Event) {
	if f.OnEvent != nil {
		f.OnEvent(e)
	}
}

func (f Funcs) Put(queue string, item any) {
	if f.OnPut != nil {
		f.OnPut(queue, item)
	}
}

func (f Funcs) End(res *Result) {
	if f.OnEnd != nil {
		f.OnEnd(res)
	}
}

// Observers is several observers as one: each call goes to every one of
// them, in order; Event and Put only to those that want them.
type Observers []Observer

// Wants is what any of them wants.
func (os Observers) Wants() Want {
	var w Want
	for _, o := range os {
		w |= o.Wants()
	}
	return w
}

func (os Observers) Start(l Live) {
	for _, o := range os {
		o.Start(l)
	}
}

func (os Observers) Observe(e Event) {
	for _, o := range os {
		if o.Wants()&WantEvents != 0 {
			o.Observe(e)
		}
	}
}

func (os Observers) Put(queue string, item any) {
	for _, o := range os {
		if o.Wants()&WantPuts != 0 {
			o.Put(queue, item)
		}
	}
}

func (os Observers) End(res *Result) {
	for _, o := range os {
		o.End(res)
	}
}

// Only returns the observers of os that want w (nil when none does), for
// the runtime's per-item calls.
func (os Observers) Only(w Want) Observers {
	var out Observers
	for _, o := range os {
		if o.Wants()&w != 0 {
			out = append(out, o)
		}
	}
	return out
}
