package stages

// DownstreamOrder lists the graph's queues so that a queue comes after
// every queue whose readers put into it (file order within a cycle).
func (g *Graph) DownstreamOrder() []string {
	in := map[string]int{}
	next := hopsOf(g)
	for _, hs := range next {
		for _, to := range hs {
			in[to]++
		}
	}
	var order, ready []string
	for _, q := range g.Queues {
		if in[q.Name] == 0 {
			ready = append(ready, q.Name)
		}
	}
	seen := map[string]bool{}
	for len(ready) > 0 {
		q := ready[0]
		ready = ready[1:]
		seen[q] = true
		order = append(order, q)
		for _, to := range next[q] {
			if in[to]--; in[to] == 0 {
				ready = append(ready, to)
			}
		}
	}
	for _, q := range g.Queues { // in a cycle
		if !seen[q.Name] {
			order = append(order, q.Name)
		}
	}
	return order
}

// hopsOf maps each queue to the queues its readers put into.
func hopsOf(g *Graph) map[string][]string {
	next := map[string][]string{}
	for _, c := range g.Consumers {
		if c.Emits && c.To != "" {
			next[c.From] = append(next[c.From], c.To)
		}
		if dl := c.OnError.DeadLetter; dl != "" && dl != c.From && (!c.Emits || dl != c.To) {
			next[c.From] = append(next[c.From], dl)
		}
	}
	return next
}
