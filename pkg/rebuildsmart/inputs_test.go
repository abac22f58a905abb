package rebuildsmart_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	oldDate = "2020-01-01T00:00:00Z"
	nowDate = time.Now().UTC().Format(time.RFC3339)
)

// --stale updates only the inputs older than the limit and prints the
// changelog (input, old -> new revision, dates); the update is committed.
func TestStaleOnlyUpdateChangelog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{inputs: map[string]string{"oldlib": oldDate, "freshlib": nowDate}})
	oldRev, freshRev := e.lockedRev("oldlib"), e.lockedRev("freshlib")
	e.input("oldlib", "2020-02-01T00:00:00Z")
	e.input("freshlib", nowDate)
	res, rep := e.rsJSON("--skip-dotfiles", "--stale", "30d")
	if res.Code != 0 {
		t.Fatal(res)
	}
	if got := e.lockedRev("oldlib"); got != e.inputRev("oldlib") || got == oldRev {
		t.Fatalf("stale input not updated: %s (was %s)", got, oldRev)
	}
	if got := e.lockedRev("freshlib"); got != freshRev {
		t.Fatalf("fresh input updated: %s -> %s", freshRev, got)
	}
	cl := rep["changelog"].([]any)
	if len(cl) != 1 || cl[0].(map[string]any)["input"] != "oldlib" {
		t.Fatalf("changelog %v", cl)
	}
	want := "oldlib: " + oldRev[:12] + " (2020-01-01) → " + e.inputRev("oldlib")[:12] + " (2020-02-01)"
	if !strings.Contains(res.Stderr, want) {
		t.Fatalf("changelog line %q missing:\n%s", want, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "stale: oldlib") || strings.Contains(res.Stderr, "stale: freshlib") {
		t.Fatalf("stale list wrong:\n%s", res.Stderr)
	}
	if files := e.git("show", "--name-only", "--format=", "HEAD"); files != "flake.lock" {
		t.Fatalf("flake.lock not committed: %q\n%s", files, res)
	}
	if h := e.history(); len(h) != 1 || h[0].FlakeLockHash == "" {
		t.Fatalf("history %+v", h)
	}
}

// The secrets input is updated alone on every online run with the syntax of
// the installed nix; other inputs stay; --skip-secrets and offline skip it.
func TestSecretsInputAndUpdateFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{inputs: map[string]string{"nix-secrets": oldDate, "oldlib": oldDate}})
	libRev := e.lockedRev("oldlib")
	e.input("nix-secrets", nowDate)
	e.input("oldlib", nowDate)

	res := e.rs("--skip-dotfiles", "--skip-secrets", "--offline")
	if res.Code != 0 || e.lockedRev("nix-secrets") == e.inputRev("nix-secrets") {
		t.Fatalf("--skip-secrets updated secrets:\n%s", res)
	}
	res = e.rs("--skip-dotfiles", "--verbose")
	if res.Code != 0 || e.lockedRev("nix-secrets") != e.inputRev("nix-secrets") {
		t.Fatalf("secrets input not updated:\n%s", res)
	}
	if e.lockedRev("oldlib") != libRev {
		t.Fatal("the secrets update touched another input")
	}
	if !strings.Contains(res.Stdout, "nix-secrets:") || !strings.Contains(res.Stdout, "[skipped] Phase 5: Flake update: not requested") {
		t.Fatalf("output:\n%s", res)
	}
	// Debian's nix 2.8 spells a single-input update `nix flake lock
	// --update-input` (`nix flake update NAME` only from 2.19).
	if !strings.Contains(res.Stderr, "nix flake lock --update-input nix-secrets") {
		t.Fatalf("update syntax for nix 2.8 not used:\n%s", res.Stderr)
	}
	// --update --skip-update: nothing updated.
	res = e.rs("--skip-dotfiles", "--skip-secrets", "--update", "--skip-update")
	if res.Code != 0 || e.lockedRev("oldlib") != libRev || !strings.Contains(res.Stdout, "Flake update: --skip-update") {
		t.Fatalf("--skip-update did not win:\n%s", res)
	}
	// --update-input of an unknown input is bad input.
	res = e.rs("--skip-dotfiles", "--skip-secrets", "--update-input", "nope")
	if res.Code != 2 || !strings.Contains(res.Stderr, "no such input") {
		t.Fatalf("unknown input:\n%s", res)
	}
	// --update-input oldlib updates exactly that one.
	res = e.rs("--skip-dotfiles", "--skip-secrets", "--update-input", "oldlib")
	if res.Code != 0 || e.lockedRev("oldlib") != e.inputRev("oldlib") {
		t.Fatalf("--update-input oldlib:\n%s", res)
	}
	gens := e.generations()
	if len(gens) < 2 {
		t.Fatalf("input updates should make new systems: %+v", gens)
	}
	msgs := strings.Split(e.git("log", "--format=%s"), "\n")
	if !slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "chore(alpha): rebuild") }) {
		t.Fatalf("no rebuild commit: %v", msgs)
	}
}
