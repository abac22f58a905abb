package soak

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// TestParkAgainAfterResolving: a host resolves its parked conflict against
// the remote as of its last fetch, but another host pushed again in the
// meantime to the same place. The next sync must park again (exit 5,
// nothing lost), as docs/chezmoi-sync.md promises for every conflict.
// Found by the fleet soak (seed 42, 8 hosts).
func TestParkAgainAfterResolving(t *testing.T) {
	ctx := context.Background()
	f, a, b := parkedPair(t, ctx)
	appendHot(a, "tok-r2-host0-2")
	if r := Sync(ctx, a); r.Code != 0 {
		t.Fatalf("a again: %s", r.Output)
	}
	if _, _, err := f.ResolveParked(b); err != nil {
		t.Fatal(err)
	}
	r := Sync(ctx, b)
	if r.Code != 5 && r.Code != 0 {
		t.Fatalf("b after resolving against a stale main: exit %d, want 5 (parked again) or 0\n%s", r.Code, r.Output)
	}
}

// TestHomeEditAfterResolvingKeepsUpstream: b's edit conflicted with a's
// and was parked; b resolves in the source directory as
// docs/chezmoi-sync.md says (the resolution holds both edits), then edits
// the same dotfile in HOME again before the next timer-driven sync. That
// sync must publish b's resolution and new line without dropping a's edit.
// Found by the fleet soak: the capture re-adds the home file (changed
// since chezmoi last wrote it) over the source file the resolution changed
// (chezmoi status "MM"), committing a revert of a's edit, which then
// rebases cleanly and is pushed.
func TestHomeEditAfterResolvingKeepsUpstream(t *testing.T) {
	ctx := context.Background()
	f, _, b := parkedPair(t, ctx)
	if _, _, err := f.ResolveParked(b); err != nil {
		t.Fatal(err)
	}
	appendHot(b, "tok-r2-host1-2") // edited again before the next sync
	r := Sync(ctx, b)
	if r.Code != 0 && r.Code != 5 {
		t.Fatalf("b after resolving: exit %d\n%s", r.Code, r.Output)
	}
	main := testharness.RemoteFile(t, f.Remote, "main", SourcePath(HotFile))
	if strings.Contains(main, "tok-r1-host1-1") && !strings.Contains(main, "tok-r1-host0-1") {
		t.Fatalf("a's edit was reverted on main by b's sync:\nmain:\n%s\nsync output:\n%s", main, r.Output)
	}
	for _, tok := range []string{"tok-r1-host0-1", "tok-r1-host1-1", "tok-r2-host1-2"} {
		found := strings.Contains(main, tok)
		for _, ref := range f.ParkedRefs() {
			found = found || strings.Contains(testharness.RemoteFile(t, f.Remote, ref, SourcePath(HotFile)), tok)
		}
		if !found {
			t.Fatalf("%s is neither in main nor parked:\nmain:\n%s", tok, main)
		}
	}
}

// TestHomeEditAfterFailedPushKeepsUpstream is the same capture bug without
// any conflict: b's sync fetches a's edit and rebases onto it, but the
// push fails (here the remote rejects it; a network error does the same),
// so chezmoi-sync stops before `chezmoi apply`: the source holds a's edit,
// HOME does not. b then edits the same dotfile; the next sync re-adds the
// home file over the source and publishes a revert of a's edit.
func TestHomeEditAfterFailedPushKeepsUpstream(t *testing.T) {
	ctx := context.Background()
	f, a, b := syncedPair(t, ctx)
	addShared := func(h *Host, tok string) {
		marker := "[end " + h.Name + "]"
		h.WriteHome(SharedFile, strings.Replace(h.ReadHome(SharedFile), marker, tok+"\n"+marker, 1))
	}
	addShared(a, "tok-r1-host0-1")
	if r := Sync(ctx, a); r.Code != 0 {
		t.Fatalf("a: %s", r.Output)
	}
	hook := filepath.Join(f.Remote, "hooks", "pre-receive")
	must(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'remote: maintenance, try later' >&2\nexit 1\n"), 0o755))
	b.WriteHome(OwnFile(b.Name), b.ReadHome(OwnFile(b.Name))+"tok-r1-host1-1\n")
	if r := Sync(ctx, b); r.Record == nil || r.Record.Status != syncstate.PushFailed {
		t.Fatalf("b's push should fail: exit %d\n%s", r.Code, r.Output)
	}
	must(t, os.Remove(hook))
	addShared(b, "tok-r2-host1-2")
	r := Sync(ctx, b)
	if r.Code != 0 {
		t.Fatalf("b: exit %d\n%s", r.Code, r.Output)
	}
	main := testharness.RemoteFile(t, f.Remote, "main", SourcePath(SharedFile))
	if !strings.Contains(main, "tok-r1-host0-1") {
		t.Fatalf("a's edit was reverted on main by b's sync:\nmain:\n%s\nsync output:\n%s", main, r.Output)
	}
	if !strings.Contains(main, "tok-r2-host1-2") || !strings.Contains(b.ReadHome(SharedFile), "tok-r1-host0-1") {
		t.Fatalf("b's edit not published or a's not applied:\nmain:\n%s\nb home:\n%s", main, b.ReadHome(SharedFile))
	}
}

// syncedPair is a fleet of two hosts that have each synced once.
func syncedPair(t *testing.T, ctx context.Context) (*Fleet, *Host, *Host) {
	t.Helper()
	testharness.RequireSync(t)
	f := NewFleet(t, 2)
	for _, h := range f.Hosts {
		if r := Sync(ctx, h); r.Code != 0 {
			t.Fatalf("first sync: %s", r.Output)
		}
	}
	return f, f.Hosts[0], f.Hosts[1]
}

// parkedPair is syncedPair after both hosts appended to the same dotfile:
// a's edit is on main, b's is parked (its sync exited 5).
func parkedPair(t *testing.T, ctx context.Context) (*Fleet, *Host, *Host) {
	t.Helper()
	f, a, b := syncedPair(t, ctx)
	appendHot(a, "tok-r1-host0-1")
	if r := Sync(ctx, a); r.Code != 0 {
		t.Fatalf("a: %s", r.Output)
	}
	appendHot(b, "tok-r1-host1-1")
	if r := Sync(ctx, b); r.Code != 5 {
		t.Fatalf("b should park: exit %d\n%s", r.Code, r.Output)
	}
	return f, a, b
}

// appendHot appends a token line to the dotfile every host edits.
func appendHot(h *Host, tok string) { h.WriteHome(HotFile, h.ReadHome(HotFile)+tok+"\n") }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
