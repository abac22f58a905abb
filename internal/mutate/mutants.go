package mutate

// All is the curated list (issue 17). Each entry is a bug somebody could
// write; Pkgs/Run name the tests that must catch it. Quick ones form the
// quick form CI runs.
var All = []Mutant{}
