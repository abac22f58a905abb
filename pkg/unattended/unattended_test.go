package unattended

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	var asked []int64
	fixed := func(v int64) func(int64) int64 {
		return func(n int64) int64 { asked = append(asked, n); return v }
	}
	if d := Delay(10*time.Minute, fixed(int64(90*time.Second))); d != 90*time.Second {
		t.Errorf("Delay = %s, want 1m30s", d)
	}
	if asked[0] != int64(10*time.Minute) {
		t.Errorf("random source asked for [0,%d), want [0,%d)", asked[0], int64(10*time.Minute))
	}
	if d := Delay(0, fixed(5)); d != 0 {
		t.Errorf("no max: %s", d)
	}
	if d := Delay(time.Minute, nil); d != 0 {
		t.Errorf("no source: %s", d)
	}
	// A broken source never stretches the wait past max.
	for _, v := range []int64{-1, int64(time.Minute), int64(time.Hour)} {
		if d := Delay(time.Minute, fixed(v)); d < 0 || d >= time.Minute {
			t.Errorf("source returning %d: Delay = %s", v, d)
		}
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	err := Sleep(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("Sleep = %v after %s", err, time.Since(start))
	}
	if err := Sleep(context.Background(), 10*time.Millisecond); err != nil {
		t.Fatalf("short sleep: %v", err)
	}
}

