package userhooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// exec returns the real runner with a minimal, explicit environment.
func execRunner() *runner.Exec {
	return &runner.Exec{Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}}
}

func writeScript(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

func TestDiscoverOrderAndRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(t.TempDir(), "order.log")
	hooksDir := filepath.Join(dir, "hooks.d")
	// Names chosen so that creation order, length order and name order differ.
	writeScript(t, filepath.Join(hooksDir, "pre", "50-second"), `echo file:50-second >> "$LOG"`, 0o755)
	writeScript(t, filepath.Join(hooksDir, "pre", "10-first"), `echo file:10-first >> "$LOG"`, 0o755)
	writeScript(t, filepath.Join(hooksDir, "pre", "9-third"), `echo file:9-third >> "$LOG"`, 0o755)
	writeScript(t, filepath.Join(hooksDir, "pre", "20-disabled"), `echo file:20-disabled >> "$LOG"`, 0o644)
	writeScript(t, filepath.Join(hooksDir, "pre", ".hidden"), `echo hidden >> "$LOG"`, 0o755)
	writeScript(t, filepath.Join(hooksDir, "pre", "30-backup~"), `echo backup >> "$LOG"`, 0o755)
	writeScript(t, filepath.Join(hooksDir, "post", "10-post"), `echo post >> "$LOG"`, 0o755)
	if err := os.MkdirAll(filepath.Join(hooksDir, "pre", "40-a-directory"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Commands: map[Kind][][]string{
		Pre: {{"sh", "-c", `echo config:0 >> "$LOG"`}, {"sh", "-c", `echo config:1 >> "$LOG"`}},
	}}
	hooks, skipped, err := Discover(cfg, hooksDir, Pre)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hooks {
		names = append(names, h.Name)
	}
	wantNames := []string{"hooks.preRebuild[0]", "hooks.preRebuild[1]", "10-first", "50-second", "9-third"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("hook order = %v, want %v", names, wantNames)
	}
	var skippedNames []string
	for _, s := range skipped {
		skippedNames = append(skippedNames, filepath.Base(s.Path)+": "+s.Reason)
	}
	sort.Strings(skippedNames)
	wantSkipped := []string{"20-disabled: not executable (chmod +x to enable it)", "40-a-directory: not a regular file"}
	if !reflect.DeepEqual(skippedNames, wantSkipped) {
		t.Fatalf("skipped = %v, want %v", skippedNames, wantSkipped)
	}

	r := &runner.Exec{Env: append(execRunner().Env, "LOG="+log)}
	rep := Run(context.Background(), r, Pre, hooks, Details{Host: "h"}, Options{Timeout: 10 * time.Second})
	if len(rep.Failed()) != 0 || rep.Veto() != nil {
		t.Fatalf("unexpected failures: %+v", rep.Failed())
	}
	got := readLines(t, log)
	want := []string{"config:0", "config:1", "file:10-first", "file:50-second", "file:9-third"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("run order = %v, want %v", got, want)
	}
}

func TestDiscoverMissingDirectory(t *testing.T) {
	t.Parallel()
	hooks, skipped, err := Discover(Config{}, filepath.Join(t.TempDir(), "nope"), Post)
	if err != nil || len(hooks) != 0 || len(skipped) != 0 {
		t.Fatalf("missing dir: hooks=%v skipped=%v err=%v", hooks, skipped, err)
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "env")
	d := Details{
		Host: "alpha", Flake: "/src/nix-config", Action: "boot",
		CommitBefore: "1111111", CommitAfter: "2222222", Generation: "42",
		Toplevel: "/nix/store/abc-nixos-system-alpha", PreviousSystem: "/nix/store/old-nixos-system-alpha",
		Outcome: "failed", FailedPhase: "rebuild", Duration: 83*time.Second + 600*time.Millisecond,
		LogFile: "/var/log/x.log", TargetHost: "root@vm", BuildHost: "builder", Unattended: true,
		StateDir: "/var/lib/nixdots",
	}
	hook := Hook{Name: "dump", Argv: []string{"sh", "-c", `env | grep '^REBUILD_SMART_' | sort > "$0"`, out}}
	rep := Run(context.Background(), execRunner(), Failure, []Hook{hook}, d, Options{})
	if f := rep.Failed(); len(f) != 0 {
		t.Fatalf("hook failed: %s", f[0].Describe(rep.Timeout))
	}
	got := readLines(t, out)
	want := []string{
		"REBUILD_SMART_ACTION=boot",
		"REBUILD_SMART_BUILD_HOST=builder",
		"REBUILD_SMART_COMMIT_AFTER=2222222",
		"REBUILD_SMART_COMMIT_BEFORE=1111111",
		"REBUILD_SMART_DURATION=84",
		"REBUILD_SMART_DURATION_MS=83600",
		"REBUILD_SMART_FAILED_PHASE=rebuild",
		"REBUILD_SMART_FLAKE=/src/nix-config",
		"REBUILD_SMART_GENERATION=42",
		"REBUILD_SMART_HOOK=failure",
		"REBUILD_SMART_HOST=alpha",
		"REBUILD_SMART_LOG_FILE=/var/log/x.log",
		"REBUILD_SMART_OUTCOME=failed",
		"REBUILD_SMART_PREVIOUS_SYSTEM=/nix/store/old-nixos-system-alpha",
		"REBUILD_SMART_STATE_DIR=/var/lib/nixdots",
		"REBUILD_SMART_TARGET_HOST=root@vm",
		"REBUILD_SMART_TOPLEVEL=/nix/store/abc-nixos-system-alpha",
		"REBUILD_SMART_UNATTENDED=1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("environment:\n got %v\nwant %v", got, want)
	}
}

// Unknown values are exported empty (scripts with `set -u` must not die) and
// a pre hook sees the outcome "pending".
func TestEnvironmentPreDefaults(t *testing.T) {
	t.Parallel()
	env := Details{}.Env(Pre)
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	if m["REBUILD_SMART_OUTCOME"] != "pending" || m["REBUILD_SMART_UNATTENDED"] != "0" {
		t.Fatalf("pre defaults: %v", m)
	}
	for _, k := range []string{"REBUILD_SMART_GENERATION", "REBUILD_SMART_TOPLEVEL", "REBUILD_SMART_LOG_FILE"} {
		if v, ok := m[k]; !ok || v != "" {
			t.Fatalf("%s = %q, present %v; want present and empty", k, v, ok)
		}
	}
}

func TestPreHookVeto(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "third-ran")
	hooks := []Hook{
		{Name: "10-ok", Argv: []string{"true"}},
		{Name: "20-battery", Argv: []string{"sh", "-c", "echo 'on battery: 12%' >&2; exit 3"}},
		{Name: "30-never", Argv: []string{"touch", marker}},
	}
	rep := Run(context.Background(), execRunner(), Pre, hooks, Details{}, Options{Timeout: 10 * time.Second})
	if len(rep.Results) != 2 {
		t.Fatalf("results = %d, want 2 (the veto stops later pre hooks)", len(rep.Results))
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a pre hook after the veto ran")
	}
	err := rep.Veto()
	var ve *VetoError
	if !errors.As(err, &ve) {
		t.Fatalf("Veto() = %v, want *VetoError", err)
	}
	if exitcode.FromError(err) != exitcode.Vetoed {
		t.Fatalf("exit code = %d, want %d", exitcode.FromError(err), exitcode.Vetoed)
	}
	msg := err.Error()
	for _, want := range []string{"20-battery", "exit 3", "on battery: 12%", "vetoed", "nothing was changed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("veto message %q lacks %q", msg, want)
		}
	}
}

