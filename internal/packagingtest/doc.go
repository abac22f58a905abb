// Package packagingtest holds the tests of the packaging: the justfiles
// (with the real just), the Nix files (parsed and partly evaluated with
// Debian's nix), the NixOS module against config.Keys, and the vendorHash.
// It has no code of its own.
package packagingtest
