package hooktest

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

// preSwitch is a host whose PATH starts with stand-ins for rebuild-rollback
// and chezmoi-sync that record their arguments; their behaviour is set per
// test through the environment (exit code, a sleep).
type preSwitch struct {
	h   *testharness.Host
	log string
	bin string
}

func newPreSwitch(t *testing.T) *preSwitch {
	t.Helper()
	h := testharness.NewHost(t, "alpha")
	p := &preSwitch{h: h, log: filepath.Join(h.Root, "calls.log"), bin: filepath.Join(h.Root, "bin")}
	require.NoError(t, os.MkdirAll(p.bin, 0o755))
	for _, name := range []string{"rebuild-rollback", "chezmoi-sync"} {
		v := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		script := "#!/bin/sh\necho \"" + name + " $*\" >> \"$CALLS\"\n" +
			"[ -z \"$" + v + "_SLEEP\" ] || sleep \"$" + v + "_SLEEP\"\n" +
			"exit ${" + v + "_EXIT:-0}\n"
		require.NoError(t, os.WriteFile(filepath.Join(p.bin, name), []byte(script), 0o755))
	}
	h.Setenv("CALLS", p.log)
	h.Setenv("PATH", p.bin+":"+h.Getenv("PATH"))
	return p
}

func (p *preSwitch) run(t *testing.T, args ...string) (testharness.Result, string) {
	t.Helper()
	r := p.h.Exec("", filepath.Join(hooksDir(), "pre-switch-check"), args...)
	calls, _ := os.ReadFile(p.log)
	return r, string(calls)
}

func me(t *testing.T) string {
	u, err := user.Current()
	require.NoError(t, err)
	return u.Username
}

const toplevel = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-alpha-25.11"

func TestPreSwitchRecordsGeneration(t *testing.T) {
	t.Parallel()
	p := newPreSwitch(t)
	r, calls := p.run(t, toplevel, "switch")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "rebuild-rollback --record "+toplevel+" --action switch\n", calls)
}

// Nothing that goes wrong in the check may abort the switch.
func TestPreSwitchNeverFails(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env      map[string]string
		args     []string
		warn     string
		maxTime  time.Duration
		wantCall string
	}{
		"record fails": {
			env: map[string]string{"REBUILD_ROLLBACK_EXIT": "3"}, args: []string{toplevel, "boot"},
			warn: "could not record", wantCall: "rebuild-rollback --record " + toplevel + " --action boot",
		},
		"sync offline": {
			env:  map[string]string{"NIXDOTS_SYNC_USER": "@me", "CHEZMOI_SYNC_EXIT": "4"},
			args: []string{toplevel, "switch"}, warn: "chezmoi-sync failed (exit 4)", wantCall: "chezmoi-sync",
		},
		"sync hangs": {
			// It would sleep 300 s: back within a minute (a loaded
			// machine) means it was stopped.
			env:  map[string]string{"NIXDOTS_SYNC_USER": "@me", "CHEZMOI_SYNC_SLEEP": "300", "NIXDOTS_SYNC_TIMEOUT": "1"},
			args: []string{toplevel, "switch"}, warn: "did not finish within 1s", maxTime: time.Minute, wantCall: "chezmoi-sync",
		},
		"no arguments":   {args: nil, warn: "no incoming system path"},
		"unknown user":   {env: map[string]string{"NIXDOTS_SYNC_USER": "no-such-user-nixdots"}, args: []string{toplevel, "switch"}, warn: "no-such-user-nixdots"},
		"binary missing": {env: map[string]string{"PATH": "/usr/bin:/bin"}, args: []string{toplevel, "test"}, warn: "rebuild-rollback not on PATH"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newPreSwitch(t)
			for k, v := range tc.env {
				if v == "@me" {
					v = me(t)
				}
				p.h.Setenv(k, v)
			}
			start := time.Now()
			r, calls := p.run(t, tc.args...)
			require.Equal(t, 0, r.Code, r.String())
			require.Contains(t, r.Stderr, tc.warn)
			if tc.maxTime > 0 {
				require.Less(t, time.Since(start), tc.maxTime)
			}
			if tc.wantCall != "" {
				require.Contains(t, calls, tc.wantCall)
			}
		})
	}
}

