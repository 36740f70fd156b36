package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	natsq "github.com/pcrun/pcrun/queue/nats"
	"github.com/pcrun/pcrun/stages"
)

// statusTimeout bounds connecting to a broker and every question asked of it.
const statusTimeout = 10 * time.Second

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "report the state of a pipeline's NATS queues on their brokers; runs nothing",
		Description: "For each queue with `backend: nats`: its stream's messages, the items its readers\n" +
			"have not taken yet (pending), taken but not finished (ack pending), delivered more than\n" +
			"once (redelivered), and, from the current run's record on the broker, which writer stages\n" +
			"have finished and which reader stages run in how many processes. Then the run as a whole:\n" +
			"its ledger summed over every process's record (produced, done, filtered, failed,\n" +
			"abandoned, in flight, redelivered), and each process with its host, pid, stages and state\n" +
			"(running; finished, failed, interrupted or deadlocked; gone when its heartbeat stopped).\n" +
			"Memory queues live inside a running pcrun and are not reported.\n" +
			"Exit 0 reported (a stream no run has created yet is reported as missing), 1 a broker\n" +
			"could not be reached or answered with an error, 2 usage error or invalid pipeline file.\n" +
			"With --wait: the run's exit code once it has ended (0, 1, 3 or 130), as `pcrun run` exits.",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "output `FORMAT`: text or json (on stdout)"},
			&cli.StringSliceFlag{Name: "set", Usage: "override a var: `NAME=VALUE` (repeatable), as the run does, if a url uses vars"},
			&cli.StringFlag{Name: "run-id", EnvVars: []string{"PCRUN_RUN_ID"}, Usage: "report the run named `ID` (as given to pcrun run --run-id)"},
			&cli.BoolFlag{Name: "wait", Usage: "wait until the run has ended (every process finished, failed or gone), report it, and exit with the run's exit code"},
		},
		Action: func(c *cli.Context) error { return statusAction(c, e) }, OnUsageError: onUsageError,
	}
}

// QueueStatus, WriterStatus and ReaderStatus are what status reports of
// one queue: see queue/nats.
type (
	QueueStatus  = natsq.QueueStatus
	WriterStatus = natsq.WriterStatus
	ReaderStatus = natsq.ReaderStatus
)

// Status is the output of `pcrun status --format json`.
type Status struct {
	Pipeline string        `json:"pipeline"`
	Queues   []QueueStatus `json:"queues"`
	// Run is the current run as its processes recorded it: nil when
	// its brokers could not say.
	Run *natsq.RunStatus `json:"run,omitempty"`
}

// statusAction reports the state of the pipeline's NATS queues: exit 1
// when a broker could not be asked about one of them.
func statusAction(c *cli.Context, e *env) error {
	format, file, err := statusArgs(c)
	if err != nil {
		return err
	}
	g, err := compileStatus(c, file)
	if err != nil {
		return err
	}
	st := Status{Pipeline: g.Name, Queues: []QueueStatus{}}
	queues := natsQueues(g)
	if len(queues) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "pcrun: %s has no queue with `backend: nats`; nothing to report (memory queues live inside a running pcrun)\n", file)
		if format == "json" {
			writeStatusJSON(c.App.Writer, st)
		}
		return nil
	}
	id, err := runID(c)
	if err != nil {
		return err
	}
	scope, queues := natsq.Scope(g.Name, id, queues)
	if c.Bool("wait") {
		if err := waitRun(c.Context, e.signals, c.App.ErrWriter, scope, queues); err != nil {
			return err
		}
	}
	st.Queues, st.Run = askBrokers(scope, queues, c.App.ErrWriter)
	if format == "json" {
		writeStatusJSON(c.App.Writer, st)
	} else {
		writeStatusText(c.App.Writer, st)
	}
	if err := queueErrors(c.App.ErrWriter, st); err != nil {
		return err
	}
	if c.Bool("wait") && st.Run != nil {
		return runCode(*st.Run)
	}
	return nil
}

// askBrokers asks the brokers about the queues and the run; a run that could
// not be read is said on stderr.
func askBrokers(pipeline string, queues []*stages.Queue, stderr io.Writer) ([]QueueStatus, *natsq.RunStatus) {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	qs := natsq.Statuses(ctx, pipeline, queues, statusTimeout)
	reached := false
	for _, q := range qs {
		reached = reached || q.Error == ""
	}
	if !reached {
		return qs, nil // each queue says why
	}
	run, err := natsq.Run(ctx, pipeline, queues, statusTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "pcrun: the run's record: %v\n", err)
		return qs, nil
	}
	return qs, &run
}

