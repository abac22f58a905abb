package rebuildsmart

import "github.com/nixdots/nixdots/pkg/history"

// OutcomeWord is the run's outcome: the --json "outcome", the hooks'
// REBUILD_SMART_OUTCOME, the notification's status and the metrics label.
// Documented in docs/rebuild-smart.md; add words, never rename them.
type OutcomeWord string

// The outcome words. The build outcomes are the history's words.
const (
	OutcomeNone            OutcomeWord = "" // no build was attempted (yet)
	OutcomeSuccess         OutcomeWord = history.OutcomeSuccess
	OutcomeNothingToSwitch OutcomeWord = "nothing-to-switch"
	OutcomeUnitsFailed     OutcomeWord = history.OutcomeUnitsFailed
	OutcomeFailed          OutcomeWord = history.OutcomeFailed
	OutcomeDeclined        OutcomeWord = history.OutcomeDeclined
	// OutcomeChecksFailed is the build's word when it was activated, failed
	// its post-checks and was rolled back (--rollback-on-failure).
	OutcomeChecksFailed OutcomeWord = history.OutcomeChecksFailed
	// OutcomeRolledBack is the run's word (exit 13) when the new system
	// was put back: failed post-checks or activation with
	// --rollback-on-failure, or a remote activation never confirmed.
	OutcomeRolledBack  OutcomeWord = "rolled-back"
	OutcomeVetoed      OutcomeWord = "vetoed"
	OutcomeBadInput    OutcomeWord = "bad-input"
	OutcomeLocked      OutcomeWord = "locked"
	OutcomeInterrupted OutcomeWord = "interrupted"
	OutcomeDryRun      OutcomeWord = "dry-run"
)

// recorded reports whether a build with this outcome gets a history line:
// every attempt that ran the build (an interrupted one counts as failed).
func (o OutcomeWord) recorded() bool {
	switch o {
	case OutcomeSuccess, OutcomeUnitsFailed, OutcomeFailed, OutcomeDeclined, OutcomeChecksFailed:
		return true
	}
	return false
}

// activated reports whether the run changed the running or booting system
// (and it stayed changed: a checks-failed build was put back).
func (o OutcomeWord) activated() bool { return o == OutcomeSuccess || o == OutcomeUnitsFailed }

// madeGeneration reports whether a build with this outcome made the
// generation the run noted (a failed activation after the profile moved
// did; a declined or failed build did not).
func (o OutcomeWord) madeGeneration() bool {
	return o.activated() || o == OutcomeFailed || o == OutcomeChecksFailed
}
