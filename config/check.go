package config

import (
	"fmt"
	"slices"
)

// check runs the checks that need the whole file: names, queue references
// and the shape of the graph.
func (p *parser) check(pl *Pipeline) {
	if len(pl.Producers) == 0 && len(pl.Consumers) == 0 && !p.diags.HasErrors() {
		p.diags.Errorf(Pos{File: p.file, Line: 1, Col: 1}, CodeNoStages, "add a `producers:` list", "the pipeline has no stages")
	}
	p.checkStageNames(pl)
	p.resolveRefs(pl)
	p.checkSources(pl) // source.go
	p.checkTests(pl, 0)
}

// checkStageNames reports a stage name given to more than one stage.
func (p *parser) checkStageNames(pl *Pipeline) {
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
}

// resolveRefs resolves the queues each stage names, and then checks the
// consumers' dead letters, which need them.
func (p *parser) resolveRefs(pl *Pipeline) {
	qnames := make([]string, len(pl.Queues))
	for i, q := range pl.Queues {
		qnames[i] = q.Name
	}
	for i := range pl.Producers {
		p.resolveRef(pl, qnames, &pl.Producers[i].To, pl.Producers[i].Stage, "to")
	}
	for i := range pl.Consumers {
		c := &pl.Consumers[i]
		p.resolveRef(pl, qnames, &c.From, c.Stage, "from")
		if c.To.Set {
			p.resolveRef(pl, qnames, &c.To, c.Stage, "to")
		}
		if c.OnError.DeadLetter.Set {
			p.resolveRef(pl, qnames, &c.OnError.DeadLetter, c.Stage, "dead_letter")
			p.checkOnError(c)
		}
	}
}

// resolveRef resolves the queue that key of stage st names (qnames are
// the file's queues): one the file declares, or the only queue when the
// key is left out. A queue it cannot resolve is reported, and its name
// cleared.
func (p *parser) resolveRef(pl *Pipeline, qnames []string, r *Ref, st Stage, key string) {
	if !r.Set {
		if len(pl.Queues) == 1 {
			r.Name = pl.Queues[0].Name
		} else if len(pl.Queues) > 1 {
			p.diags.Errorf(st.Pos, CodeAmbiguousQueue, "name one of "+Quoted(qnames),
				"stage `%s` needs `%s:`: the file declares %d queues", st.Name, key, len(pl.Queues))
		}
		return
	}
	if slices.Contains(qnames, r.Name) {
		return
	}
	hint := DidYouMean(r.Name, qnames)
	if len(qnames) == 0 || (len(pl.Queues) == 1 && pl.Queues[0].Implicit && Suggest(r.Name, qnames) == "") {
		hint = fmt.Sprintf("declare it under `queues:`, e.g. queues: {%s: {capacity: 100}}", r.Name)
	}
	p.diags.Errorf(r.Pos, CodeUndefinedQueue, hint, "undefined queue `%s`", r.Name)
	r.Name = ""
}
