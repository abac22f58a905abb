// Package faults is the fault-injection proof of issue 8: chezmoi-sync
// killed with SIGKILL at chosen points (after the capture, after the
// commit, during fetch, rebase and push, after the push, inside the state
// write), the remote disappearing mid-run, a read-only state directory, a
// full disk, and SIGTERM during rebuild-smart's switch phase. Every case
// then checks that no edit is lost, no stale lock blocks the next run, the
// state is readable and the repository is usable by jj. The points are
// reached with real processes, the same way on every run: a wrapper script
// for jj, chezmoi or git first on PATH stops before or after the chosen
// call, or runs it under strace holding one system call on one path, and
// the test kills the run there (wrap_test.go).
package faults
