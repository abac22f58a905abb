// Package badinput is the bad-input sweep of issue 8: every binary of the
// suite run against unknown flags, bad values, missing files, a directory
// that is not a repository, corrupt JSON state and configuration, huge and
// binary dotfiles, a HOME with spaces and non-ASCII characters, and a host
// name full of shell metacharacters. Each case expects a documented exit
// code, a one-line error, no panic, and nothing changed on disk (HOME,
// source repository, state directory and remote are hashed before and
// after). The table is in badinput_test.go; docs/proof.md lists it.
package badinput
