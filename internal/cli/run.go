package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// runAction loads, compiles and runs one pipeline file.
func runAction(c *cli.Context, e *env) error {
	signals := e.signals
	args := c.Args().Slice()
	if len(args) == 0 {
		return usagef("pcrun: error: no pipeline file given\nhint: pcrun examples/fruit.yaml")
	}
	if len(args) > 1 {
		hint := "run one file at a time"
		if strings.HasPrefix(args[1], "-") {
			hint = "flags go before the file: pcrun run " + args[1] + " ... " + args[0]
		}
		return usagef("pcrun: error: unexpected argument %q\nhint: %s", args[1], hint)
	}
	file := args[0]
	if pipeline, ok := testFileOf(file); ok {
		return usagef("pcrun: error: %s holds test cases, not a pipeline\nhint: run the pipeline with `pcrun run %s`, or its tests with `pcrun test %s`", file, pipeline, file)
	}
	if _, err := os.Stat(file); err != nil && !strings.ContainsAny(file, "./") {
		var names []string
		for _, cmd := range c.App.Commands {
			names = append(names, cmd.Name)
		}
		if s := config.Suggest(file, names); s != "" {
			return usagef("pcrun: error: unknown command or file %q\nhint: did you mean `pcrun %s`?", file, s)
		}
	}
	stderr := c.App.ErrWriter
	src := config.Sources{}
	g, ds, err := compileFileWith(file, c.StringSlice("set"), src, compileOptions(c)) // seed.go
	if err != nil {
		return err
	}
	writeDiags(stderr, ds, src)
	if ds.HasErrors() || g == nil {
		n, _ := ds.Count()
		return usagef("pcrun: %s: %d error(s); nothing was run", file, n)
	}

	if err := checkSimulate(c, g, file); err != nil { // sim.go
		return err
	}
	summary := c.String("summary")
	if summary != "text" && summary != "json" {
		return usagef("pcrun: error: unknown summary format %q\nhint: use text or json", summary)
	}
	only, err := onlyStages(c, g)
	if err != nil {
		return err
	}
	opts := pipeline.Options{Stdout: c.App.Writer, Stderr: stderr, Signals: signals, Only: only, Fresh: c.Bool("fresh"), Stdin: c.App.Reader}
	if path := c.String("resume"); path != "" {
		res, err := readResume(path)
		if err != nil {
			return usagef("pcrun: error: %v", err)
		}
		opts.Resume = res
	}
	spillPath := g.Spill
	if c.Bool("simulate") {
		spillPath = "" // a simulation abandons nothing worth resuming
	}
	if c.IsSet("spill") {
		spillPath = c.String("spill")
	}
	var spill *spillFile
	if spillPath != "" {
		var err error
		if spill, err = createSpill(spillPath); err != nil {
			return usagef("pcrun: error: %v", err)
		}
		defer spill.abort()
		opts.Spill = spill
	}

	if _, err := newLogger(c, stderr); err != nil { // bad flags: exit 2 before anything starts
		return err
	}
	w, err := watch(c, stderr, &opts) // observe.go
	if err != nil {
		return err
	}
	opts.Log, _ = newLogger(c, w.stderr)                  // log.go
	opts.Log.Debug(fmt.Sprintf("random seed %d", g.Seed)) // repeat the run's random values with --seed
	var res *pipeline.Result
	if c.Bool("simulate") {
		res, err = simulate(c, g, opts, w.stderr) // sim.go
	} else {
		res, err = pipeline.Run(context.Background(), g, opts)
	}
	if !w.finish(stderr) && err == nil {
		err = errors.New("the run's events or timeline could not be written")
	}
	if res == nil { // nothing ran
		var re *pipeline.ResumeError
		if errors.As(err, &re) { // the spill file to resume from does not fit the pipeline
			return usagef("pcrun: error: %s: %v", c.String("resume"), err)
		}
		if se := (*pipeline.SourceError)(nil); errors.As(err, &se) { // a file to read is missing, a command cannot start
			return usagef("pcrun: error: %v\npcrun: %s: nothing was run", err, file)
		}
		var oe *pipeline.OutputError
		if errors.As(err, &oe) { // a write step's file cannot be opened, like a spill file's directory
			return usagef("pcrun: error: %v\npcrun: %s: nothing was run", err, file)
		}
		// A broker that cannot be reached, or a queue this process may
		// no longer write to: the pipeline could not run.
		// The error's text only: a run that did not start failed (exit
		// 1), whatever stopped it.
		return failure(fmt.Sprintf("pcrun: error: %v\npcrun: %s: nothing was run", err, file), errors.New(err.Error()))
	}
	if spill != nil {
		var cerr error
		if res.Balanced() != nil {
			// Run writes the spill file only when the ledger holds: keep
			// an earlier file rather than put an empty one in its place.
			cerr = fmt.Errorf("the spill file %s was not written", spillPath)
		} else {
			cerr = spill.commit()
		}
		switch {
		case cerr != nil && err == nil:
			err = cerr
		case cerr != nil:
			fmt.Fprintf(stderr, "pcrun: error: %v\n", cerr)
		case res.Spilled > 0:
			fmt.Fprintf(stderr, "pcrun: %d abandoned item(s) written to %s; finish with: pcrun run --resume %s %s\n", res.Spilled, spillPath, spillPath, file)
		}
	}
	switch {
	case c.Bool("quiet"):
	case summary == "json":
		enc := json.NewEncoder(stderr)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	default:
		res.WriteSummary(stderr)
	}
	var dl *pipeline.DeadlockError
	var fe *pipeline.FailedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dl):
		return failure(fmt.Sprintf("pcrun: %s: %v", file, dl), err)
	case errors.Is(err, pipeline.ErrInterrupted):
		return reported(err) // the run's notices said it
	case errors.As(err, &fe):
		return failure(fmt.Sprintf("pcrun: %s: %v", file, fe), err)
	}
	return failure(fmt.Sprintf("pcrun: %s: %v", file, err), err)
}