// statusArgs returns the output format and the one file of status.
func statusArgs(c *cli.Context) (format, file string, err error) {
	format = c.String("format")
	if format != "text" && format != "json" {
		return "", "", usagef("pcrun: error: unknown format %q\nhint: use text or json", format)
	}
	switch c.NArg() {
	case 0:
		return "", "", usagef("pcrun: error: no pipeline file given\nhint: pcrun status pipeline.yaml")
	case 1:
		return format, c.Args().First(), nil
	}
	return "", "", usagef("pcrun: error: unexpected argument %q\nhint: pcrun status [--format text|json] FILE", c.Args().Get(1))
}

// compileStatus compiles the file with the --set overrides. Warnings are
// for validate: status only needs a file that compiles, and writes its
// errors.
func compileStatus(c *cli.Context, file string) (*stages.Graph, error) {
	src := config.Sources{}
	g, ds, err := compileFile(file, c.StringSlice("set"), src)
	if err != nil {
		return nil, err
	}
	var errs config.Diagnostics
	for _, d := range ds {
		if d.Severity == config.Error {
			errs = append(errs, d)
		}
	}
	writeDiags(c.App.ErrWriter, errs, src)
	if errs.HasErrors() || g == nil {
		n, _ := errs.Count()
		return nil, usagef("pcrun: %s: %d error(s)", file, n)
	}
	return g, nil
}

// natsQueues are the queues of g with `backend: nats`, the ones a broker
// knows about.
func natsQueues(g *stages.Graph) []*stages.Queue {
	var out []*stages.Queue
	for _, q := range g.Queues {
		if q.Backend == config.NATS {
			out = append(out, q)
		}
	}
	return out
}

// queueErrors writes why each queue that could not be reported was not,
// and fails status (exit 1) if any was not: a broker is out of reach or
// answered with an error.
func queueErrors(stderr io.Writer, st Status) error {
	failed := false
	for _, q := range st.Queues {
		if q.Error != "" {
			fmt.Fprintf(stderr, "pcrun: error: queue %s: %s\n", q.Queue, q.Error)
			failed = true
		}
	}
	if failed {
		return reported(errors.New("a queue could not be reported"))
	}
	return nil
}

func writeStatusJSON(w io.Writer, st Status) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

// writeStatusText prints a table, one row per queue.
func writeStatusText(w io.Writer, st Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "queue\tstream\tmessages\tcapacity\tpending\tack pending\tredelivered\twriters ended\treaders\turl\t")
	for _, q := range st.Queues {
		switch {
		case q.Error != "":
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\t\t%s\t\n", q.Queue, q.Stream, "error (see below)", q.URL)
		case q.Missing:
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\t\t%s\t\n", q.Queue, q.Stream, "missing (no run has created it)", q.URL)
		default:
			capacity := "unbounded"
			if q.Capacity > 0 {
				capacity = fmt.Sprint(q.Capacity)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", q.Queue, q.Stream, q.Messages, capacity,
				q.Pending, q.AckPending, q.Redelivered, writersEnded(q), readersOf(q), q.URL)
		}
	}
	tw.Flush()
	writeRunText(w, st.Run)
}

// writersEnded is the writers column: "1/2 (kelly)" names the writer
// stages that have finished; "2/2, ended" once the queue has ended.
func writersEnded(q QueueStatus) string {
	var done []string
	for _, w := range q.Writers {
		if w.Ended {
			done = append(done, w.Stage)
		}
	}
	s := fmt.Sprintf("%d/%d", len(done), len(q.Writers))
	switch {
	case q.Ended:
		s += ", ended"
	case len(done) > 0:
		s += " (" + strings.Join(done, ", ") + ")"
	}
	return s
}

// readersOf is the readers column: "cook 8 in 2 processes", "-" for none
// registered.
func readersOf(q QueueStatus) string {
	if len(q.Readers) == 0 {
		return "-"
	}
	var parts []string
	for _, r := range q.Readers {
		p := "process"
		if r.Processes > 1 {
			p = "processes"
		}
		parts = append(parts, fmt.Sprintf("%s %d in %d %s", r.Stage, r.Replicas, r.Processes, p))
	}
	return strings.Join(parts, "; ")
}
