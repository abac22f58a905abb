package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/syncstate"
)

func TestSyncEvent(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rec              syncstate.Record
		send             bool
		urgency          Urgency
		summary, bodyHas string
	}{
		{syncstate.Record{Status: syncstate.Success, Host: "a"}, false, "", "", ""},
		{syncstate.Record{Status: syncstate.FetchFailed, Host: "a"}, false, "", "", ""},
		{syncstate.Record{Status: syncstate.Interrupted, Host: "a"}, false, "", "", ""},
		{syncstate.Record{Status: syncstate.ConflictsPreserved, Host: "a", Parked: "sync/a",
			Conflicts: []syncstate.Conflict{{Paths: []string{"dot_bashrc", "dot_vimrc"}}}},
			true, Critical, "chezmoi-sync: conflicts parked on a", "kept on bookmark sync/a. Conflicting: dot_bashrc, dot_vimrc.\nRun chezmoi-show-conflicts"},
		{syncstate.Record{Status: syncstate.PushFailed, Host: "b", Error: "push rejected", NextStep: "run chezmoi-sync again"},
			true, Normal, "chezmoi-sync: push-failed on b", "push rejected\nrun chezmoi-sync again"},
		{syncstate.Record{Status: syncstate.Failed, Host: "b"}, true, Normal, "chezmoi-sync: failed on b", "chezmoi-status"},
	} {
		tc.rec.Start = start
		ev, send := SyncEvent(&tc.rec)
		if send != tc.send {
			t.Errorf("%s: send = %v", tc.rec.Status, send)
			continue
		}
		if !send {
			continue
		}
		if ev.Urgency != tc.urgency || ev.Summary != tc.summary || !strings.Contains(ev.Body, tc.bodyHas) ||
			ev.Tool != "chezmoi-sync" || ev.Status != tc.rec.Status || !ev.Time.Equal(start) || ev.Record == nil {
			t.Errorf("%s: event = %+v", tc.rec.Status, ev)
		}
	}
	many := syncstate.Record{Status: syncstate.ConflictsPreserved, Conflicts: []syncstate.Conflict{{Paths: []string{"1", "2", "3", "4", "5", "6", "7"}}}}
	if ev, _ := SyncEvent(&many); !strings.Contains(ev.Body, "1, 2, 3, 4, 5, and 2 more") {
		t.Errorf("long list not shortened: %q", ev.Body)
	}
}

func TestRebuildEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r                Rebuild
		send             bool
		urgency          Urgency
		summary, bodyHas string
	}{
		{Rebuild{Host: "a", Outcome: "success", Action: "switch", Generation: 42}, true, Low, "rebuild-smart: a switched to generation 42", ""},
		{Rebuild{Host: "a", Outcome: "success", Action: "boot", Generation: 43}, true, Low, "rebuild-smart: a will boot generation 43", "Reboot"},
		{Rebuild{Host: "a", Outcome: "success", Action: "build"}, true, Low, "rebuild-smart: a built the new system", ""},
		{Rebuild{Host: "a", Outcome: "nothing-to-switch"}, true, Low, "rebuild-smart: a is up to date", ""},
		{Rebuild{Host: "a", Outcome: "nothing-to-switch", Unattended: true}, false, "", "", ""},
		{Rebuild{Host: "a", Outcome: "interrupted"}, false, "", "", ""},
		{Rebuild{Host: "a", Outcome: "locked"}, false, "", "", ""},
		{Rebuild{Host: "a", Outcome: "bad-input"}, false, "", "", ""},
		{Rebuild{Host: "a", Outcome: "dry-run"}, false, "", "", ""},
		{Rebuild{Host: "a", Outcome: "units-failed", Generation: 7, Error: "failed units: foo.service"}, true, Critical,
			"rebuild-smart: a switched to generation 7, some units failed", "foo.service\nSee systemctl --failed."},
		{Rebuild{Host: "a", Outcome: "vetoed", Error: "pre-rebuild hook 10-battery vetoed"}, true, Normal,
			"rebuild-smart: a rebuild vetoed by a pre-rebuild hook", "10-battery"},
		{Rebuild{Host: "a", Outcome: "failed", FailedPhase: "Rebuild", NextStep: "rebuild-rollback"}, true, Critical,
			"rebuild-smart: a failed in Rebuild", "rebuild-rollback"},
		{Rebuild{Host: "a", Outcome: "failed"}, true, Critical, "rebuild-smart: a failed in the rebuild", "unchanged"},
	} {
		ev, send := RebuildEvent(tc.r)
		if send != tc.send {
			t.Errorf("%+v: send = %v", tc.r, send)
			continue
		}
		if send && (ev.Urgency != tc.urgency || ev.Summary != tc.summary || !strings.Contains(ev.Body, tc.bodyHas) || ev.Tool != "rebuild-smart") {
			t.Errorf("%+v: event = %+v", tc.r, ev)
		}
	}
}

// Every rebuild notification that is sent has a body, and the webhook
// payload always carries the "body" key (documented in docs/fleet.md).
func TestRebuildBodyAlwaysPresent(t *testing.T) {
	for _, outcome := range []string{"success", "nothing-to-switch", "units-failed", "declined", "vetoed", "failed"} {
		ev, send := RebuildEvent(Rebuild{Host: "alpha", Outcome: outcome, Action: "switch", Generation: 3, Diff: "1 added, 0 removed, 0 upgraded, 0 downgraded"})
		if !send || ev.Body == "" {
			t.Errorf("%s: send %v, body %q", outcome, send, ev.Body)
		}
	}
	ev, _ := RebuildEvent(Rebuild{Host: "alpha", Outcome: "success", Action: "switch", Generation: 3, Diff: "2 added, 1 removed, 0 upgraded, 0 downgraded"})
	if !strings.Contains(ev.Body, "2 added, 1 removed") {
		t.Errorf("success body lacks the diff: %q", ev.Body)
	}
	b, err := json.Marshal(Payload{Version: 1, Tool: "rebuild-smart"})
	if err != nil || !strings.Contains(string(b), `"body":""`) {
		t.Errorf("an empty body must still be a key: %s %v", b, err)
	}
}