// onlyStages reads --only (STAGE[,STAGE...], repeatable) and checks the
// selection against the graph: a usage error (exit 2) names every unknown
// stage and every memory queue the selection would cut.
func onlyStages(c *cli.Context, g *stages.Graph) ([]string, error) {
	if !c.IsSet("only") {
		return nil, nil
	}
	var only []string
	for _, s := range c.StringSlice("only") {
		for name := range strings.SplitSeq(s, ",") {
			if name = strings.TrimSpace(name); name != "" && !slices.Contains(only, name) {
				only = append(only, name)
			}
		}
	}
	if len(only) == 0 {
		return nil, usage("pcrun: error: --only: no stage named\nhint: --only STAGE[,STAGE...], e.g. --only " + strings.Join(g.Stages(), ","))
	}
	if c.IsSet("resume") {
		return nil, usagef("pcrun: error: --resume cannot be combined with --only\nhint: resume the whole pipeline in one process")
	}
	errs := pipeline.CheckOnly(g, only)
	if errs == nil {
		return only, nil
	}
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("pcrun: error: " + e.Msg)
		if e.Hint != "" {
			b.WriteString("\nhint: " + e.Hint)
		}
	}
	return nil, usage(b.String())
}

// testFileOf reports whether file is a NAME.test.yaml file of test cases,
// and names the pipeline file beside it.
func testFileOf(file string) (string, bool) {
	for _, ext := range []string{".test.yaml", ".test.yml"} {
		if base, ok := strings.CutSuffix(file, ext); ok {
			return base + ext[len(".test"):], true
		}
	}
	return "", false
}

// readResume reads the spill file of an earlier run.
func readResume(path string) (*pipeline.Resume, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the spill file: %v", err)
	}
	defer f.Close()
	res, err := pipeline.ReadResume(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return res, nil
}

// spillFile is written beside its final name and renamed into place when
// the run ends, so a crash never leaves half a spill file, and a run may
// resume from the file it spills to.
type spillFile struct {
	*os.File
	path string
	werr error // the first failed write: the file is not to be trusted
}

// Write remembers a failed write, so that commit does not put a file with
// half a line in it in place of an earlier one.
func (s *spillFile) Write(p []byte) (int, error) {
	n, err := s.File.Write(p)
	if err != nil && s.werr == nil {
		s.werr = err
	}
	return n, err
}

func createSpill(path string) (*spillFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("cannot create the spill file: %v", err)
	}
	return &spillFile{File: f, path: path}, nil
}

func (s *spillFile) commit() error {
	if s.werr != nil {
		return fmt.Errorf("the spill file %s was not written: %v", s.path, s.werr)
	}
	if err := s.Sync(); err != nil {
		return fmt.Errorf("writing the spill file: %v", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("writing the spill file: %v", err)
	}
	if err := os.Rename(s.Name(), s.path); err != nil {
		return fmt.Errorf("writing the spill file: %v", err)
	}
	s.File = nil
	return nil
}

// abort removes the temporary file unless commit renamed it.
func (s *spillFile) abort() {
	if s.File != nil {
		s.Close()
		os.Remove(s.Name())
	}
}
