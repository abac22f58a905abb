package rollback

import (
	"context"
	"time"
)

// The dotfiles side of a rollback: the seam for `rebuild-rollback
// --with-dotfiles` (issue 16), which needs chezmoi-sync's resolve/undo
// machinery (issue 13) and is not built yet.
//
// What exists: every rebuild-smart record holds the chezmoi source commit
// chezmoi-sync had applied when the system was built (history.Entry's
// DotfilesCommit and DotfilesSource; Build carries them; --list --json and
// a rollback's --json "target" show it). What is missing is the move
// itself. When issue 13 lands, a DotfilesMover built on its undo machinery
// plugs in here:
//
//   - Command gets `--with-dotfiles` (a per-run flag, no config key);
//   - plan() makes a dotfilesStep from Build.DotfilesCommit/DotfilesSource
//     (no commit recorded: a warning, as for a build without a flake
//     commit), its Plan line printed with the others and checked before
//     anything runs (a home edit made since is found here, not midway);
//   - run() runs it after the repository step; a failure says what the
//     system and repository steps already did, as the repository step's
//     does;
//   - historyEntry records the dotfiles commit moved to.
//
// The mover must never overwrite a home edit made since the build: it
// backs the edit up, reports where, and leaves the file as it is.

// DotfilesMove is what moving the home dotfiles back did.
type DotfilesMove struct {
	Source   string   `json:"source"` // the chezmoi source directory
	From     string   `json:"from"`   // source commits
	To       string   `json:"to"`
	Applied  []string `json:"applied"`             // home files set back to the build's version
	Kept     []string `json:"kept,omitempty"`      // home files edited since: left as they are
	BackedUp []string `json:"backed_up,omitempty"` // where each kept edit's copy went
}

// DotfilesMover moves a home's dotfiles to the chezmoi source commit a
// build was made with. Implemented by issue 13's undo machinery.
type DotfilesMover interface {
	// Plan says what Move would do, changing nothing; it refuses a state
	// it does not understand before any step of the rollback runs.
	Plan(ctx context.Context, source, commit string) (string, error)
	// Move does it.
	Move(ctx context.Context, source, commit string, now time.Time) (*DotfilesMove, error)
}
