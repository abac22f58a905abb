package remotetarget

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// What ssh hands the remote shell is one string; running it with sh (as
// the remote login shell does) gives the script its arguments unchanged,
// quotes, spaces and $ included. A non-root user goes through sudo.
func TestRemoteQuoting(t *testing.T) {
	t.Parallel()
	c := Remote(Target{TargetHost: "root@vm"}, `printf '%s|' "$@"; echo "$HOME$1"`, "it's", "a b", "$x")
	if c.Name != "ssh" || c.Args[len(c.Args)-2] != "root@vm" || c.Args[len(c.Args)-3] != "--" {
		t.Fatalf("ssh argv %v", c.Args)
	}
	out, err := exec.Command("sh", "-c", c.Args[len(c.Args)-1]).Output()
	if err != nil || !strings.HasPrefix(string(out), "it's|a b|$x|") {
		t.Fatalf("the remote shell got %q (%v)", out, err)
	}
	if u := Remote(Target{TargetHost: "alice@vm"}, "true"); !strings.HasPrefix(u.Args[len(u.Args)-1], "sudo ") {
		t.Fatalf("a non-root ssh user needs sudo: %v", u.Args)
	}
}

func TestParseStateAndPoll(t *testing.T) {
	t.Parallel()
	s, err := ParseState("system-7-link\n/nix/store/aaa-nixos-system-vm\n/nix/store/bbb-nixos-system-vm\n")
	if err != nil || s.ProfileGen != 7 || s.ProfileSystem != "/nix/store/aaa-nixos-system-vm" || s.Running != "/nix/store/bbb-nixos-system-vm" {
		t.Fatalf("%+v %v", s, err)
	}
	if s, err := ParseState("none\nnone\nnone\n"); err != nil || s != (TargetState{}) {
		t.Fatalf("a target without a profile: %+v %v", s, err)
	}
	for _, bad := range []string{"", "system-x-link\n/a\n/b", "/nix/store/foo\n/a\n/b"} {
		if _, err := ParseState(bad); err == nil {
			t.Errorf("ParseState(%q) accepted", bad)
		}
	}
	for in, want := range map[string]struct {
		state string
		rc    int
	}{"activated 0": {"activated", 0}, "activating -": {"activating", -1}, "rolled-back 1\n": {"rolled-back", 1}, "": {"unknown", -1}} {
		if st, rc := ParsePoll(in); st != want.state || rc != want.rc {
			t.Errorf("ParsePoll(%q) = %s %d", in, st, rc)
		}
	}
	if Seconds(1500*time.Millisecond) != 2 || Seconds(0) != 1 || Seconds(time.Minute) != 60 {
		t.Fatal("Seconds rounds up, at least 1")
	}
	if !Final(StateConfirmed) || !Final(StateRolledBack) || !Final(StateRollbackFailed) || Final(StateActivated) {
		t.Fatal("Final")
	}
}
