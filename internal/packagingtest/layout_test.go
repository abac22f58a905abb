package packagingtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/state"
)

func TestMain(m *testing.M) { testuser.Main(m) }

// The module's state layout, lived through with the real binaries behind
// the module's own wrapper code, as root and as a real dotfiles user: root's
// runs keep root-owned state in the base directory, the user's in
// <base>/<user>; each reads the other's rebuild history and respects the
// other's rebuild lock, and neither writes the other's state.
func TestModuleStateLayoutWithRealBinaries(t *testing.T) {
	testuser.RequireRoot(t)
	testharness.Require(t, "nix-instantiate")
	for _, tool := range []string{"bash", "flock"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is needed", tool)
	}
	t.Parallel()
	u := testuser.New(t)
	m := evalModule(t, map[string]any{
		"chezmoiSync":  map[string]any{"enable": true, "user": u.Name},
		"rebuildSmart": map[string]any{"enable": true},
	}, false, true)
	require.Equal(t, []string{"d /var/lib/nixdots 2750 root nixdots -", "d /var/lib/nixdots/" + u.Name + " 0700 " + u.Name + " - -"}, m.Tmpfiles)
	require.Equal(t, map[string][]string{"nixdots": {u.Name}}, m.Groups)

	top := testuser.Shared(t)
	base := filepath.Join(top, "var-lib-nixdots")
	mine := filepath.Join(base, u.Name)
	// What systemd-tmpfiles makes of the rules (the test's group standing
	// in for nixdots).
	require.NoError(t, os.Mkdir(base, 0o750))
	require.NoError(t, os.Chown(base, 0, u.GroupGID))
	require.NoError(t, os.Chmod(base, 0o750|os.ModeSetgid))
	require.NoError(t, os.Mkdir(mine, 0o700))
	require.NoError(t, os.Chown(mine, u.UID, u.GID))

	l := newLayout(t, u, top, base, m.WrapperPostBuild)

	// The pre-switch check records as root, into root's directory: shared
	// with the group, written by root only.
	l.root(0, "rebuild-rollback", "--record", l.tops[0], "--action", "switch")
	st := stat(t, filepath.Join(base, "rebuild-history.jsonl"))
	require.Equal(t, uint32(0), st.Uid)
	require.Equal(t, uint32(u.GroupGID), st.Gid, "the group of the setgid directory")
	require.Equal(t, uint32(0o640), st.Mode&0o777)
	// The user's own build history (rebuild-smart's, here a record) goes
	// to the user's directory, private.
	l.user(0, "rebuild-rollback", "--record", l.tops[1], "--action", "switch")
	st = stat(t, filepath.Join(mine, "rebuild-history.jsonl"))
	require.Equal(t, uint32(u.UID), st.Uid)
	require.Equal(t, uint32(0o600), st.Mode&0o777)

	// Each side's rollback reads both histories.
	for who, run := range map[string]func(int, string, ...string) string{"user": l.user, "root": l.root} {
		var doc struct {
			History  string   `json:"history"`
			AlsoRead []string `json:"also_read"`
			Entries  []struct {
				Toplevel string `json:"toplevel"`
			} `json:"entries"`
		}
		require.NoError(t, json.Unmarshal([]byte(run(0, "rebuild-rollback", "--list", "--json")), &doc), who)
		var tops []string
		for _, e := range doc.Entries {
			tops = append(tops, e.Toplevel)
		}
		require.Equal(t, l.tops, tops, "%s sees both sides' builds, oldest first", who)
		require.Len(t, doc.AlsoRead, 1, who)
	}

	// The locks: the timer's run (root) holding root's lock stops a
	// person's rollback, and a person's lock stops root's.
	lock, err := state.Acquire(context.Background(), base, state.RebuildLock, 0,
		state.Holder{PID: 4242, Host: "alpha", Command: "rebuild-smart --unattended", Since: time.Now()})
	require.NoError(t, err)
	out := l.user(3, "rebuild-rollback", "--to", "1")
	require.Contains(t, out, filepath.Join(base, state.RebuildLock)+": pid 4242 on alpha (rebuild-smart --unattended)")
	require.NoError(t, lock.Release())
	stop := l.userHolds(filepath.Join(mine, state.RebuildLock))
	out = l.root(3, "rebuild-rollback", "--to", "1")
	require.Contains(t, out, "another run holds "+filepath.Join(mine, state.RebuildLock))
	stop()

	// The user's sync state (chezmoi-sync fails here without the user's
	// tools, and records that): root reads it read-only.
	l.user(-1, "chezmoi-sync")
	before := testuser.Snapshot(t, mine)
	var rep struct {
		StateDir string `json:"state_dir"`
		LastSync *struct {
			Status string `json:"status"`
		} `json:"last_sync"`
	}
	require.NoError(t, json.Unmarshal([]byte(l.root(-1, "chezmoi-status", "--state-dir", mine, "--json")), &rep))
	require.NotNil(t, rep.LastSync, "root did not read the user's record")
	require.Equal(t, "failed", rep.LastSync.Status)

	// The attack: root writing into the user's directory (the
	// documented pre-switch invocation of old) is refused, exit 10.
	out = l.root(10, "rebuild-rollback", "--state-dir", mine, "--record", l.tops[0])
	require.Contains(t, out, "refusing the state directory "+mine)
	l.root(10, "chezmoi-sync", "--state-dir", mine)
	require.Equal(t, before, testuser.Snapshot(t, mine), "root changed the user's state")
	// And the user cannot write root's.
	l.user(10, "rebuild-rollback", "--state-dir", base, "--record", l.tops[1])
}

