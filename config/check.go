package config

import (
	"fmt"
)

// check runs the checks that need the whole file: names, queue references
// and the shape of the graph.
func (p *parser) check(pl *Pipeline) {
	if len(pl.Producers) == 0 && len(pl.Consumers) == 0 && !p.diags.HasErrors() {
		p.diags.Errorf(Pos{File: p.file, Line: 1, Col: 1}, CodeNoStages, "add a `producers:` list", "the pipeline has no stages")
	}
	names := map[string]Pos{}
	dup := func(st Stage) {
		if st.Name == "" {
			return
		}
		if prev, ok := names[st.Name]; ok {
			p.diags.Errorf(st.Pos, CodeDuplicateName, fmt.Sprintf("stage names must be unique; the other `%s` is at line %d", st.Name, prev.Line),
				"duplicate stage name `%s`", st.Name)
			return
		}
		names[st.Name] = st.Pos
	}
	for _, pr := range pl.Producers {
		dup(pr.Stage)
	}
	for _, c := range pl.Consumers {
		dup(c.Stage)
	}
	qnames := make([]string, len(pl.Queues))
	for i, q := range pl.Queues {
		qnames[i] = q.Name
	}
	resolveRef := func(r *Ref, st Stage, key string) {
		if !r.Set {
			if len(pl.Queues) == 1 {
				r.Name = pl.Queues[0].Name
			} else if len(pl.Queues) > 1 {
				p.diags.Errorf(st.Pos, CodeAmbiguousQueue, "name one of "+Quoted(qnames),
					"stage `%s` needs `%s:`: the file declares %d queues", st.Name, key, len(pl.Queues))
			}
			return
		}
		for _, q := range qnames {
			if q == r.Name {
				return
			}
		}
		hint := DidYouMean(r.Name, qnames)
		if len(qnames) == 0 || (len(pl.Queues) == 1 && pl.Queues[0].Implicit && Suggest(r.Name, qnames) == "") {
			hint = fmt.Sprintf("declare it under `queues:`, e.g. queues: {%s: {capacity: 100}}", r.Name)
		}
		p.diags.Errorf(r.Pos, CodeUndefinedQueue, hint, "undefined queue `%s`", r.Name)
		r.Name = ""
	}
	for i := range pl.Producers {
		resolveRef(&pl.Producers[i].To, pl.Producers[i].Stage, "to")
	}
	for i := range pl.Consumers {
		c := &pl.Consumers[i]
		resolveRef(&c.From, c.Stage, "from")
		if c.To.Set {
			resolveRef(&c.To, c.Stage, "to")
		}
		if c.OnError.DeadLetter.Set {
			resolveRef(&c.OnError.DeadLetter, c.Stage, "dead_letter")
			p.checkOnError(c)
		}
	}
	p.checkSources(pl) // source.go
	p.checkTests(pl, 0)
}
