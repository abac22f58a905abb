package testuser

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Test binaries of several packages run at once, each counting its users
// from 1: names made of the pid modulo 100000 and that count met whenever
// two pids agreed modulo 100000 (or an account a killed run left behind
// had the name), and New failed after 10 s of retries ("already exists").
// A name that is taken is never reused: New picks another.
func TestNewNeverReusesATakenName(t *testing.T) {
	RequireRoot(t)
	// What the old naming picked first in this process, taken by someone
	// else (another test binary, or a killed run's leftover).
	n := 1
	group := fmt.Sprintf("ndg%d-%d", os.Getpid()%100000, n)
	name := fmt.Sprintf("ndt%d-%d", os.Getpid()%100000, n)
	run(t, "groupadd", group)
	t.Cleanup(func() { runQuiet("groupdel", group) })
	run(t, "useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", name)
	t.Cleanup(func() { runQuiet("userdel", name) })
	u := New(t)
	if u.Name == name || u.Group == group {
		t.Fatalf("New reused a taken name: %+v", u)
	}
	if out, err := exec.Command("id", u.Name).CombinedOutput(); err != nil {
		t.Fatalf("id %s: %v %s", u.Name, err, out)
	}
}
