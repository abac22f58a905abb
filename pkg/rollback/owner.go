package rollback

import (
	"fmt"
	"os"
	"syscall"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/reposave"
)

// repoSource says where the flake repository was found: given (--flake,
// the environment, the config file), the history, or the current
// directory.
type repoSource struct {
	ref, from string
	// histDir is the state directory whose history named the repository
	// ("" when it was not the history).
	histDir string
}

// foreignRepoError refuses to move a repository the user running does not
// own: root moving a user's repository as root would leave root-owned
// files in it (git's index and HEAD, jj's working-copy state and
// operations) and break the user's next git or jj command. It is reported
// once the target is known, so the line can say what to run as the owner.
type foreignRepoError struct {
	root         string
	owner, me    uint32
	namedBy      string // the history that named it, when its owner is not the repository's
	namedByOwner uint32
}

func (e *foreignRepoError) Error() string { return e.message("", false) }

// message is the one line: why, and what to run instead. how is the
// target as flags (--to 2), repoOnly whether the run asked for the
// repository alone.
func (e *foreignRepoError) message(how string, repoOnly bool) string {
	if e.namedBy != "" {
		return fmt.Sprintf("the repository %s is named by the rebuild history %s of %s, who does not own it: a repository is not moved on another user's word (nothing was changed); pass --flake %s to move it", e.root, histPath(e.namedBy), reposave.UserName(e.namedByOwner), e.root)
	}
	run := "rebuild-rollback --repo-only"
	if how != "" {
		run += " " + how
	}
	also := ", and --system-only here to switch the system alone"
	if repoOnly {
		also = ""
	}
	return fmt.Sprintf("the repository %s belongs to %s, not to %s: rebuild-rollback moves only a repository of the user running it (nothing was changed); run `%s` as %s%s", e.root, reposave.UserName(e.owner), reposave.UserName(e.me), run, reposave.UserName(e.owner), also)
}

// ExitCode implements exitcode.Coder: bad input, nothing changed.
func (e *foreignRepoError) ExitCode() int { return exitcode.Usage }

// mayMove checks, before any git or jj command runs in it (a read as root
// can write too: jj's index), that this run may move repo: the repository
// belongs, whole, to the user running; and when another user's history
// named it (root reading a user's state directory), to that user too, so
// a forged record cannot point root at a repository of root's or anyone
// else's.
func mayMove(repo *reposave.Repo, src repoSource) error {
	owner, err := repo.Owner()
	if err != nil {
		return err
	}
	me := uint32(os.Geteuid())
	if owner != me {
		return &foreignRepoError{root: repo.Root, owner: owner, me: me}
	}
	if src.histDir == "" {
		return nil
	}
	info, err := os.Stat(src.histDir)
	if err != nil {
		return err
	}
	// A history of the user running, or of root's, is trusted to name a
	// repository; another user's names only that user's own.
	if by := info.Sys().(*syscall.Stat_t).Uid; by != me && by != 0 {
		return &foreignRepoError{root: repo.Root, owner: owner, me: me, namedBy: src.histDir, namedByOwner: by}
	}
	return nil
}
