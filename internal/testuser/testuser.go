// Package testuser gives tests a real unprivileged user to run the suite's
// built binaries (and the test binary itself) as, so permission guarantees
// are tested with real permissions: as root (how CI runs), New creates a user
// with useradd and removes it when the test ends; as anyone else, the tests
// already run unprivileged and New returns the current user, and what needs
// root to set up (another user's files) is skipped locally, failed in CI.
package testuser

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
)

// User is an unprivileged account the test may act as.
type User struct {
	Name     string
	UID, GID int
	// Group is a supplementary group the user is in (as root: one made
	// for the test, as /var/lib/nixdots's nixdots group; otherwise "").
	Group    string
	GroupGID int
	// Created is true when the user was made for this test (running as
	// root), false when it is the current, unprivileged user.
	Created bool
}

// IsRoot reports whether the tests run as root.
func IsRoot() bool { return os.Geteuid() == 0 }

// RequireRoot skips a test that needs root to set up another user's files:
// locally only; under CI (which runs as root) it fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if IsRoot() {
		return
	}
	if testharness.InCI() {
		t.Fatal("CI runs as root; this test must run there")
	}
	t.Skip("needs root to create another user's files (CI runs as root)")
}

// accounts serialises useradd/userdel of this process: they lock
// /etc/passwd and fail rather than wait.
var accounts sync.Mutex

// New returns an unprivileged user: as root, a new account (and a group it
// belongs to) removed when t ends; otherwise the current user.
func New(t testing.TB) *User {
	t.Helper()
	if !IsRoot() {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &User{Name: u.Username, UID: uid, GID: gid}
	}
	for _, tool := range []string{"useradd", "userdel", "groupadd", "groupdel", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to test as an unprivileged user: %v", tool, err)
		}
	}
	name, group := freeNames(t)
	run(t, "groupadd", group)
	t.Cleanup(func() { runQuiet("groupdel", group) })
	run(t, "useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--user-group", "--groups", group, name)
	t.Cleanup(func() { runQuiet("userdel", name) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	ggid, _ := strconv.Atoi(g.Gid)
	return &User{Name: name, UID: uid, GID: gid, Group: group, GroupGID: ggid, Created: true}
}

// freeNames picks a user and a group name no account has: random, and
// looked up first. Test binaries of several packages make users at once
// (names of the pid modulo 100000 and a per-process count met), and an
// account a killed run left behind keeps its name.
func freeNames(t testing.TB) (name, group string) {
	t.Helper()
	for range 100 {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		name, group = "ndt"+hex.EncodeToString(b), "ndg"+hex.EncodeToString(b)
		_, uerr := user.Lookup(name)
		_, gerr := user.LookupGroup(group)
		if uerr != nil && gerr != nil {
			return name, group
		}
	}
	t.Fatal("no free account name in 100 tries")
	return "", ""
}

// run runs an account tool, retrying while another process holds the
// password file lock.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	accounts.Lock()
	defer accounts.Unlock()
	var out []byte
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		out, err = exec.Command(name, args...).CombinedOutput()
		if err == nil {
			return
		}
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
	t.Fatalf("%s %v: %v\n%s", name, args, err, out)
}

func runQuiet(name string, args ...string) {
	accounts.Lock()
	defer accounts.Unlock()
	for attempt := 0; attempt < 20; attempt++ {
		if exec.Command(name, args...).Run() == nil {
			return
		}
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
}

// Command runs name as u: through setpriv (real and effective uid and gid,
// the user's groups) when the test runs as root, directly otherwise. env is
// the whole environment.
func (u *User) Command(env []string, dir, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if u.Created {
		full := append([]string{"--reuid=" + strconv.Itoa(u.UID), "--regid=" + strconv.Itoa(u.GID), "--init-groups", "--", name}, args...)
		cmd = exec.Command("setpriv", full...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Env = env
	cmd.Dir = dir
	return cmd
}

// Dir makes a directory the user owns (mode 0700) inside a fresh 0755
// directory under the system temp dir (t.TempDir's are root's 0700, out of
// the user's reach); both are removed when t ends.
func (u *User) Dir(t testing.TB) string {
	t.Helper()
	d := Shared(t)
	own := filepath.Join(d, "u")
	must(t, os.Mkdir(own, 0o700))
	must(t, os.Chown(own, u.UID, u.GID))
	return own
}

// Shared makes a 0755 directory of the running user under the system temp
// dir, which every user can enter; removed when t ends.
func Shared(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "nixdots-testuser-")
	must(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	must(t, os.Chmod(d, 0o755))
	return d
}

var (
	copyOnce sync.Once
	copyDir  string
	copyErr  error
)

// Binaries is testharness.Binaries made reachable by the user.
func Binaries(t testing.TB) string {
	t.Helper()
	dir := testharness.Binaries(t)
	must(t, os.Chmod(dir, 0o755))
	return dir
}

// TestBinary is a copy of the running test binary the user can execute
// (go test's own is in a 0700 directory), for re-running a test as the user.
// It is removed by testharness.CleanupBinaries' sibling, Cleanup.
func TestBinary(t testing.TB) string {
	t.Helper()
	copyOnce.Do(func() {
		copyDir, copyErr = os.MkdirTemp("", "nixdots-testbin-")
		if copyErr != nil {
			return
		}
		copyErr = os.Chmod(copyDir, 0o755)
		if copyErr == nil {
			copyErr = copyFile(os.Args[0], filepath.Join(copyDir, "test.bin"))
		}
	})
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	return filepath.Join(copyDir, "test.bin")
}

// Cleanup removes the test binary copy; call it from TestMain.
func Cleanup() {
	if copyDir != "" {
		_ = os.RemoveAll(copyDir)
	}
}

// Main is a TestMain that also removes the test binary copy and the built
// binaries.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	testharness.CleanupBinaries()
	os.Exit(code)
}

// Snapshot lists every entry under dir with its mode, owner, size and the
// content of regular files, to show that a refused run changed nothing.
func Snapshot(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	must(t, filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s %d %d\n", p, info.Mode(), info.Sys().(*syscall.Stat_t).Uid, info.Size())
		if info.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	}))
	return b.String()
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