// layout runs the built binaries through the module's wrapper code.
type layout struct {
	t        *testing.T
	u        *testuser.User
	wrappers string // a wrapper script per binary, as makeWrapper writes them
	env      map[string][]string
	tops     []string
}

func newLayout(t *testing.T, u *testuser.User, top, base, postBuild string) *layout {
	l := &layout{t: t, u: u, wrappers: filepath.Join(top, "bin"), env: map[string][]string{}}
	require.NoError(t, os.Mkdir(l.wrappers, 0o755))
	bins := testuser.Binaries(t)
	for name, script := range wrapperScripts(t, postBuild) {
		// The module's code with the test's paths: the base directory and
		// an id on PATH for the store's.
		script = strings.ReplaceAll(script, "_nixdots_base=/var/lib/nixdots\n", "_nixdots_base="+base+"\n")
		require.Contains(t, script, "_nixdots_base="+base+"\n")
		lines := strings.Split(script, "\n")
		for i, line := range lines {
			if strings.HasPrefix(line, "_nixdots_id=") {
				lines[i] = "_nixdots_id=id"
			}
		}
		wrapper := "#!/bin/bash -e\n" + strings.Join(lines, "\n") + "\nexec " + filepath.Join(bins, name) + " \"$@\"\n"
		require.NoError(t, os.WriteFile(filepath.Join(l.wrappers, name), []byte(wrapper), 0o755))
	}
	// A system root with two generations, readable by the user.
	sys := filepath.Join(top, "sysroot")
	profiles := filepath.Join(sys, "nix", "var", "nix", "profiles")
	require.NoError(t, os.MkdirAll(profiles, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(sys, "run"), 0o755))
	for n := 1; n <= 2; n++ {
		tl := filepath.Join(top, "store", fmt.Sprintf("%032d-nixos-system-alpha-%d", n, n))
		require.NoError(t, os.MkdirAll(tl, 0o755))
		require.NoError(t, os.Symlink(tl, filepath.Join(profiles, fmt.Sprintf("system-%d-link", n))))
		l.tops = append(l.tops, tl)
	}
	require.NoError(t, os.Symlink("system-2-link", filepath.Join(profiles, "system")))
	require.NoError(t, os.Symlink(l.tops[1], filepath.Join(sys, "run", "current-system")))
	// An empty config file: the machine's /etc/nixdots/config.json, if any,
	// stays out of it.
	require.NoError(t, os.WriteFile(filepath.Join(top, "config.json"), []byte("{}\n"), 0o644))
	rootHome := filepath.Join(t.TempDir(), "root-home")
	require.NoError(t, os.Mkdir(rootHome, 0o700))
	for who, home := range map[string]string{"root": rootHome, "user": u.Dir(t)} {
		l.env[who] = []string{"PATH=" + l.wrappers + ":/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "TZ=UTC",
			"NIXDOTS_SYSTEM_ROOT=" + sys, "REBUILD_SMART_HOST=alpha", "NIXDOTS_HOSTNAME=alpha", "CHEZMOI_SYNC_HOSTNAME=alpha",
			"NIXDOTS_CONFIG=" + filepath.Join(top, "config.json")}
	}
	// Root also has the real tools, for chezmoi-status.
	l.env["root"][0] += ":" + filepath.Dir(lookTool(t, "git"))
	return l
}

