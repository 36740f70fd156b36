package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pcrun/pcrun/pipeline"
	natsq "github.com/pcrun/pcrun/queue/nats"
	"github.com/pcrun/pcrun/stages"
)

// waitPoll is how often `status --wait` reads the run's record.
const waitPoll = time.Second

// waitRun blocks until the pipeline's current run has ended: some process
// recorded itself, and none is running any more. It says on stderr what
// it waits for, once, and again when that changes.
func waitRun(ctx context.Context, signals <-chan os.Signal, stderr io.Writer, name string, queues []*stages.Queue) error {
	said := ""
	for {
		qctx, cancel := context.WithTimeout(ctx, statusTimeout)
		run, err := natsq.Run(qctx, name, queues, statusTimeout)
		cancel()
		var say string
		switch {
		case err != nil:
			say = fmt.Sprintf("the run's record cannot be read (%v); trying again", err)
		case run.Ended:
			return nil
		case len(run.Processes) == 0:
			say = "no process of the run has started yet; waiting for one"
		default:
			say = fmt.Sprintf("waiting for the run to end: %s", run.Ledger)
		}
		if first, _, _ := strings.Cut(say, ":"); first != said {
			said = first
			fmt.Fprintf(stderr, "pcrun: %s\n", say)
		}
		select {
		case sig := <-signals: // stops the wait as it stops a run: 130
			return failure(fmt.Sprintf("pcrun: %v: stopped waiting for the run to end", sig), pipeline.ErrInterrupted)
		case <-ctx.Done():
			return failure(fmt.Sprintf("pcrun: stopped waiting for the run to end: %v", context.Cause(ctx)), pipeline.ErrInterrupted)
		case <-time.After(waitPoll):
		}
	}
}

// runCode ends status --wait with the run's exit code: each kind of end
// carries its code as a run's own error would (exitcode.Of).
func runCode(run natsq.RunStatus) error {
	switch run.Code {
	case 0:
		return nil
	case 130:
		return reported(pipeline.ErrInterrupted)
	case 3:
		return reported(&pipeline.DeadlockError{})
	}
	return reported(errors.New("the run failed"))
}

// writeRunText prints the run's ledger and its processes.
func writeRunText(w io.Writer, run *natsq.RunStatus) {
	if run == nil {
		return
	}
	if len(run.Processes) == 0 {
		fmt.Fprintln(w, "\nrun: no process has recorded itself yet")
		return
	}
	state := "running"
	if run.Ended {
		state = fmt.Sprintf("ended (exit %d)", run.Code)
	}
	fmt.Fprintf(w, "\nrun %s, %s: %s\n", run.Generation, state, run.Ledger)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "process\thost\tpid\tstages\tstate\tproduced\ttaken\tdone\tlast heard\t")
	for _, p := range run.Processes {
		heard := p.Silent.Round(time.Second).String() + " ago"
		state := p.Live()
		if state == "gone" {
			state += " since " + p.Heard.Local().Format(time.TimeOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t\n", p.ID, p.Host, p.PID, strings.Join(p.Stages, ","), state,
			p.Part.Ledger.Produced, p.Part.Received.Taken, p.Part.Ledger.Done+p.Part.Received.Done, heard)
	}
	tw.Flush()
}
