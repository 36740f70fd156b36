package pipetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/pcrun/pcrun/config"
	"github.com/pcrun/pcrun/stages"
)

// This file finds pipeline files and their test files, and loads a
// pipeline with its cases. `pcrun validate` finds and checks files the
// same way, so a case it accepts is one `pcrun test` runs.

// Files turns files, directories and globs into a list of files without
// duplicates, in the order of paths: a directory stands for every *.yaml
// and *.yml below it except test files and hidden directories, sorted; a
// glob (** matches any depth) for the files it matches, sorted. A path
// that does not exist and is not a glob is kept, so loading it reports it
// as unreadable. The error says which directory holds no pipeline file or
// which glob matches nothing.
func Files(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(fs []string) {
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	for _, a := range paths {
		found, err := expand(a)
		if err != nil {
			return nil, err
		}
		add(found)
	}
	return out, nil
}

// expand is Files for one path.
func expand(path string) ([]string, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		found, err := pipelineFiles(path)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no pipeline files (*.yaml, *.yml) under %s", path)
		}
		return found, nil
	case err != nil && strings.ContainsAny(path, "*?[{"):
		matches, gerr := doublestar.FilepathGlob(path, doublestar.WithFilesOnly())
		if gerr != nil {
			return nil, fmt.Errorf("bad glob %q: %v", path, gerr)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no files match %q", path)
		}
		slices.Sort(matches)
		return matches, nil
	}
	return []string{path}, nil
}

// pipelineFiles lists *.yaml and *.yml files below dir, skipping hidden
// directories and *.test.yaml files (those hold tests, not pipelines).
func pipelineFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(name)
		base := strings.TrimSuffix(name, ext)
		if (ext == ".yaml" || ext == ".yml") && !strings.HasSuffix(base, ".test") {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// Pipelines replaces every test file (NAME.test.yaml) in files by its
// pipeline file (NAME.yaml) and drops repeats: a test file stands for its
// pipeline and all its cases.
func Pipelines(files []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		if pf, ok := config.PipelineOf(f); ok {
			f = pf
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// testPaths expands the paths given to Run as Files does, with test files
// standing for their pipelines. orphans are the test files found in the
// directories given whose pipeline does not exist; when there are any, a
// path that names nothing is not reported, since they say what is wrong.
func testPaths(paths []string) (files, orphans []string, err error) {
	for _, a := range paths {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			found, err := orphansIn(a)
			if err != nil {
				return nil, nil, err
			}
			orphans = append(orphans, found...)
		}
	}
	files, err = Files(paths)
	if err != nil && len(orphans) == 0 {
		return nil, nil, err
	}
	return Pipelines(files), orphans, nil
}

// orphansIn lists the test files below dir whose pipeline file does not
// exist, skipping hidden directories.
func orphansIn(dir string) ([]string, error) {
	var orphans []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if pf, ok := config.PipelineOf(path); ok && !d.IsDir() {
			if _, err := os.Stat(pf); errors.Is(err, fs.ErrNotExist) {
				orphans = append(orphans, path)
			}
		}
		return nil
	})
	return orphans, err
}

// Load reads a pipeline file and the cases of its test file NAME.test.yaml
// beside it, if there is one, and checks both without running anything
// (stages.Check): the problems `pcrun validate` reports. The pipeline is
// nil when the file cannot be read or parsed. src receives the contents of
// the files read, so diagnostics can quote the offending line.
func Load(file string, src config.Sources) (*config.Pipeline, config.Diagnostics) {
	pl, ds := src.Load(file)
	if pl != nil {
		ds = append(ds, loadTests(file, pl, src)...)
		ds = append(ds, stages.Check(pl, stages.Options{})...)
	}
	return pl, ds
}

// loadTests adds the cases of the pipeline file's sibling test file
// (NAME.test.yaml), if there is one, to pl and returns its problems.
func loadTests(file string, pl *config.Pipeline, src config.Sources) config.Diagnostics {
	tf := config.TestFile(file)
	data, err := os.ReadFile(tf)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		var ds config.Diagnostics
		ds.Errorf(config.Pos{File: tf}, config.CodeRead, "check the file's permissions", "cannot read test file: %v", err)
		return ds
	}
	src[tf] = data
	return config.ParseTests(tf, data, pl)
}
