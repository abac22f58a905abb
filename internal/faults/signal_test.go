package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// TestStopSignals: SIGHUP (the terminal or ssh session went away) and
// SIGQUIT (Ctrl-\) stop a run the way SIGINT and SIGTERM do, whichever
// binary it is and wherever it is: exit 130, one JSON document with
// --json, the children's process groups killed (the jj held at the fault
// point included), the lock released, the run recorded as interrupted,
// and the next sync works. Left to Go's defaults they ended the process at
// once (129; 2 with a goroutine dump) with jj still running.
func TestStopSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.alpha.WriteHome(".bashrc", w.alpha.ReadHome(".bashrc")+localEdit)
			for _, c := range []struct {
				bin   string
				fault fault
			}{
				{"chezmoi-status", fault{Tool: "jj", Match: " log ", When: "before"}},
				{"chezmoi-sync", fault{Tool: "jj", Match: " git fetch ", When: "before"}},
			} {
				stdout := stopWith(t, w.alpha, c.fault, sig, c.bin, "--json")
				var doc map[string]any
				if err := json.Unmarshal(stdout, &doc); err != nil {
					t.Fatalf("%s: stdout is not one JSON document: %v\n%s", c.bin, err, stdout)
				}
			}
			if busy, holder, err := state.Busy(w.alpha.StateDir(), state.SyncLock); err != nil || busy {
				t.Fatalf("the sync lock is still held: %v %+v", err, holder)
			}
			rec, err := syncstate.Load(w.alpha.StateDir())
			if err != nil || rec.Status != syncstate.Interrupted {
				t.Fatalf("the interrupted sync is not recorded as interrupted: %+v %v", rec, err)
			}
			w.recovered(t, false)
		})
	}
}

// stopWith starts bin with fault armed, sends sig to bin alone (not its
// group: the children must be stopped by bin itself) once the fault point
// is reached, and checks the exit code and that nothing of the run is
// left. It returns bin's stdout.
func stopWith(t *testing.T, h *testharness.Host, f fault, sig syscall.Signal, bin string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, "", bin, args...)
	cmd.Env = append(append([]string(nil), h.Env...),
		"FAULT_DIR="+dir, "FAULT_TOOL="+f.Tool, "FAULT_MATCH="+f.Match, "FAULT_WHEN="+f.When)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must(t, cmd.Start())
	a := &armed{cmd: cmd, out: &stderr, dir: dir, done: make(chan error, 1)}
	go func() { a.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = os.WriteFile(filepath.Join(dir, "continue"), nil, 0o644) })
	held := a.waitReached(t)
	must(t, cmd.Process.Signal(sig))
	select {
	case <-a.done:
	case <-time.After(time.Minute): // held at the fault point, it would never stop by itself
		t.Fatalf("%s did not stop within a minute of %v:\n%s", bin, sig, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("%s: exit %d after %v, want 130:\n%s", bin, code, sig, stderr.String())
	}
	noPanic(t, stderr.String())
	if !strings.Contains(stderr.String(), bin+": interrupted") {
		t.Errorf("%s: no 'interrupted' line:\n%s", bin, stderr.String())
	}
	// The held jj and everything else the run started is gone (within
	// seconds; 30 for a loaded machine: the held one never goes alone).
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := survivorsOf("FAULT_DIR=" + dir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: processes left running after %v: %v (held: %d)", bin, sig, left, held)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return stdout.Bytes()
}

// survivorsOf lists live processes whose environment holds entry.
func survivorsOf(entry string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(env, []byte(entry+"\x00")) {
			continue
		}
		pid := filepath.Base(filepath.Dir(p))
		if st, err := os.ReadFile(filepath.Join("/proc", pid, "stat")); err == nil && bytes.Contains(st, []byte(") Z ")) {
			continue // a zombie: dead, waiting for its parent to reap it
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		out = append(out, pid+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// A stop signal reaches every generation: rebuild-smart runs chezmoi-sync,
// which runs jj in a process group of its own. Killing chezmoi-sync's group
// outright (SIGKILL) left that jj running behind a released lock; the
// runner now asks the group to stop (SIGTERM), so chezmoi-sync stops its
// own children, and kills what is left after a grace period.
func TestStopReachesGrandchildren(t *testing.T) {
	t.Parallel()
	w := newRebuildWorld(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	w.h.CloneDotfiles(remote)
	installWrappers(t, w.h, "jj")
	stopWith(t, w.h, fault{Tool: "jj", Match: " git fetch ", When: "before"}, syscall.SIGHUP, "rebuild-smart", "--flake", w.repo, "--offline=false", "--skip-upstream")
	if busy, holder, err := state.Busy(w.h.StateDir(), state.SyncLock); err != nil || busy {
		t.Fatalf("the sync lock is still held: %v %+v", err, holder)
	}
}
