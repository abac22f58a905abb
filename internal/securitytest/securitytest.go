// Package securitytest runs the built binaries against planted state (links,
// pipes, other users' files), as root and as an unprivileged user, and
// checks that nothing is written through and every refusal is one line
// naming the path (issue 14). Its tests are in the _test files.
package securitytest
