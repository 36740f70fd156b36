// Package effects carries out what a pipeline does to the world outside
// pcrun: it runs the processes of exec and shell steps ([Exec]), appends
// the lines of write steps to their files ([Files]), and reads the
// records of source producers ([Reader]), one file per effect.
//
// Each source kind registers from its own file: a new kind registers its
// key and its [Opener] in one call ([RegisterSource]); the file format's
// own kinds (`lines`, `jsonl`, `command`), whose keys config owns,
// register their Opener ([RegisterOpener]). The runtime finds it with
// [LookupSource] and never names a kind. The step side of these
// effects (the actions, their arguments, what they compile to) is in
// package stages, which defines the interface the runtime implements for
// a worker (stages.Effects) and delegates here.
//
// Ownership: what this package opens, its caller closes through it: a
// [Reader] is finished by the producer that reads it ([Reader.Finish]),
// [Files] are closed once every worker has exited ([Files.Close]). [Exec]
// returns only when the process and everything of its process group are
// gone. The package imports stages and config, never the runtime.
package effects
