package testharness

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Syscall is one system call strace saw.
type Syscall struct {
	Name string // fsync, renameat, write, ...
	// Args as strace printed them; with -y a descriptor shows its path:
	// `7</tmp/x/.record.json.tmp-1a2b>`.
	Args string
}

var straceLine = regexp.MustCompile(`^(?:\d+\s+)?([a-z0-9_]+)\((.*?)(?:\) += .*| <unfinished \.\.\.>)$`)

// Trace runs name with args and env under strace, following every thread
// (-f) and naming descriptors by their paths (-y), and returns the calls
// of the listed kinds in the order they started. It is how a test sees
// what no file's content shows: that a write was fsynced before the
// rename that published it. Trace fails the test when the command fails;
// strace is required (installed by scripts/install-tools.sh on Debian:
// apt-get install strace), so under CI=true a missing strace fails.
func Trace(t testing.TB, env []string, calls []string, name string, args ...string) []Syscall {
	t.Helper()
	Require(t, "strace")
	strace, err := Look("strace")
	must(t, err)
	out := filepath.Join(t.TempDir(), "strace.out")
	full := append([]string{"-f", "-qq", "-y", "-s", "4096", "-o", out, "-e", "trace=" + strings.Join(calls, ","), name}, args...)
	cmd := exec.Command(strace, full...)
	cmd.Env = env
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace %s %v: %v\n%s", name, args, err, res)
	}
	data, err := os.ReadFile(out)
	must(t, err)
	var seen []Syscall
	for _, l := range strings.Split(string(data), "\n") {
		if m := straceLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			seen = append(seen, Syscall{Name: m[1], Args: m[2]})
		}
	}
	return seen
}

// On reports whether the call's first argument is a descriptor open on
// path (`7</dir/file>`, as -y prints it).
func (c Syscall) On(path string) bool {
	fd := strings.TrimLeft(c.Args, "0123456789")
	return len(fd) < len(c.Args) && (fd == "<"+path+">" || strings.HasPrefix(fd, "<"+path+">,"))
}
