// Package hooktest holds the tests of the files under hooks/ (the git hooks,
// their installer and the NixOS pre-switch check), run against real git and
// jj. It has no code of its own.
package hooktest