func lookTool(t *testing.T, name string) string {
	p, err := testharness.Look(name)
	require.NoError(t, err)
	return p
}

// wrapperScripts runs the wrapped package's build script with a
// wrapProgram that records its arguments, and returns each binary's --run
// code.
func wrapperScripts(t *testing.T, postBuild string) map[string]string {
	t.Helper()
	require.NotEmpty(t, postBuild)
	out := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(out, "bin"), 0o755))
	names := []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"}
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(out, "bin", n), nil, 0o755))
	}
	script := `wrapProgram() { printf '%s\0' "$@" > "$out/args-${1##*/}"; }` + "\n" + postBuild
	cmd := exec.Command("bash", "-euc", script)
	cmd.Env = []string{"out=" + out, "PATH=/usr/bin:/bin"}
	res, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", res)
	scripts := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(out, "args-"+n))
		require.NoError(t, err, "no wrapProgram for %s", n)
		args := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
		for i, a := range args {
			if a == "--run" && i+1 < len(args) {
				scripts[n] = args[i+1]
			}
		}
		require.Contains(t, scripts, n, "%s: no --run", n)
	}
	return scripts
}

func (l *layout) root(want int, name string, args ...string) string {
	l.t.Helper()
	cmd := exec.Command(filepath.Join(l.wrappers, name), args...)
	cmd.Env = l.env["root"]
	return l.exec(cmd, want, "root", name, args)
}

func (l *layout) user(want int, name string, args ...string) string {
	l.t.Helper()
	cmd := l.u.Command(l.env["user"], "/", filepath.Join(l.wrappers, name), args...)
	return l.exec(cmd, want, l.u.Name, name, args)
}

// exec runs cmd and checks its exit code (want -1: any); it returns
// stdout, or stderr for a failure.
func (l *layout) exec(cmd *exec.Cmd, want int, who, name string, args []string) string {
	l.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(l.t, err)
	}
	if want >= 0 {
		require.Equal(l.t, want, code, "as %s: %s %v\nstdout: %s\nstderr: %s", who, name, args, stdout.String(), stderr.String())
	}
	if code != 0 && want != -1 {
		return stderr.String()
	}
	return stdout.String()
}

// userHolds takes lock as the user with flock(1) until the returned stop.
func (l *layout) userHolds(lock string) func() {
	l.t.Helper()
	cmd := l.u.Command(l.env["user"], "/", "flock", lock, "sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(l.t, cmd.Start())
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	l.t.Cleanup(stop)
	deadline := time.Now().Add(time.Minute) // flock takes it as soon as it runs
	for {
		if busy, _, err := state.Busy(filepath.Dir(lock), filepath.Base(lock)); err == nil && busy {
			return stop
		}
		require.True(l.t, time.Now().Before(deadline), "the user's flock never held %s", lock)
		time.Sleep(20 * time.Millisecond)
	}
}

func stat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	st, err := os.Stat(p)
	require.NoError(t, err)
	return st.Sys().(*syscall.Stat_t)
}