// Post and failure hooks all run whatever the others do, and never veto.
func TestPostHookFailureIsReportedNotFatal(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "last-ran")
	hooks := []Hook{
		{Name: "10-fails", Argv: []string{"false"}},
		{Name: "20-missing", Argv: []string{"nixdots-no-such-command"}},
		{Name: "30-runs", Argv: []string{"touch", marker}},
	}
	for _, k := range []Kind{Post, Failure} {
		_ = os.Remove(marker)
		rep := Run(context.Background(), execRunner(), k, hooks, Details{}, Options{Timeout: 10 * time.Second})
		if rep.Veto() != nil {
			t.Fatalf("%s hooks must never veto", k)
		}
		failed := rep.Failed()
		if len(failed) != 2 {
			t.Fatalf("%s: failed = %d, want 2", k, len(failed))
		}
		if got := failed[0].Describe(rep.Timeout); got != "10-fails: exit 1" {
			t.Errorf("describe = %q", got)
		}
		if got := failed[1].Describe(rep.Timeout); got != "20-missing: nixdots-no-such-command not found" {
			t.Errorf("describe = %q", got)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("%s: the hook after the failures did not run", k)
		}
	}
}

func TestHookTimeoutKillsTheHook(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	// The hook's own child (sleep) holds the output pipe open; the runner
	// must kill the whole process group or Run would wait for it.
	hooks := []Hook{{Name: "hangs", Argv: []string{"sh", "-c", "sleep 60 & sleep 60; echo unreachable"}}}
	start := time.Now()
	rep := Run(context.Background(), execRunner(), Pre, hooks, Details{}, Options{Timeout: timeout})
	elapsed := time.Since(start)
	if elapsed > timeout+5*time.Second {
		t.Fatalf("Run took %s with a %s timeout", elapsed, timeout)
	}
	if len(rep.Results) != 1 || !rep.Results[0].TimedOut {
		t.Fatalf("results = %+v, want one timed-out result", rep.Results)
	}
	if err := rep.Veto(); err == nil || !strings.Contains(err.Error(), "hangs: timed out after 300ms") {
		t.Fatalf("veto = %v", err)
	}
}

