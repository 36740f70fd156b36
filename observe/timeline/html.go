package timeline

import (
	"bytes"
	"fmt"
	"io"
)

// WriteHTML writes a standalone page: a title, the ledger line, a legend
// and the SVG picture inline, with no external resources.
func (t *Timeline) WriteHTML(w io.Writer) error {
	var svg bytes.Buffer
	t.render(&svg)
	t.mu.Lock()
	name, ledger, started := t.name, t.ledger, t.started
	t.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pcrun timeline: %s</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.ledger { font-family: monospace; }
.sw { display: inline-block; width: 1.8em; height: 0.9em; vertical-align: middle; border: 1px solid #999; }
svg { max-width: 100%%; height: auto; }
</style>
</head>
<body>
<h1>%s</h1>
`, esc(name), esc(name))
	if started != "" {
		fmt.Fprintf(&b, "<p>Started %s.</p>\n", esc(started))
	}
	if ledger != "" {
		fmt.Fprintf(&b, "<p class=\"ledger\">%s</p>\n", esc(ledger))
	}
	fmt.Fprintf(&b, `<p>A row per worker, from its start to its end:
<span class="sw" style="background:%s"></span> busy (making or handling an item),
<span class="sw" style="background:%s"></span> idle (waiting for an item, or for a queue's items to be finished),
<span class="sw" style="background:%s"></span> blocked (waiting for room in a full queue);
paler where the picture merges short waits with work. Red ticks are failed items.
Beneath, each queue's depth over time (light: its peaks, dark: its troughs), with its capacity dashed.</p>
`, colorBusy, colorIdle, colorBlocked)
	b.Write(svg.Bytes())
	b.WriteString("</body>\n</html>\n")
	_, err := w.Write(b.Bytes())
	return err
}
