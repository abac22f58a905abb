package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sh(script string) Cmd { return Cmd{Name: "sh", Args: []string{"-c", script}} }

func TestExitErrorCarriesCodeAndStderrTail(t *testing.T) {
	x := &Exec{Env: os.Environ()}
	_, err := x.Run(context.Background(), sh("echo one >&2; echo two >&2; echo three >&2; echo four >&2; exit 7"))
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 7, ee.Code)
	require.Equal(t, "two | three | four", ee.Stderr)
	require.Contains(t, err.Error(), "exit 7: two | three | four")
}

func TestOutputCaptureAndExplicitEnv(t *testing.T) {
	x := &Exec{Env: []string{"PATH=" + os.Getenv("PATH"), "A=base", "B=base"}}
	res, err := x.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", `printf '%s %s %s' "$A" "$B" "${HOME:-unset}"`}, Env: []string{"B=over"}})
	require.NoError(t, err)
	require.Equal(t, "base over unset", res.Out(), "only the explicit environment reaches the child")
}

func TestMissingProgramIsNotFound(t *testing.T) {
	x := &Exec{Env: []string{"PATH=/nonexistent"}}
	_, err := x.Run(context.Background(), Cmd{Name: "git", Args: []string{"status"}})
	require.True(t, IsNotFound(err))
}

// Cancelling kills the whole process group: a grandchild that would
// outlive its parent dies too.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	x := &Exec{Env: os.Environ()}
	// The timeout must fire after sh started the grandchild: on a loaded
	// machine sh may not have run at all within 300 ms, so a run killed
	// before it wrote the pid is tried again with a longer timeout (a
	// fixed 300 ms made the test fail on the missing pid file).
	pid := 0
	for timeout := 300 * time.Millisecond; pid == 0; timeout *= 4 {
		require.Less(t, timeout, 2*time.Minute, "sh never wrote its child's pid")
		start := time.Now()
		_, err := x.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", `sleep 300 & echo $! > "$1"; wait`, "sh", pidfile}, Timeout: timeout})
		var ee *ExitError
		require.ErrorAs(t, err, &ee)
		require.True(t, ee.TimedOut)
		// The grandchild holds the output pipe for 300 s: a Run that
		// waited for it would take that long.
		require.Less(t, time.Since(start), timeout+time.Minute)
		// Killed between the redirection and echo's write, sh leaves the
		// file empty: not written either.
		if data, err := os.ReadFile(pidfile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
	}
	require.Eventually(t, func() bool { return gone(pid) }, 30*time.Second, 20*time.Millisecond, "grandchild %d still alive", pid)
}

// gone reports a process that no longer runs: absent, or a zombie (killed,
// waiting for a parent that does not reap, such as a container's init).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

func TestVerboseLogsArgv(t *testing.T) {
	var log bytes.Buffer
	x := &Exec{Env: os.Environ(), Log: &log}
	_, err := x.Run(context.Background(), Cmd{Name: "true", Args: []string{"a b", "c'd"}, Dir: "/"})
	require.NoError(t, err)
	require.Equal(t, "+ (cd / && true 'a b' 'c'\\''d')\n", log.String())
}

// Dry-run prints mutating commands and runs none of them, while read-only
// queries still run so the plan is real.
func TestDryRunSkipsMutatingCommands(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "changed")
	var out bytes.Buffer
	d := &DryRun{Inner: &Exec{Env: os.Environ()}, Out: &out}
	res, err := d.Run(context.Background(), Cmd{Name: "echo", Args: []string{"query"}})
	require.NoError(t, err)
	require.Equal(t, "query", res.Out())
	_, err = d.Run(context.Background(), Cmd{Name: "touch", Args: []string{marker}, Mutates: true})
	require.NoError(t, err)
	_, statErr := os.Stat(marker)
	require.True(t, errors.Is(statErr, os.ErrNotExist), "mutating command must not run")
	require.Equal(t, "would run: touch "+marker+"\n", out.String())
	require.Len(t, d.Planned, 1)
}

func TestRecorderCounts(t *testing.T) {
	r := &Recorder{Inner: &Exec{Env: os.Environ()}}
	for i := 0; i < 3; i++ {
		_, _ = r.Run(context.Background(), Cmd{Name: "true"})
	}
	require.Equal(t, 3, r.Count())
}

func TestMergeEnvAndGetenv(t *testing.T) {
	env := MergeEnv([]string{"A=1", "B=2", "A=3"}, []string{"B=4", "C=5"})
	require.Equal(t, []string{"A=3", "B=4", "C=5"}, env)
	require.Equal(t, "4", Getenv(env, "B"))
	require.Equal(t, "", Getenv(env, "Z"))
}

func TestTail(t *testing.T) {
	require.Equal(t, "b | c", Tail("a\n\nb\n  c  \n", 2))
	require.Equal(t, "", Tail("", 3))
}
