package metrics

import (
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// Every metric the suite writes. The names are an interface (dashboards and
// alerts use them): documented in docs/fleet.md; add, never rename.
const (
	SyncLastRun      = "nixdots_sync_last_run_timestamp_seconds"
	SyncLastSuccess  = "nixdots_sync_last_success_timestamp_seconds"
	SyncOutcome      = "nixdots_sync_outcome"
	SyncDuration     = "nixdots_sync_duration_seconds"
	SyncConflicts    = "nixdots_sync_conflicts_parked"
	SyncPendingPush  = "nixdots_sync_pending_push"
	SyncIncoming     = "nixdots_sync_incoming_commits"
	SyncSkippedFiles = "nixdots_sync_skipped_files"

	RebuildLastRun     = "nixdots_rebuild_last_run_timestamp_seconds"
	RebuildLastSuccess = "nixdots_rebuild_last_success_timestamp_seconds"
	RebuildOutcome     = "nixdots_rebuild_outcome"
	RebuildDuration    = "nixdots_rebuild_duration_seconds"
	RebuildGeneration  = "nixdots_rebuild_generation"
	RebuildUnitsFailed = "nixdots_rebuild_units_failed"
	RebuildHooksFailed = "nixdots_rebuild_hooks_failed"
	RebuildBootPending = "nixdots_rebuild_boot_pending"
)

// SyncStatuses are chezmoi-sync's status words; each gets a series of
// nixdots_sync_outcome (1 for the last run's, 0 for the others), so an
// alert can say `nixdots_sync_outcome{status="success"} == 0`.
var SyncStatuses = syncstate.Words

// RebuildOutcomes are rebuild-smart's outcome words, likewise.
var RebuildOutcomes = []string{
	"success", "nothing-to-switch", "units-failed", "failed", "vetoed", "interrupted", "rolled-back",
}

// SyncRun is what a chezmoi-sync run exposes.
type SyncRun struct {
	Host            string
	User            string // the account whose dotfiles were synced (one file per user)
	Start           time.Time
	Duration        time.Duration
	Status          string
	LastSuccess     time.Time // zero: never; written as 0 so "time() - x" alerts fire
	ConflictsParked int
	PendingPush     int
	Incoming        int
	SkippedFiles    int
}

// FromSyncRecord takes the values from chezmoi-sync's record.
func FromSyncRecord(r *syncstate.Record, user string) SyncRun {
	return SyncRun{
		Host: r.Host, User: user, Start: r.Start, Duration: time.Duration(r.DurationMS) * time.Millisecond,
		Status: r.Status, LastSuccess: r.LastSuccess, ConflictsParked: len(r.Conflicts),
		PendingPush: r.PendingPush, Incoming: r.Incoming, SkippedFiles: len(r.Skipped),
	}
}

// SyncFamilies returns the chezmoi-sync metrics. Every series carries host
// and user labels: several users' files in one textfile directory must not
// produce the same series twice (node_exporter would reject them).
func SyncFamilies(r SyncRun) []Family {
	ls := []Label{{"host", r.Host}, {"user", r.User}}
	g := func(name, help string, v float64) Family {
		return Family{Name: name, Help: help, Type: "gauge", Samples: []Sample{{Labels: ls, Value: v}}}
	}
	return []Family{
		g(SyncLastRun, "Start of the last chezmoi-sync run, Unix time.", unix(r.Start)),
		g(SyncLastSuccess, "Start of the last successful chezmoi-sync run, Unix time (0: never).", unix(r.LastSuccess)),
		stateSet(SyncOutcome, "Status of the last chezmoi-sync run: 1 for its status word, 0 for the others.", ls, SyncStatuses, r.Status),
		g(SyncDuration, "Duration of the last chezmoi-sync run in seconds.", r.Duration.Seconds()),
		g(SyncConflicts, "Conflicted commits parked on the sync/<host> bookmark by the last run.", float64(r.ConflictsParked)),
		g(SyncPendingPush, "Local dotfiles commits not on the remote after the last run.", float64(r.PendingPush)),
		g(SyncIncoming, "Commits that came in from the remote and were applied by the last run.", float64(r.Incoming)),
		g(SyncSkippedFiles, "Home files the last run's apply refused to overwrite.", float64(r.SkippedFiles)),
	}
}

// RebuildRun is what a rebuild-smart run exposes.
type RebuildRun struct {
	Host        string // nixosConfigurations attribute (the target's, for --target-host)
	Start       time.Time
	Duration    time.Duration
	Outcome     string
	LastSuccess time.Time // zero: never
	Generation  int       // system profile generation after the run (0: unknown, omitted)
	UnitsFailed int
	HooksFailed int  // post/failure hooks that failed (never changes the outcome)
	BootPending bool // activated with boot: the new generation waits for a reboot
}

// RebuildFamilies returns the rebuild-smart metrics, labelled by host.
func RebuildFamilies(r RebuildRun) []Family {
	ls := []Label{{"host", r.Host}}
	g := func(name, help string, v float64) Family {
		return Family{Name: name, Help: help, Type: "gauge", Samples: []Sample{{Labels: ls, Value: v}}}
	}
	boot := 0.0
	if r.BootPending {
		boot = 1
	}
	fams := []Family{
		g(RebuildLastRun, "Start of the last rebuild-smart run, Unix time.", unix(r.Start)),
		g(RebuildLastSuccess, "Start of the last successful rebuild-smart run, Unix time (0: never).", unix(r.LastSuccess)),
		stateSet(RebuildOutcome, "Outcome of the last rebuild-smart run: 1 for its outcome word, 0 for the others.", ls, RebuildOutcomes, r.Outcome),
		g(RebuildDuration, "Duration of the last rebuild-smart run in seconds.", r.Duration.Seconds()),
	}
	if r.Generation > 0 {
		fams = append(fams, g(RebuildGeneration, "NixOS system profile generation after the last rebuild-smart run.", float64(r.Generation)))
	}
	return append(fams,
		g(RebuildUnitsFailed, "systemd units failed after the last rebuild-smart activation.", float64(r.UnitsFailed)),
		g(RebuildHooksFailed, "Post-rebuild or on-failure hooks that failed in the last run.", float64(r.HooksFailed)),
		g(RebuildBootPending, "1 when the last run activated with boot and the new generation waits for a reboot.", boot),
	)
}

// LastRebuildSuccess returns the time of the newest successful
// rebuild-smart entry for host in the history, zero when there is none.
func LastRebuildSuccess(entries []history.Entry, host string) time.Time {
	var last time.Time
	for _, e := range entries {
		if e.Host == host && e.Source == "rebuild-smart" && e.Successful() && e.Time.After(last) {
			last = e.Time
		}
	}
	return last
}

// stateSet renders an enum as one 0/1 series per known word; a word not in
// known (a newer binary's) is added rather than lost.
func stateSet(name, help string, base []Label, known []string, current string) Family {
	words := known
	found := false
	for _, w := range known {
		if w == current {
			found = true
		}
	}
	if !found && current != "" {
		words = append(append([]string(nil), known...), current)
	}
	f := Family{Name: name, Help: help, Type: "gauge"}
	for _, w := range words {
		v := 0.0
		if w == current {
			v = 1
		}
		ls := append(append([]Label(nil), base...), Label{"status", w})
		f.Samples = append(f.Samples, Sample{Labels: ls, Value: v})
	}
	return f
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000 // millisecond precision keeps the text short
}
