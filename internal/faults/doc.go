// Package faults is the fault-injection proof of issue 8: chezmoi-sync
// killed with SIGKILL at chosen points (after the capture, after the
// commit, during fetch, rebase and push, after the push, inside the state
// write), the remote disappearing mid-run, a read-only state directory, a
// full disk, and SIGTERM during rebuild-smart's switch phase. Every case
// then checks that no edit is lost, no stale lock blocks the next run, the
// state is readable and the repository is usable by jj. The points are
// reached with real processes: a wrapper script for jj or chezmoi first on
// PATH stops at the chosen call, and the test kills the run there.
package faults
