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
	OutcomeVetoed          OutcomeWord = "vetoed"
	OutcomeBadInput        OutcomeWord = "bad-input"
	OutcomeLocked          OutcomeWord = "locked"
	OutcomeInterrupted     OutcomeWord = "interrupted"
	OutcomeDryRun          OutcomeWord = "dry-run"
)

// recorded reports whether a build with this outcome gets a history line:
// every attempt that ran the build (an interrupted one counts as failed).
func (o OutcomeWord) recorded() bool {
	switch o {
	case OutcomeSuccess, OutcomeUnitsFailed, OutcomeFailed, OutcomeDeclined:
		return true
	}
	return false
}

// activated reports whether the run changed the running or booting system.
func (o OutcomeWord) activated() bool { return o == OutcomeSuccess || o == OutcomeUnitsFailed }