func writeInhibitors(t *testing.T, body string) string {
	t.Helper()
	top := t.TempDir()
	if body != "" {
		if err := os.WriteFile(filepath.Join(top, InhibitorsFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return top
}

func TestInhibitors(t *testing.T) {
	t.Parallel()
	cur, err := ReadInhibitors(writeInhibitors(t, `{"systemd": "/nix/store/a-systemd-257", "dbus": "/nix/store/d-dbus", "gone": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	next, err := ReadInhibitors(writeInhibitors(t, `{"systemd": "/nix/store/b-systemd-258", "dbus": "/nix/store/d-dbus", "new": "y"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := CompareInhibitors(cur, next)
	want := []Change{{"systemd", "/nix/store/a-systemd-257", "/nix/store/b-systemd-258"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes = %v, want %v", got, want)
	}
	if none, err := ReadInhibitors(writeInhibitors(t, "")); none != nil || err != nil {
		t.Fatalf("missing file: %v, %v", none, err)
	}
	if _, err := ReadInhibitors(writeInhibitors(t, `["not", "an", "object"]`)); err == nil || !strings.Contains(err.Error(), InhibitorsFile) {
		t.Fatalf("garbled file: %v", err)
	}
	if len(CompareInhibitors(nil, next)) != 0 || len(CompareInhibitors(cur, cur)) != 0 {
		t.Fatal("no common changed keys must mean no change")
	}
}

func TestChooseAction(t *testing.T) {
	t.Parallel()
	inh := []Change{{"systemd", "a", "b"}}
	for _, tc := range []struct {
		name      string
		c         Choice
		action    string
		reasonHas string
		wantErr   bool
	}{
		{"interactive switch", Choice{Requested: "switch", ConfigBoot: true}, "switch", "", false},
		{"unattended switch without config", Choice{Requested: "switch", Unattended: true}, "switch", "", false},
		{"unattended with unattended.boot", Choice{Requested: "switch", Unattended: true, ConfigBoot: true}, "boot", "unattended.boot", false},
		{"inhibitors turn switch into boot", Choice{Requested: "switch", Inhibited: inh}, "boot", "systemd (a -> b)", false},
		{"inhibitors, unattended", Choice{Requested: "switch", Unattended: true, Inhibited: inh}, "boot", "switch inhibitors changed", false},
		{"inhibitors refuse test", Choice{Requested: "test", Inhibited: inh}, "", "", true},
		{"test without inhibitors", Choice{Requested: "test", Unattended: true, ConfigBoot: true}, "test", "", false},
		{"build untouched", Choice{Requested: "build", Unattended: true, ConfigBoot: true, Inhibited: inh}, "build", "", false},
		{"boot stays boot", Choice{Requested: "boot", Inhibited: inh}, "boot", "", false},
	} {
		action, reason, err := ChooseAction(tc.c)
		if (err != nil) != tc.wantErr || action != tc.action || (tc.reasonHas == "") != (reason == "") || !strings.Contains(reason, tc.reasonHas) {
			t.Errorf("%s: got (%q, %q, %v), want action %q reason containing %q err %v", tc.name, action, reason, err, tc.action, tc.reasonHas, tc.wantErr)
		}
		if tc.wantErr && !errors.Is(err, ErrInhibited) {
			t.Errorf("%s: err %v is not ErrInhibited", tc.name, err)
		}
	}
}

func TestRunningRebuilds(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	procs := map[string][]string{
		"100": {"/run/current-system/sw/bin/nixos-rebuild", "switch", "--flake", ".#a"},
		"101": {"/nix/store/x-bash/bin/bash", "/nix/store/y-nixos-rebuild/bin/nixos-rebuild", "boot"},
		"102": {"nh", "os", "switch", "."},
		"103": {"nh", "home", "switch", "."},
		"104": {"/nix/store/z/bin/.switch-to-configuration-wrapped", "switch"},
		"105": {"nixos-rebuild", "build"},
		"106": {"vim", "nixos-rebuild.nix"},
		"107": {"sudo", "nixos-rebuild", "test"},
		"108": {"nh", "os"},
		"200": {"nixos-rebuild", "switch"}, // self
	}
	for pid, argv := range procs {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "cmdline"), []byte(strings.Join(argv, "\x00")+"\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Entries that are not processes, or vanished.
	_ = os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	_ = os.MkdirAll(filepath.Join(proc, "300"), 0o755)
	var pids []int
	for _, p := range RunningRebuilds(proc, 200) {
		pids = append(pids, p.PID)
	}
	want := []int{100, 101, 102, 104, 107}
	if !reflect.DeepEqual(pids, want) {
		t.Fatalf("running rebuilds = %v, want %v", pids, want)
	}
	if got := (Process{PID: 7, Argv: []string{"nh", "os", "switch"}}).String(); got != "pid 7: nh os switch" {
		t.Errorf("String = %q", got)
	}
	if RunningRebuilds(filepath.Join(proc, "missing"), 0) != nil {
		t.Error("missing proc dir must yield nothing")
	}
}

// Against the real /proc: a child whose command line is a rebuild is found,
// this test process is not.
func TestRunningRebuildsRealProc(t *testing.T) {
	t.Parallel()
	// sh's own argv ends in "nixos-rebuild switch" ($0 and $1 of the script);
	// "; :" keeps sh from exec-ing sleep in its place.
	child := exec.Command("sh", "-c", "sleep 30; :", "nixos-rebuild", "switch")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	var found bool
	// Found as soon as sh has exec'd (a loaded machine may take seconds).
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !found; time.Sleep(20 * time.Millisecond) {
		for _, p := range RunningRebuilds("/proc", 0) {
			if p.PID == os.Getpid() {
				t.Fatalf("the test process was taken for a rebuild: %s", p)
			}
			found = found || p.PID == child.Process.Pid
		}
	}
	if !found {
		t.Fatalf("child pid %d (sh -c ... nixos-rebuild switch) not found in /proc", child.Process.Pid)
	}
}

func TestUsesInhibitors(t *testing.T) {
	t.Parallel()
	if UsesInhibitors("") || UsesInhibitors(writeInhibitors(t, "")) {
		t.Fatal("a system without switch-inhibitors uses none")
	}
	if !UsesInhibitors(writeInhibitors(t, `{}`)) {
		t.Fatal("switch-inhibitors present")
	}
}

func TestCheckManual(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	if err := CheckManual(proc, 0); err != nil {
		t.Fatalf("empty proc: %v", err)
	}
	_ = os.MkdirAll(filepath.Join(proc, "42"), 0o755)
	_ = os.WriteFile(filepath.Join(proc, "42", "cmdline"), []byte("nh\x00os\x00boot\x00.\x00"), 0o644)
	err := CheckManual(proc, 0)
	var me *ManualRebuildError
	if !errors.As(err, &me) || exitcode.FromError(err) != exitcode.Locked || !strings.Contains(err.Error(), "pid 42: nh os boot .") {
		t.Fatalf("err = %v", err)
	}
}