func TestDryRunPrintsInsteadOfRunning(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	var out bytes.Buffer
	dry := &runner.DryRun{Inner: execRunner(), Out: &out}
	rep := Run(context.Background(), dry, Post, []Hook{{Name: "touch", Argv: []string{"touch", marker}}}, Details{}, Options{})
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("hook ran under dry-run")
	}
	if len(rep.Failed()) != 0 || len(dry.Planned) != 1 || !strings.Contains(out.String(), "would run: touch") {
		t.Fatalf("dry-run: failed=%v planned=%v out=%q", rep.Failed(), dry.Planned, out.String())
	}
}

func TestInterruptedStopsRemainingHooks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &runner.Recorder{Inner: execRunner()}
	rep := Run(ctx, rec, Post, []Hook{{Name: "a", Argv: []string{"true"}}, {Name: "b", Argv: []string{"true"}}}, Details{}, Options{})
	if rec.Count() != 0 || len(rep.Results) != 0 {
		t.Fatalf("cancelled run still started %d hooks", rec.Count())
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	load := func(body string) (*config.File, error) {
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return config.Load(p)
	}
	f, err := load(`{"rebuildSmart": {"hooks": {"preRebuild": [["on-ac-power"], ["btrfs", "subvolume", "snapshot", "/", "/snap"]], "onFailure": [["logger", "rebuild failed"]], "timeout": "90s"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromConfig(f, config.SectionRebuild)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 90*time.Second || len(c.Commands[Pre]) != 2 || len(c.Commands[Post]) != 0 || c.Commands[Failure][0][1] != "rebuild failed" {
		t.Fatalf("config = %+v", c)
	}
	empty, _ := load(`{}`)
	if c, err := FromConfig(empty, config.SectionRebuild); err != nil || c.Timeout != DefaultTimeout {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for body, want := range map[string]string{
		`{"rebuildSmart": {"hooks": {"postRebuild": [[]]}}}`:     "hooks.postRebuild[0]: empty command",
		`{"rebuildSmart": {"hooks": {"timeout": "soon"}}}`:       `hooks.timeout: "soon" is not a positive duration`,
		`{"rebuildSmart": {"hooks": {"preRebuild": "echo hi"}}}`: "hooks.preRebuild",
	} {
		f, err := load(body)
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromConfig(f, config.SectionRebuild)
		if err == nil || !strings.Contains(err.Error(), want) || exitcode.FromError(err) != exitcode.Usage {
			t.Errorf("%s: err = %v, want usage error containing %q", body, err, want)
		}
	}
}

func TestDir(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := Dir(env(map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"})); got != "/x/rebuild-smart/hooks.d" {
		t.Errorf("Dir = %q", got)
	}
	if got := Dir(env(map[string]string{"HOME": "/h"})); got != "/h/.config/rebuild-smart/hooks.d" {
		t.Errorf("Dir = %q", got)
	}
	if got := Dir(env(nil)); got != "" {
		t.Errorf("Dir = %q", got)
	}
}