func TestPreSwitchSyncsDotfilesWhenConfigured(t *testing.T) {
	t.Parallel()
	p := newPreSwitch(t)
	p.h.Setenv("NIXDOTS_SYNC_USER", me(t))
	r, calls := p.run(t, toplevel, "switch")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "rebuild-rollback --record "+toplevel+" --action switch\nchezmoi-sync \n", calls)

	// dry-activate activates nothing: nothing recorded, nothing synced.
	require.NoError(t, os.Remove(p.log))
	r, calls = p.run(t, toplevel, "dry-activate")
	require.Equal(t, 0, r.Code, r.String())
	require.Empty(t, calls)

	// Sync only (rebuild.smart disabled in the module): nothing recorded.
	p.h.Setenv("NIXDOTS_RECORD", "0")
	r, calls = p.run(t, toplevel, "boot")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "chezmoi-sync \n", calls)
}

// rebuild-smart has synced the dotfiles just before it switches: the check
// records the generation but does not sync a second time.
func TestPreSwitchSkipsSyncUnderRebuildSmart(t *testing.T) {
	t.Parallel()
	p := newPreSwitch(t)
	p.h.Setenv("NIXDOTS_SYNC_USER", me(t))
	wrapper := filepath.Join(p.h.Root, "rebuild-smart")
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/sh\n\""+filepath.Join(hooksDir(), "pre-switch-check")+"\" \"$@\"\n"), 0o755))
	r := p.h.Exec("", wrapper, toplevel, "switch")
	require.Equal(t, 0, r.Code, r.String())
	calls, _ := os.ReadFile(p.log)
	require.Equal(t, "rebuild-rollback --record "+toplevel+" --action switch\n", string(calls))
}

// With the real rebuild-rollback, the incoming generation lands in the
// history rebuild-rollback --list reads.
func TestPreSwitchRecordsIntoRealHistory(t *testing.T) {
	t.Parallel()
	h := testharness.NewHost(t, "alpha").WithBinaries()
	r := h.Exec("", filepath.Join(hooksDir(), "pre-switch-check"), toplevel, "switch")
	require.Equal(t, 0, r.Code, r.String())
	entries, err := history.Load(h.StateDir())
	require.NoError(t, err, r.String())
	require.NotEmpty(t, entries, "nothing recorded; stderr: %s", r.Stderr)
	last := entries[len(entries)-1]
	require.Equal(t, toplevel, last.Toplevel)
	require.Equal(t, "switch", last.Action)
}

// As root (how switch-to-configuration runs it), the check records as root
// (root's own state directory: root never writes a user's) and syncs as the
// configured user, with that user's HOME; NIXDOTS_RECORD_USER records as a
// user instead.
func TestPreSwitchRunsAsConfiguredUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if testharness.InCI() {
			t.Fatal("CI runs as root; this test must run there")
		}
		t.Skip("needs root to switch users (CI runs as root)")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	// Everything the other user touches must be reachable by it.
	dir, err := os.MkdirTemp("", "nixdots-preswitch-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	log := filepath.Join(dir, "calls.log")
	require.NoError(t, os.WriteFile(log, nil, 0o666))
	require.NoError(t, os.Chmod(log, 0o666))
	for _, name := range []string{"rebuild-rollback", "chezmoi-sync"} {
		script := "#!/bin/sh\necho \"" + name + " $(id -un) HOME=$HOME $*\" >> " + log + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
	}
	h := testharness.NewHost(t, "alpha")
	h.Setenv("PATH", dir+":"+h.Getenv("PATH"))
	h.Setenv("NIXDOTS_SYNC_USER", "nobody")
	r := h.Exec("", filepath.Join(hooksDir(), "pre-switch-check"), toplevel, "switch")
	require.Equal(t, 0, r.Code, r.String())
	home := "/nonexistent"
	if u, err := user.Lookup("nobody"); err == nil {
		home = u.HomeDir
	}
	calls, _ := os.ReadFile(log)
	require.Equal(t, "rebuild-rollback root HOME="+h.Home+" --record "+toplevel+" --action switch\n"+
		"chezmoi-sync nobody HOME="+home+" \n", string(calls), r.Stderr)

	require.NoError(t, os.WriteFile(log, nil, 0o666))
	h.Setenv("NIXDOTS_RECORD_USER", "nobody")
	r = h.Exec("", filepath.Join(hooksDir(), "pre-switch-check"), toplevel, "switch")
	require.Equal(t, 0, r.Code, r.String())
	calls, _ = os.ReadFile(log)
	require.Equal(t, "rebuild-rollback nobody HOME="+home+" --record "+toplevel+" --action switch\n"+
		"chezmoi-sync nobody HOME="+home+" \n", string(calls), r.Stderr)
}
