package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/pcrun/pcrun/observe"
	"github.com/pcrun/pcrun/pipeline"
	"github.com/pcrun/pcrun/stages"
)

// --spill and --resume: where a run writes the items it abandons, and the
// run that puts them back (docs/reliability.md).

// openSpill creates the spill file the run writes to, if any: --spill
// FILE, else the file's shutdown.spill (none for a simulation, which
// abandons nothing worth resuming). Nil when there is none.
func openSpill(c *cli.Context, g *stages.Graph) (*spillFile, error) {
	path := g.Spill
	if c.Bool("simulate") {
		path = ""
	}
	if c.IsSet("spill") {
		path = c.String("spill")
	}
	if path == "" {
		return nil, nil
	}
	s, err := createSpill(path)
	if err != nil {
		return nil, usagef("pcrun: error: %v", err)
	}
	return s, nil
}

// keep puts the spill file in place once the run has ended and says how
// to finish the run from it. It returns the run's error runErr, or its own
// when the run had none; with both, it writes its own on stderr.
func (s *spillFile) keep(stderr io.Writer, res *observe.Result, runErr error, file string) error {
	var err error
	if res.Balanced() != nil {
		// Run writes the spill file only when the ledger holds: keep
		// an earlier file rather than put an empty one in its place.
		err = fmt.Errorf("the spill file %s was not written", s.path)
	} else {
		err = s.commit()
	}
	switch {
	case err != nil && runErr == nil:
		return err
	case err != nil:
		fmt.Fprintf(stderr, "pcrun: error: %v\n", err)
	case res.Spilled > 0:
		fmt.Fprintf(stderr, "pcrun: %d abandoned item(s) written to %s; finish with: pcrun run --resume %s %s\n", res.Spilled, s.path, s.path, file)
	}
	return runErr
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
