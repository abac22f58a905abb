package mutate

// All is the curated list (issue 17). Each entry is a bug somebody could
// write; Pkgs/Run name the tests that must catch it. Quick ones form the
// quick form CI runs. docs/proof.md ("Mutation testing") has the table of
// the last full run.
var All = concat(syncMutants, stateMutants, rollbackMutants, rebuildMutants, hookMutants)

func concat(lists ...[]Mutant) []Mutant {
	var out []Mutant
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var syncPkg = []string{"./pkg/chezmoisync"}

// syncMutants: chezmoi-sync and the packages it stands on (pkg/chezmoisync,
// pkg/chezmoi, pkg/jj, pkg/statindex, pkg/showconflicts, pkg/chezmoistatus).
var syncMutants = []Mutant{
	{
		ID: "sync/dry-run-pushes", Kind: "drop-mutates", File: "pkg/jj/client.go",
		Find:    `c.exec(ctx, c.cmd(true, true, "git", "push"`,
		Replace: `c.exec(ctx, c.cmd(false, true, "git", "push"`,
		Pkgs:    []string{"./pkg/jj"}, Run: "TestDryRunRunnerChangesNothing", Quick: true,
		Why: "issue 17's first survivor: `jj git push` lost its Mutates tag, so any dry run that reaches it really pushes",
	},
	{
		ID: "sync/dry-guard-trusts-tags", Kind: "remove-guard", File: "pkg/chezmoisync/guard.go",
		Find:    `c.Mutates || !(`,
		Replace: `c.Mutates || false && !(`,
		Pkgs:    syncPkg, Run: "TestDryGuardLetsOnlyReadsThrough", Quick: true,
		Why: "the dry-run guard believes the Mutates tag instead of checking argv: one mistagged command pushes in a dry run",
	},
	{
		ID: "sync/dry-run-runs-push-step", Kind: "drop-mutates", File: "pkg/chezmoisync/publish.go",
		Find:    `r.remoteName()), changes: true}`,
		Replace: `r.remoteName())}`,
		Pkgs:    syncPkg, Run: "^TestDryRunChangesNothing$",
		Why: "the push step does not say it changes something, so a dry run runs it",
	},
	{
		ID: "sync/capture-reverts-incoming", Kind: "skip-step", File: "pkg/chezmoisync/capture.go",
		Find:    `readd, unmerged, err := r.splitCapture(ctx, r.cls.Capture)`,
		Replace: `readd, unmerged, err := r.cls.Capture, []string(nil), error(nil)`,
		Pkgs:    syncPkg, Run: "TestHomeEditOfChangedSourceFileIsMerged|TestSourceEditIsNotReverted", Quick: true,
		Why: "issue 17's third survivor: re-add without the merge check copies a stale home file over an incoming source change (and publishes the revert)",
	},
	{
		ID: "soak/capture-reverts-incoming", Kind: "skip-step", File: "pkg/chezmoisync/capture.go",
		Find:    `readd, unmerged, err := r.splitCapture(ctx, r.cls.Capture)`,
		Replace: `readd, unmerged, err := r.cls.Capture, []string(nil), error(nil)`,
		Pkgs:    []string{"./internal/soak"}, Run: "^TestFleetSoak$",
		Why: "the same bug as sync/capture-reverts-incoming, for the fleet soak alone (issue 17: the soak passed it with seeds 42, 7 and 1): its users follow the printed recipe, edit between resolving and the next sync, and keep only what the docs say",
	},
	{
		ID: "sync/overlapping-merge-captured", Kind: "remove-guard", File: "pkg/chezmoisync/merge.go",
		Find:    `return false, "the two edits overlap"`,
		Replace: `_ = clean`,
		Pkgs:    syncPkg, Run: "TestOverlappingHomeAndSourceEditsAreBothKept",
		Why: "a conflicting 3-way merge is written to the home file and captured as if it were clean",
	},
	{
		ID: "sync/markers-captured", Kind: "remove-guard", File: "pkg/chezmoisync/capture.go",
		Find:    `readd = r.dropMarked(readd)`,
		Replace: ``,
		Pkgs:    syncPkg, Run: "TestStrayConflictMarkersAreRefused",
		Why: "a home file holding conflict markers is captured and published",
	},
	{
		ID: "sync/capture-not-verified", Kind: "skip-step", File: "pkg/chezmoisync/capture.go",
		Find:    `captured, err := r.verifyCapture(ctx, readd)`,
		Replace: `captured, err := readd, error(nil)`,
		Pkgs:    syncPkg, Run: "TestEditDuringCaptureIsNotCountedAsCaptured|TestVerifyCaptureCountsOnlyWhatChezmoiRecorded",
		Why: "an edit re-add did not take is counted as captured instead of waiting",
	},
	{
		ID: "sync/conflict-not-parked", Kind: "skip-step", File: "pkg/chezmoisync/publish.go",
		Find:    `return r.parkConflicts(ctx, conflicted)`,
		Replace: `_ = conflicted`,
		Pkgs:    syncPkg, Run: "TestConflictIsParkedThenResolved",
		Why: "a conflicting rebase is kept instead of being undone and parked on sync/<host>",
	},
	{
		ID: "sync/park-not-put-back", Kind: "skip-step", File: "pkg/chezmoisync/publish.go",
		Find:    `if err := r.jj.RebaseSource(ctx, "roots("+r.remoteRef+"..@)", a.base[0].CommitID); err != nil {`,
		Replace: `if err := error(nil); err != nil {`,
		Pkgs:    syncPkg, Run: "TestConflictIsParkedThenResolved",
		Why: "parking forgets to move the local commits back where they were",
	},
	{
		ID: "sync/push-failure-skips-apply", Kind: "skip-step", File: "pkg/chezmoisync/remote.go",
		Find:    `detail: r.rec.Error, next: "apply"}`,
		Replace: `detail: r.rec.Error, stop: true}`,
		Pkgs:    syncPkg, Run: "TestPushFailureStillAppliesIncoming",
		Why: "a rejected push ends the run before apply: HOME lags behind the rebased source and the next capture reverts what came in",
	},
	{
		ID: "sync/push-failure-exit-0", Kind: "swallow-error", File: "pkg/chezmoisync/remote.go",
		Find:    `r.pushErr = fmt.Errorf(`,
		Replace: `_ = fmt.Errorf(`,
		Pkgs:    syncPkg, Run: "TestDryRunAfterEveryFailureChangesNothing/push-failed",
		Why: "a push the remote rejects ends the run with exit 0",
	},
	{
		ID: "sync/one-push-retry-short", Kind: "off-by-one", File: "pkg/chezmoisync/publish.go",
		Find:    `if r.retries >= r.c.PushRetries {`,
		Replace: `if r.retries+1 >= r.c.PushRetries {`,
		Pkgs:    syncPkg, Run: "TestPushRaceIsRetried",
		Why: "--push-retries N gives up after N-1 retries",
	},
	{
		ID: "sync/one-push-retry-too-many", Kind: "off-by-one", File: "pkg/chezmoisync/publish.go",
		Find:    `if r.retries >= r.c.PushRetries {`,
		Replace: `if r.retries > r.c.PushRetries {`,
		Pkgs:    syncPkg, Run: "TestPushRaceIsRetried",
		Why: "--push-retries N retries N+1 times (--push-retries 0 still retries)",
	},
	{
		ID: "sync/apply-after-rebase-skipped", Kind: "remove-guard", File: "pkg/chezmoisync/apply.go",
		Find:    `if !r.rebasedClean && !r.remoteMoved &&`,
		Replace: `if !r.remoteMoved &&`,
		Pkgs:    syncPkg, Run: "TestDisjointEditsConverge",
		Why: "apply does not count a clean rebase as something that came in: other hosts' edits never reach HOME",
	},
	{
		ID: "sync/backup-skipped", Kind: "skip-step", File: "pkg/chezmoisync/apply.go",
		Find:    `if err := r.backup(); err != nil {`,
		Replace: `if err := error(nil); err != nil {`,
		Pkgs:    syncPkg, Run: "TestFirstRunBacksUpExistingFiles",
		Why: "apply overwrites home files chezmoi never wrote without copying them first",
	},
	{
		// attack 4, F2: the old classification kept files and links only.
		ID: "sync/dir-backup-skipped", Kind: "remove-guard", File: "pkg/chezmoi/classify.go",
		Find:    `if replacesDir && !treeWritten(in, target, st) {`,
		Replace: `if false && replacesDir && !treeWritten(in, target, st) {`,
		Pkgs:    syncPkg, Run: "TestFirstRunCopiesDirectoriesApplyReplaces|TestIncomingLinkFileOrRemovalOverDirectoryCopiesIt",
		Why: "a home directory apply replaces with a file or a link, or removes, is deleted with the user's files in it, no copy",
	},
	{
		ID: "sync/dir-backup-empty", Kind: "skip-step", File: "pkg/chezmoisync/apply.go",
		Find:    "\tfor _, n := range names {\n\t\tif err := copyTree(",
		Replace: "\tfor _, n := range names[:0] {\n\t\tif err := copyTree(",
		Pkgs:    syncPkg, Run: "TestFirstRunCopiesDirectoriesApplyReplaces",
		Why: "the copy of a directory apply deletes is made without what it holds: the record names a backup that is empty",
	},
	{
		ID: "sync/protected-files-applied", Kind: "remove-guard", File: "pkg/chezmoisync/apply.go",
		Find:    `targets = applyTargets(`,
		Replace: `_ = applyTargets(`,
		Pkgs:    syncPkg, Run: "TestExactDirectoryKeepsNewFile|TestModifyAndCreateTargetsKeepHomeEdits",
		Why: "apply runs over the files the sync protects (an unmanaged file in an exact_ directory, a modify_ target edited at home)",
	},
	{
		ID: "sync/new-files-auto-tracked", Kind: "wrong-value", File: "pkg/chezmoisync/run.go",
		Find:    `NoAutoTrack: true`,
		Replace: `NoAutoTrack: false`,
		Pkgs:    syncPkg, Run: "TestFirstColocationCommitsTrackedFilesOnly|TestChezmoiGitAutomation",
		Why: "jj tracks every new file of the source directory: a stray secret there is committed and pushed",
	},
	{
		ID: "sync/rewind-accepted-silently", Kind: "invert-guard", File: "pkg/chezmoisync/fetch.go",
		Find:    `if r.c.AcceptRewind {`,
		Replace: `if !r.c.AcceptRewind || r.c.AcceptRewind {`,
		Pkgs:    syncPkg, Run: "TestRewoundRemoteIsRefusedUntilAccepted",
		Why: "a force-pushed (rewound) remote branch is taken without --accept-rewind: HOME loses the dropped commits",
	},
	{
		ID: "sync/unrelated-remote-accepted", Kind: "remove-guard", File: "pkg/chezmoisync/fetch.go",
		Find:    `if unrelated || len(a.base) == 1 &&`,
		Replace: `if false && unrelated && len(a.base) == 1 &&`,
		Pkgs:    syncPkg, Run: "TestUnrelatedRemoteIsRefused|TestRepointedRemoteFetchedByJJIsUnrelatedNotRewound",
		Why: "a remote sharing no history (re-pointed origin) is rebased onto and pushed to",
	},
	{
		ID: "sync/no-run-marker", Kind: "skip-step", File: "pkg/chezmoisync/engine.go",
		Find:    `if p.marks || (p.changes && r.marker.active) {`,
		Replace: `if p.changes && r.marker.active {`,
		Pkgs:    syncPkg, Run: "TestRunMarkerRecordsStepReached|TestInterruptedRun",
		Why: "the run marker is never written, so a killed run is not repaired by the next one",
	},
	{
		ID: "sync/failure-not-recorded", Kind: "skip-step", File: "pkg/chezmoisync/main.go",
		Find:    `syncstate.Save(app.StateDir, rec); err != nil {`,
		Replace: `func() error { if runErr != nil { return nil }; return syncstate.Save(app.StateDir, rec) }(); err != nil {`,
		Pkgs:    syncPkg, Run: "TestDryRunAfterEveryFailureChangesNothing/failed-script",
		Why: "a failed run leaves the previous success record in place: chezmoi-status says all is well",
	},
	{
		ID: "sync/no-crash-recovery", Kind: "skip-step", File: "pkg/chezmoisync/recover.go",
		Find:    `case errors.Is(err, fs.ErrNotExist):`,
		Replace: `case true || errors.Is(err, fs.ErrNotExist):`,
		Pkgs:    []string{"./internal/faults"}, Run: "TestKillNine/during-rebase",
		Why: "a run killed inside jj rebase is not repaired: the next run publishes a revert of what came in, or fails on a stale working copy",
	},
	{
		ID: "sync/index-hides-waiting-edits", Kind: "remove-guard", File: "pkg/chezmoisync/index.go",
		Find:    `case len(r.rec.Waiting) > 0 || len(r.rec.Externals) > 0 ||`,
		Replace: `case len(r.rec.Externals) > 0 ||`,
		Pkgs:    syncPkg, Run: "TestExactDirectoryKeepsNewFile|TestTemplateEditsAreReportedAndKept|TestOverlappingHomeAndSourceEditsAreBothKept",
		Why: "the stat index is written after a run that left edits waiting, so the next no-op run skips them and reports success",
	},
	{
		// MkdirAll is the habit; it also takes a directory an earlier run
		// of the same second made, and the copy then fails (or worse).
		ID: "sync/backup-dir-reused", Kind: "wrong-value", File: "pkg/chezmoisync/apply.go",
		Find:    "\t\terr := os.Mkdir(p, 0o700)\n",
		Replace: "\t\terr := os.MkdirAll(p, 0o700)\n",
		Pkgs:    syncPkg, Run: "TestBackupsOfRunsInOneSecondNeverCollide",
		Why: "two runs in one second share a backup directory: the second cannot copy the home file it replaces and fails",
	},
	{
		ID: "sync/rewound-bookmark-moved", Kind: "wrong-value", File: "pkg/chezmoisync/publish.go",
		Find:    "kept, err := r.newBookmark(ctx, r.rewindBookmark(), acc)",
		Replace: "kept, err := r.rewindBookmark(), r.jj.BookmarkSet(ctx, r.rewindBookmark(), acc)",
		Pkgs:    syncPkg, Run: "TestRewoundRemoteIsRefusedUntilAccepted",
		Why: "an accepted rewind moves the rewound/ bookmark an earlier one of the same second set: what it kept is left to the op log",
	},
	{
		ID: "sync/live-push-lock-removed", Kind: "wrong-value", File: "pkg/reflock/reflock.go",
		Find:    "\tWatch = 10 * time.Second\n",
		Replace: "\tWatch = time.Duration(0)\n",
		Pkgs:    syncPkg, Run: "TestLivePushLockIsNeverRemoved",
		Why: "a local remote's ref lock is removed at first sight, under another host's live push",
	},
	{
		ID: "sync/running-push-not-seen", Kind: "remove-guard", File: "pkg/reflock/reflock.go",
		Find:    "func receivePackIn(repoDir string) (int, bool) {\n",
		Replace: "func receivePackIn(repoDir string) (int, bool) {\n\tif repoDir != \"\" {\n\t\treturn 0, false\n\t}\n",
		Pkgs:    syncPkg, Run: "TestSlowLivePushKeepsItsLock",
		Why: "a push that holds the remote's lock longer than the watch (a slow hook) is taken for a killed one: its lock is removed and a commit vanishes from the branch",
	},
	{
		ID: "sync/empty-undo-to-syncs", Kind: "remove-guard", File: "pkg/chezmoisync/mode.go",
		Find:    "\tif strings.TrimSpace(s) == \"\" {\n\t\treturn fmt.Errorf(\"an empty value names no commit",
		Replace: "\tif strings.TrimSpace(s) == \"\\x00\" {\n\t\treturn fmt.Errorf(\"an empty value names no commit",
		Pkgs:    syncPkg, Run: "TestUndoToRootIsRefused",
		Why: "--undo-to \"\" (a script's empty variable) runs a plain sync: home edits are captured and published",
	},
	{
		ID: "sync/marker-owned-by-pid", Kind: "wrong-value", File: "pkg/chezmoisync/recover.go",
		Find:    "\tif !r.marker.own {\n",
		Replace: "\tif !r.marker.active || r.marker.m.PID != os.Getpid() {\n",
		Pkgs:    syncPkg, Run: "TestTakenOverMarkerIsReplacedWhateverThePid",
		Why: "a run that took over an interrupted run of the same pid (pid namespaces) keeps that run's op_before and parent_before as its own",
	},
	{
		ID: "statindex/racy-entry-trusted", Kind: "remove-guard", File: "pkg/statindex/statindex.go",
		Find:    `if old.Hash == "" || Hash(cur) != old.Hash {`,
		Replace: `if old.Hash == "" {`,
		Pkgs:    []string{"./pkg/statindex"}, Run: "TestCheckAgreesWithChanged", Quick: true,
		Why: "an edit in the same second as the index (same size and mtime) is not compared by content and goes unsynced",
	},
	{
		ID: "statindex/one-second-racy", Kind: "wrong-value", File: "pkg/statindex/statindex.go",
		Find:    "const Racy = 3 * time.Second",
		Replace: "const Racy = time.Second",
		Pkgs:    []string{"./pkg/statindex"}, Run: "TestCoarseTimestampsAreRacy",
		Why: "on a file system that keeps whole seconds (or FAT's 2 s), an edit just after the index keeps size and stamps and goes unsynced",
	},
	{
		ID: "statindex/recheck-adopts-edit", Kind: "remove-guard", File: "pkg/statindex/statindex.go",
		Find:    "\tif changed := ix.Changed(snap); changed != \"\" {\n\t\treturn changed, nil\n\t}\n",
		Replace: "",
		Pkgs:    []string{"./pkg/statindex"}, Run: "TestRecheckNeverAdoptsAnUnseenEdit",
		Why: "an edit between a no-op run's check and its new snapshot is written into the index unseen and never synced",
	},
	{
		ID: "statindex/ctime-ignored", Kind: "wrong-value", File: "pkg/statindex/statindex.go",
		Find:    "\t\te.Ctime = sys.Ctim.Sec*int64(time.Second) + sys.Ctim.Nsec\n",
		Replace: "",
		Pkgs:    []string{"./pkg/statindex"}, Run: "TestRestoredMtimeIsSeenByCtime",
		Why: "a change that restores the mtime (cp -p, touch -r, an editor keeping times) is not seen",
	},
	{
		ID: "chezmoi/template-captured", Kind: "remove-guard", File: "pkg/chezmoi/classify.go",
		Find:    "\tcase a.Template:\n\t\tc.wait(e.Path, WaitTemplate)\n",
		Replace: "",
		Pkgs:    []string{"./pkg/chezmoi"}, Run: "TestClassify", Quick: true,
		Why: "the rendered output of a template is re-added over the template source",
	},
	{
		ID: "chezmoi/foreign-file-not-backed-up", Kind: "remove-guard", File: "pkg/chezmoi/classify.go",
		Find:    `if _, wrote := in.Written[target]; wrote && in.Written != nil {`,
		Replace: `if in.Written != nil {`,
		Pkgs:    []string{"./pkg/chezmoi", "./pkg/chezmoisync"}, Run: "TestClassify|TestFirstRunBacksUpExistingFiles",
		Why: "a home file chezmoi never wrote is replaced by apply without a copy",
	},
	{
		ID: "jj/push-race-is-a-failure", Kind: "wrong-value", File: "pkg/jj/parse.go",
		// jj 0.46 reports a lost push race as "unexpectedly moved on the
		// remote: refs/heads/main (reason: stale info)": each of the two
		// strings alone still catches it (removing one was an equivalent
		// mutant), so the mutant drops both.
		Find:    "strings.Contains(s, \"stale info\"), strings.Contains(s, \"fetch first\"),\n\t\tstrings.Contains(s, \"non-fast-forward\"), strings.Contains(s, \"[rejected]\"),\n\t\tstrings.Contains(s, \"unexpectedly moved on the remote\"),",
		Replace: "strings.Contains(s, \"fetch first\"),\n\t\tstrings.Contains(s, \"non-fast-forward\"), strings.Contains(s, \"[rejected]\"),",
		Pkgs:    []string{"./pkg/jj", "./pkg/chezmoisync"}, Run: "TestClassifyRemoteError|TestPushRaceIsRetried",
		Why: "jj's push race (\"unexpectedly moved on the remote ... stale info\") is not recognised: the sync fails instead of fetching, rebasing and pushing again",
	},
	{
		ID: "showconflicts/recipe-replays-one-commit", Kind: "wrong-value", File: "pkg/showconflicts/scan.go",
		Find:    `"jj rebase -b @ -d " + upstream`,
		Replace: `"jj rebase -r @ -d " + upstream`,
		Pkgs:    []string{"./pkg/showconflicts"}, Run: "TestRecipeResolves|TestDocsShowTheRecipe",
		Why: "the printed recipe replays only the working copy, leaving the parked commits behind",
	},
	{
		ID: "status/stale-check-inverted", Kind: "invert-guard", File: "pkg/chezmoistatus/check.go",
		Find:    `case in.maxAge > 0 && in.now.Sub(*rep.LastSuccess) > in.maxAge:`,
		Replace: `case in.maxAge > 0 && in.now.Sub(*rep.LastSuccess) < in.maxAge:`,
		Pkgs:    []string{"./pkg/chezmoistatus"}, Run: "TestEvaluatePrecedence", Quick: true,
		Why: "chezmoi-status --check --max-age calls a recent sync stale and an old one healthy",
	},
	{
		ID: "status/waiting-is-a-failure", Kind: "wrong-value", File: "pkg/chezmoistatus/check.go",
		Find:    `case last != "" && last != syncstate.Success && last != syncstate.EditsWaiting:`,
		Replace: `case last != "" && last != syncstate.Success:`,
		Pkgs:    []string{"./pkg/chezmoistatus"}, Run: "TestEvaluatePrecedence",
		Why: "a sync that succeeded with edits waiting is reported as sync-failed",
	},
}

// stateMutants: pkg/state, pkg/syncstate, pkg/history, pkg/metrics.
var stateMutants = []Mutant{
	{
		ID: "state/temp-not-fsynced", Kind: "no-fsync", File: "pkg/state/atomic.go",
		Find:    `if err = tmp.Sync(); err != nil {`,
		Replace: `if err = error(nil); err != nil {`,
		Pkgs:    []string{"./pkg/state"}, Run: "TestWriteFileIsDurable", Quick: true,
		Why: "a state file is renamed into place before its content is on disk: a crash can leave it empty",
	},
	{
		ID: "state/dir-not-fsynced", Kind: "no-fsync", File: "pkg/state/atomic.go",
		Find:    "\t\tremoveStaleTemps(h.fd, f.Name)\n\t}\n\treturn h.Sync()\n",
		Replace: "\t\tremoveStaleTemps(h.fd, f.Name)\n\t}\n\treturn nil\n",
		Pkgs:    []string{"./pkg/state"}, Run: "TestWriteFileIsDurable", Quick: true,
		Why: "the rename is not made durable (no directory fsync): after a crash the old record comes back",
	},
	{
		ID: "state/rename-over-planted-link", Kind: "remove-guard", File: "pkg/state/atomic.go",
		Find:    "\t\tif err := h.checkExisting(f.Name); err != nil {\n\t\t\treturn err\n\t\t}\n",
		Replace: "",
		Pkgs:    []string{"./pkg/state", "./pkg/syncstate"}, Run: "TestUnsafeStateIsRefused|TestSaveRefusesPlantedLinks", Quick: true,
		Why: "a link or another user's file planted at a state file's name is silently replaced",
	},
	{
		ID: "syncstate/last-success-forgotten", Kind: "skip-step", File: "pkg/syncstate/syncstate.go",
		Find:    "\t\t\tr.LastSuccess = prev.LastSuccess\n",
		Replace: "\t\t\t_ = prev\n",
		Pkgs:    []string{"./pkg/syncstate"},
		Why:     "a failed run forgets when the last success was: chezmoi-status --max-age and the metrics say \"never\"",
	},
	{
		ID: "syncstate/history-keeps-one-more", Kind: "off-by-one", File: "pkg/syncstate/syncstate.go",
		Find:    `keep < HistoryKeep &&`,
		Replace: `keep <= HistoryKeep &&`,
		Pkgs:    []string{"./pkg/syncstate"}, Run: "TestHistoryTrimKeepsHistoryKeepRecords", Quick: true,
		Why: "the sync history keeps HistoryKeep+1 records",
	},
	{
		ID: "history/append-not-fsynced", Kind: "no-fsync", File: "pkg/history/history.go",
		Find:    "\treturn f.Sync()\n",
		Replace: "\treturn nil\n",
		Pkgs:    []string{"./pkg/history"}, Run: "TestAppendIsDurable", Quick: true,
		Why: "a build record is not on disk when rebuild-smart says it is recorded",
	},
	{
		ID: "history/torn-line-kept", Kind: "skip-step", File: "pkg/history/history.go",
		Find:    "\tif err := dropTornTail(f); err != nil {\n\t\treturn fmt.Errorf(\"history %s: %w\", path, err)\n\t}\n",
		Replace: "",
		Pkgs:    []string{"./pkg/history"},
		Why:     "after a crash mid-append the next record is glued to the torn line and the history no longer loads",
	},
	{
		ID: "history/declined-is-good", Kind: "wrong-value", File: "pkg/history/history.go",
		Find:    `|| e.Outcome == OutcomeActivated`,
		Replace: `|| e.Outcome == OutcomeActivated || e.Outcome == OutcomeDeclined`,
		Pkgs:    []string{"./pkg/history", "./pkg/rollback"}, Run: "TestSelect|TestBuilds|TestAppendLoad|TestSuccessfulOutcomes",
		Why: "a build answered \"no\" at --ask counts as one rebuild-rollback may go back to",
	},
	{
		ID: "metrics/label-quote-unescaped", Kind: "wrong-value", File: "pkg/metrics/metrics.go",
		Find:    "return strings.NewReplacer(`\\`, `\\\\`, \"\\n\", `\\n`, `\"`, `\\\"`).Replace(s)",
		Replace: "return strings.NewReplacer(`\\`, `\\\\`, \"\\n\", `\\n`).Replace(s)",
		Pkgs:    []string{"./pkg/metrics"},
		Why:     "a host name with a quote breaks the metrics file and node_exporter drops every metric",
	},
}

// rollbackMutants: rebuild-rollback (pkg/rollback, pkg/reposave).
var rollbackMutants = []Mutant{
	{
		ID: "rollback/dry-run-rolls-back", Kind: "remove-guard", File: "pkg/rollback/main.go",
		Find:    "\tif app.DryRun {\n\t\treturn finishDryRun(app, p)\n\t}\n",
		Replace: "",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestDryRunChangesNothing",
		Why: "rebuild-rollback --dry-run switches the system and moves the repository",
	},
	{
		ID: "rollback/selects-current", Kind: "off-by-one", File: "pkg/rollback/select.go",
		Find:    `x.Generation >= limit`,
		Replace: `x.Generation > limit`,
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestSelect", Quick: true,
		Why: "\"back to the previous build\" picks the generation that is running",
	},
	{
		ID: "rollback/failed-build-selectable", Kind: "remove-guard", File: "pkg/rollback/select.go",
		Find:    "\t\tif !e.Successful() {\n\t\t\tcontinue\n\t\t}\n",
		Replace: "",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestSelect|TestBuilds|TestCurrent",
		Why: "a failed build becomes a rollback target",
	},
	{
		ID: "rollback/clean-deletes-booted", Kind: "remove-guard", File: "pkg/rollback/retention.go",
		Find:    "\t\tif f.Booted != \"\" && g.Toplevel == f.Booted {\n\t\t\tkeep(ReasonBooted)\n\t\t}\n",
		Replace: "",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestRetention", Quick: true,
		Why: "rebuild-rollback --clean deletes the generation the machine booted",
	},
	{
		ID: "rollback/keeps-one-fewer", Kind: "off-by-one", File: "pkg/rollback/retention.go",
		Find:    `if newest := len(gens) - i; newest <= r.Keep {`,
		Replace: `if newest := len(gens) - i; newest < r.Keep {`,
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestRetention|TestClean",
		Why: "--keep N keeps N-1 generations",
	},
	{
		ID: "rollback/not-recorded", Kind: "skip-step", File: "pkg/rollback/main.go",
		Find:    `err := history.Append(app.StateDir, c.historyEntry(app, p))`,
		Replace: `err := error(nil)`,
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestRecord$|TestTwoRollbacksInARow",
		Why: "a rollback is not recorded: the next rollback goes back to the wrong build",
	},
	{
		ID: "rollback/partial-not-recorded", Kind: "skip-step", File: "pkg/rollback/main.go",
		Find:    "\t\tc.recordPartial(app, p)\n",
		Replace: "",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestMergeStartedDuringSwitchIsLeftAlone",
		Why: "a rollback that switched the system and then failed on the repository leaves no history entry: the history does not say which generation runs",
	},
	{
		ID: "reposave/untracked-not-saved", Kind: "wrong-value", File: "pkg/reposave/git.go",
		Find:    `"add", "--all", "--", "."`,
		Replace: `"add", "--update", "--", "."`,
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestRollbackGitDirtyLosesNothing|TestGitAwkwardWorkLosesNothing",
		Why: "the save commit leaves untracked files out, and the move then deletes them (git clean)",
	},
	{
		ID: "reposave/merge-in-progress-ignored", Kind: "remove-guard", File: "pkg/reposave/git.go",
		Find:    "\tif err := st.Check(r.Root); err != nil {\n\t\treturn nil, err\n\t}\n\tout := &Result{Kind: Git",
		Replace: "\tout := &Result{Kind: Git",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestMergeInProgressChangesNothing|TestMergeStartedDuringSwitchIsLeftAlone",
		Why: "the repository is moved in the middle of a merge started after the plan checked it (during the system switch)",
	},
	{
		ID: "reposave/staged-version-lost", Kind: "skip-step", File: "pkg/reposave/git.go",
		Find:    "\t\t\t\tparents = append(parents, \"-p\", res)\n",
		Replace: "\t\t\t\t_ = res\n",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestGitAwkwardWorkLosesNothing|TestRollbackGitDirtyLosesNothing",
		Why: "a staged version later edited again is not kept (git stash would keep it)",
	},
	{
		ID: "reposave/detached-head-lost", Kind: "remove-guard", File: "pkg/reposave/git.go",
		Find:    `case st.Unreachable && st.Head != target:`,
		Replace: `case false && st.Unreachable && st.Head != target:`,
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestGitAwkwardWorkLosesNothing|TestDetachedCommitsAreKeptOnABranch",
		Why: "commits on a detached HEAD that no branch holds become unreachable when the rollback moves HEAD",
	},
	{
		ID: "reposave/jj-not-snapshotted", Kind: "skip-step", File: "pkg/reposave/jj.go",
		Find:    "\tst, err := r.inspectJJ(ctx, true)\n",
		Replace: "\tst, err := r.inspectJJ(ctx, false)\n",
		Pkgs:    []string{"./pkg/rollback"}, Run: "TestRollbackJJDirtyLosesNothing",
		Why: "the jj working copy is read without a snapshot: edits made since the last jj command are not reported as saved",
	},
}

// rebuildMutants: rebuild-smart (pkg/rebuildsmart, pkg/nixsys, pkg/vcs,
// pkg/secretscan, pkg/runner).
var rebuildMutants = []Mutant{
	{
		ID: "rebuild/failed-push-pushed-true", Kind: "swallow-error", File: "pkg/rebuildsmart/commit.go",
		Find:    `if err := r.VCS.Repo.Push(ctx); err != nil {`,
		Replace: `if err := r.VCS.Repo.Push(ctx); err != nil && ctx.Err() != nil {`,
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestPushRejectedWhileOnline",
		Why: "issue 17's second survivor: rebuild-smart ignores a failed push and reports pushed: true",
	},
	{
		ID: "vcs/git-push-error-swallowed", Kind: "swallow-error", File: "pkg/vcs/git.go",
		Find:    "\t_, err = g.run(ctx, true, \"git\", \"push\", \"--quiet\", g.remote, \"HEAD:refs/heads/\"+branch)\n\treturn err\n",
		Replace: "\t_, _ = g.run(ctx, true, \"git\", \"push\", \"--quiet\", g.remote, \"HEAD:refs/heads/\"+branch)\n\treturn nil\n",
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestPushRejectedWhileOnline",
		Why: "git push's failure is dropped in the repository layer",
	},
	{
		ID: "vcs/jj-push-error-swallowed", Kind: "swallow-error", File: "pkg/vcs/jj.go",
		Find:    "\t_, err = j.jj(ctx, true, \"git\", \"push\", \"--remote\", j.remote, \"-b\", b)\n\treturn err\n",
		Replace: "\t_, _ = j.jj(ctx, true, \"git\", \"push\", \"--remote\", j.remote, \"-b\", b)\n\treturn nil\n",
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestJJ|TestJJPushRejectedWhileOnline",
		Why: "jj git push's failure is dropped: rebuild-smart on a jj repository says pushed when it did not",
	},
	{
		ID: "vcs/dry-run-pushes", Kind: "drop-mutates", File: "pkg/vcs/git.go",
		Find:    `g.run(ctx, true, "git", "push"`,
		Replace: `g.run(ctx, false, "git", "push"`,
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestDryRunChangesNothing|TestDryRunPublishesNothing",
		Why: "git push lost its Mutates tag: rebuild-smart --dry-run publishes the local commits",
	},
	{
		ID: "vcs/autostash-conflict", Kind: "remove-guard", File: "pkg/vcs/git.go",
		Find:    "\tif len(overlap) > 0 {\n",
		Replace: "\tif len(overlap) > 0 && false {\n",
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestUpstreamTouchesUncommittedFile",
		Why: "an uncommitted edit to a file upstream changed is rebased over: markers in the work tree, the edit in the stash",
	},
	{
		ID: "vcs/jj-conflict-kept", Kind: "skip-step", File: "pkg/vcs/jj.go",
		Find:    `if _, err := j.jj(ctx, true, "rebase", "-s", "roots("+trunk+"..@)", "-d", bases[0]); err != nil {`,
		Replace: `if _, err := j.jj(ctx, false, "log", "-r", bases[0]); err != nil {`,
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestJJ",
		Why: "a conflicting jj rebase of the flake repository is left in place and built",
	},
	{
		ID: "nixsys/switch-not-mutating", Kind: "drop-mutates", File: "pkg/nixsys/nixsys.go",
		Find:    `return runner.Cmd{Name: name, Args: args, Mutates: true}`,
		Replace: `return runner.Cmd{Name: name, Args: args}`,
		Pkgs:    []string{"./pkg/rebuildsmart", "./pkg/rollback"}, Run: "TestDryRunChangesNothing|TestDryRunPlansActivation",
		Why: "switch-to-configuration and nix-env lost their Mutates tag: --dry-run switches the system",
	},
	{
		ID: "nixsys/units-failed-code", Kind: "wrong-value", File: "pkg/nixsys/nixsys.go",
		Find:    `return errors.As(err, &ee) && ee.Code == ExitUnitsFailed`,
		Replace: `return errors.As(err, &ee) && ee.Code == ExitUnitsFailed+1`,
		Pkgs:    []string{"./pkg/nixsys", "./pkg/rebuildsmart"}, Run: "TestSwitchAndActivate|TestSudoUnitsFailed",
		Why: "switch-to-configuration's exit 4 (switched, units failed) is taken for a failed switch",
	},
	{
		ID: "nixsys/boot-without-profile", Kind: "skip-step", File: "pkg/nixsys/nixsys.go",
		Find:    `if action == ActionSwitch || action == ActionBoot {`,
		Replace: `if action == ActionSwitch {`,
		Pkgs:    []string{"./pkg/nixsys", "./pkg/rebuildsmart"}, Run: "TestSwitchAndActivate|TestModes",
		Why: "--boot installs the boot entry without making the build a generation of the system profile",
	},
	{
		ID: "nixsys/one-generation-left-ok", Kind: "off-by-one", File: "pkg/nixsys/delete.go",
		Find:    "\tif len(left) > 0 {\n",
		Replace: "\tif len(left) > 1 {\n",
		Pkgs:    []string{"./pkg/nixsys"}, Run: "TestDeleteGenerationsChecksTheResult", Quick: true,
		Why: "a generation nix-env did not delete is reported as deleted",
	},
	{
		ID: "rebuild/secret-exposed-to-nix", Kind: "skip-step", File: "pkg/rebuildsmart/rebuild.go",
		Find:    "\t\t\tr.withhold(fnd, false)\n\t\t\tcontinue\n",
		Replace: "\t\t\tr.withhold(fnd, false)\n",
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestSecretLookingFilesAreLeftAlone",
		Why: "a new file that looks like a secret is added for nix (world-readable store) and committed",
	},
	{
		ID: "secretscan/keystore-not-a-key", Kind: "wrong-value", File: "pkg/secretscan/secretscan.go",
		Find:    `|key|p12|pfx|jks|`,
		Replace: `|key|pfx|jks|`,
		Pkgs:    []string{"./pkg/secretscan"},
		Why:     "a PKCS#12 keystore (binary, so no content rule sees it) is not recognised as a secret",
	},
	{
		ID: "rebuild/ask-no-activates", Kind: "invert-guard", File: "pkg/rebuildsmart/activate.go",
		Find:    `if r.Cmd.Ask && !r.confirm(`,
		Replace: `if r.Cmd.Ask && r.confirm(`,
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestAsk",
		Why: "answering no at the --ask prompt activates the system",
	},
	{
		ID: "rebuild/confirm-over-old-connection", Kind: "remove-guard", File: "pkg/rebuildsmart/confirm.go",
		Find:    "\t\tconfirm := canConfirm && seenActive\n",
		Replace: "\t\tconfirm := canConfirm\n",
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestConfirmNeedsAConnectionMadeAfterActivation",
		Why: "a poll connection made while the new system activated confirms it after it cut the network: the target keeps a configuration nobody can reach",
	},
	{
		ID: "rebuild/commit-after-failed-switch", Kind: "remove-guard", File: "pkg/rebuildsmart/commit.go",
		Find:    `case !r.Outcome.activated() && r.Outcome != OutcomeNothingToSwitch && !r.App.DryRun:`,
		Replace: `case false:`,
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestBuildFailureLeavesRepository|TestSwitchFailureRollback|TestAskOnTerminal",
		Why: "a build that failed or was declined is committed and pushed as if it worked",
	},
	{
		ID: "rebuild/dry-run-syncs-dotfiles", Kind: "drop-mutates", File: "pkg/rebuildsmart/dotfiles.go",
		Find:    "\t\tcmd.Args = append(cmd.Args, \"--dry-run\")\n",
		Replace: "",
		Pkgs:    []string{"./pkg/rebuildsmart"}, Run: "TestDryRunChangesNothing|TestRealChezmoiSync",
		Why: "rebuild-smart --dry-run runs chezmoi-sync for real",
	},
	{
		ID: "runner/dry-run-executes", Kind: "skip-step", File: "pkg/runner/dryrun.go",
		Find:    "\treturn Result{}, nil\n",
		Replace: "\treturn d.Inner.Run(ctx, c)\n",
		Pkgs:    []string{"./pkg/runner"}, Run: "TestDryRun", Quick: true,
		Why: "the dry-run runner prints a mutating command and runs it anyway",
	},
	{
		ID: "runner/no-process-group", Kind: "wrong-value", File: "pkg/runner/runner.go",
		Find:    "cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}",
		Replace: "cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: false}",
		Pkgs:    []string{"./pkg/runner"}, Run: "TestTimeoutKillsProcessGroup",
		Why: "a cancelled command's children (git under jj, builders under nh) outlive it",
	},
}

var hookPkg = []string{"./internal/hooktest"}

// hookMutants: hooks/nixdots-hook and hooks/install (POSIX sh).
var hookMutants = []Mutant{
	{
		ID: "hook/push-runs-action", Kind: "wrong-value", File: "hooks/nixdots-hook",
		Find:    "\tcase $sub in fetch | \"\") ;; *) exit $rc ;; esac\n",
		Replace: "\tcase $sub in fetch | push | \"\") ;; *) exit $rc ;; esac\n",
		Pkgs:    hookPkg, Run: "TestGitFetchTriggersActionOnce",
		Why: "a push (which moves refs/remotes/ too) runs the incoming-changes action",
	},
	{
		ID: "hook/runs-inside-suite", Kind: "remove-guard", File: "hooks/nixdots-hook",
		Find:    "in_suite_run && exit $rc\n",
		Replace: "\n",
		Pkgs:    hookPkg, Run: "TestNoActionInsideSuiteRuns|TestRealChezmoiSyncDoesNotTriggerHook",
		Why: "chezmoi-sync's own fetch triggers the hook, which starts another chezmoi-sync",
	},
	{
		ID: "hook/chained-veto-lost", Kind: "swallow-error", File: "hooks/nixdots-hook",
		Find:    "\t\tprintf '%s' \"$input\" | \"$chained\" \"$@\"\n\t\trc=$?\n",
		Replace: "\t\tprintf '%s' \"$input\" | \"$chained\" \"$@\"\n\t\trc=0\n",
		Pkgs:    hookPkg, Run: "TestInstallerChainsAndUninstallRestores",
		Why: "the hook it chained to can no longer veto a ref transaction",
	},
	{
		ID: "hook/action-blocks-fetch", Kind: "wrong-value", File: "hooks/nixdots-hook",
		Find:    "\tcmd=$action\n\t[ -n \"$async\" ] || async=true\n",
		Replace: "\tcmd=$action\n\t[ -n \"$async\" ] || async=false\n",
		Pkgs:    hookPkg, Run: "TestAsyncActionDoesNotBlockFetch",
		Why: "a custom action runs in the foreground by default and the fetch waits for it",
	},
	{
		ID: "install/overwrites-existing-hook", Kind: "remove-guard", File: "hooks/install",
		Find:    "\t\telif exists \"$target\"; then\n\t\t\tif exists \"$saved\"; then",
		Replace: "\t\telif false; then\n\t\t\tif exists \"$saved\"; then",
		Pkgs:    hookPkg, Run: "TestInstallerChainsAndUninstallRestores",
		Why: "installing replaces the user's existing hook instead of chaining to it",
	},
	{
		ID: "install/uninstall-removes-foreign-hook", Kind: "wrong-value", File: "hooks/install",
		Find:    "\t\tif ours \"$target\"; then\n\t\t\trm -f \"$target\" ||",
		Replace: "\t\tif exists \"$target\"; then\n\t\t\trm -f \"$target\" ||",
		Pkgs:    hookPkg, Run: "TestInstallerChainsAndUninstallRestores",
		Why: "--uninstall deletes a hook that is not ours",
	},
}
