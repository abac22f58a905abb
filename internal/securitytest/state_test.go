package securitytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testuser"
)

func TestMain(m *testing.M) { testuser.Main(m) }

const precious = "precious, must not change\n"

// runner runs the built binaries as one identity (root, or the test user)
// with a HOME and state directory of that identity's.
type runner struct {
	t      *testing.T
	u      *testuser.User // nil: the test's own user (root in CI)
	home   string
	state  string
	victim string
	env    []string
}

func newRunner(t *testing.T, u *testuser.User) *runner {
	t.Helper()
	r := &runner{t: t, u: u}
	if u != nil {
		r.home = u.Dir(t)
	} else {
		r.home = t.TempDir()
	}
	r.state = filepath.Join(r.home, ".local", "state", "nixdots")
	cfg := filepath.Join(r.home, "config.json")
	r.victim = filepath.Join(r.home, "victim")
	r.env = []string{"PATH=" + testuser.Binaries(t) + ":/usr/bin:/bin", "HOME=" + r.home, "LANG=C.UTF-8",
		"NIXDOTS_CONFIG=" + cfg, "CHEZMOI_SYNC_HOSTNAME=alpha", "NIXDOTS_HOSTNAME=alpha"}
	// Files of the identity: made by it.
	r.must("mkdir", "-p", "-m", "0700", r.state)
	r.must("sh", "-c", `printf '{}\n' > "$1" && printf '`+precious+`' > "$2" && chmod 600 "$2"`, "sh", cfg, r.victim)
	return r
}

type result struct {
	code           int
	stdout, stderr string
}

func (r *runner) cmd(name string, args ...string) *exec.Cmd {
	if r.u != nil {
		return r.u.Command(r.env, r.home, name, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Dir = r.env, r.home
	return cmd
}

// run runs one of the suite's binaries; a hang (a FIFO opened) fails.
func (r *runner) run(name string, args ...string) result {
	r.t.Helper()
	cmd := r.cmd(filepath.Join(testuser.Binaries(r.t), name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(r.t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		r.t.Fatalf("%s %v hung (a FIFO opened?)", name, args)
	}
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else {
		require.NoError(r.t, err)
	}
	return res
}

func (r *runner) must(name string, args ...string) {
	r.t.Helper()
	out, err := r.cmd(name, args...).CombinedOutput()
	require.NoError(r.t, err, "%s %v: %s", name, args, out)
}

func (r *runner) requireVictimIntact() {
	r.t.Helper()
	data, err := os.ReadFile(r.victim)
	require.NoError(r.t, err)
	require.Equal(r.t, precious, string(data), "written through a link")
}

// requireRefused: exit 10, one line on stderr naming path.
func requireRefused(t *testing.T, res result, path, reason string) {
	t.Helper()
	require.Equal(t, 10, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	line := strings.TrimSpace(res.stderr)
	require.NotContains(t, line, "\n", "one line")
	require.Contains(t, line, path)
	require.Contains(t, line, reason)
}

// plantedState is the list, as whoever r runs as.
func plantedState(t *testing.T, r *runner) {
	lock := filepath.Join(r.state, "sync.lock")
	// A sync.lock linked to another file: refused, the file not truncated.
	r.must("ln", "-s", r.victim, lock)
	requireRefused(t, r.run("chezmoi-sync"), lock, "symbolic link (to "+r.victim+")")
	r.requireVictimIntact()
	r.must("rm", lock)

	// sync-history.jsonl linked to another file: refused before the run
	// does anything, not appended through.
	hist := filepath.Join(r.state, "sync-history.jsonl")
	r.must("ln", "-s", r.victim, hist)
	res := r.run("chezmoi-sync")
	requireRefused(t, res, hist, "symbolic link (to "+r.victim+")")
	r.requireVictimIntact()
	res = r.run("chezmoi-status", "--json")
	requireRefused(t, res, hist, "symbolic link")
	r.must("rm", hist)

	// The record as a FIFO: the status commands refuse it at once.
	record := filepath.Join(r.state, "last-sync.json")
	r.must("rm", "-f", record)
	r.must("mkfifo", record)
	requireRefused(t, r.run("chezmoi-status"), record, "named pipe")
	r.must("rm", record)

	// The state directory itself a link, dangling: nothing is created.
	r.must("mv", r.state, r.state+".real")
	r.must("ln", "-s", filepath.Join(r.home, "nowhere"), r.state)
	requireRefused(t, r.run("chezmoi-sync"), r.state, "symbolic link")
	requireRefused(t, r.run("rebuild-rollback", "--record", "/nix/store/x-nixos-system"), r.state, "symbolic link")
	require.NoDirExists(t, filepath.Join(r.home, "nowhere"))
	r.must("rm", r.state)
	r.must("mv", r.state+".real", r.state)

	// Loose modes: a state directory others may write is refused; a
	// rebuild history others may write is neither read nor appended to.
	r.must("chmod", "0777", r.state)
	requireRefused(t, r.run("chezmoi-sync"), r.state, "mode 0777")
	r.must("chmod", "0700", r.state)
	rh := filepath.Join(r.state, "rebuild-history.jsonl")
	r.must("sh", "-c", `printf '{"outcome":"success"}\n' > "$1" && chmod 0666 "$1"`, "sh", rh)
	requireRefused(t, r.run("rebuild-rollback", "--list"), rh, "mode 0666")
	requireRefused(t, r.run("rebuild-rollback", "--record", "/nix/store/x-nixos-system"), rh, "mode 0666")
	data, _ := os.ReadFile(rh)
	require.Equal(t, "{\"outcome\":\"success\"}\n", string(data))

	// --metrics-file at a FIFO: the run goes on, the FIFO stays.
	fifo := filepath.Join(r.home, "sync.prom")
	r.must("mkfifo", fifo)
	res = r.run("chezmoi-sync", "--metrics-file", fifo)
	require.Contains(t, res.stderr, "metrics file not written: refusing the metrics file "+fifo+": it is a named pipe")
	st, err := os.Lstat(fifo)
	require.NoError(t, err)
	require.Equal(t, os.ModeNamedPipe, st.Mode().Type())
}

func TestPlantedStateAsRoot(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	plantedState(t, newRunner(t, nil))
}

func TestPlantedStateAsUser(t *testing.T) {
	t.Parallel()
	u := testuser.New(t)
	r := newRunner(t, u)
	out, err := r.cmd("id", "-u").Output()
	require.NoError(t, err)
	require.NotEqual(t, "0", strings.TrimSpace(string(out)), "runs as root")
	plantedState(t, r)
	// What the user's run created is the user's, 0700/0600.
	st, err := os.Stat(r.state)
	require.NoError(t, err)
	require.Equal(t, uint32(u.UID), st.Sys().(*syscall.Stat_t).Uid)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	rec, err := os.Stat(filepath.Join(r.state, "last-sync.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), rec.Mode().Perm())
}
