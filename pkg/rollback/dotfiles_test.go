package rollback_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// dotMachine is the fixture's machine (host alpha, generations 1 and 2)
// whose home dotfiles are synced by the real chezmoi-sync with host beta
// through a bare remote: generation 1 was built with the dotfiles commit
// d1, generation 2 (running) with d2, after beta's edit of .bashrc and
// the app config came in.
type dotMachine struct {
	*fixture
	beta   *testharness.Host
	remote string
	d1, d2 string
}

const (
	origBashrc    = "# bashrc\nexport EDITOR=vi\nalias ll='ls -l'\n"
	betaBashrc    = "# bashrc\nexport EDITOR=vi\nalias ll='ls -l --from-beta'\n"
	origAppConfig = "theme = \"dark\"\nfont = 12\n"
	betaAppConfig = "theme = \"light\"\nfont = 12\n"
	homeAppConfig = "theme = \"light\"\nfont = 14 # edited at home since the build\n"
)

func newDotMachine(t *testing.T) *dotMachine {
	t.Helper()
	testharness.RequireSync(t)
	f := newFixture(t, "git", 2, "chezmoi-sync")
	m := &dotMachine{fixture: f, remote: testharness.NewRemote(t, testharness.DefaultDotfiles())}
	a := f.h
	a.CloneDotfiles(m.remote)
	a.Run("", "chezmoi-sync")
	m.d1 = lastSync(t, a).AfterLocal

	m.beta = testharness.NewHost(t, "beta").WithBinaries()
	m.beta.CloneDotfiles(m.remote)
	m.beta.Run("", "chezmoi-sync")
	m.beta.WriteHome(".bashrc", betaBashrc)
	m.beta.WriteHome(".config/app/config.toml", betaAppConfig)
	m.beta.Run("", "chezmoi-sync")

	a.Run("", "chezmoi-sync")
	m.d2 = lastSync(t, a).AfterLocal
	require.NotEqual(t, m.d1, m.d2)
	require.Equal(t, betaBashrc, a.ReadHome(".bashrc"))
	m.setDotfiles(map[int]string{1: m.d1, 2: m.d2})
	return m
}

func lastSync(t *testing.T, h *testharness.Host) syncstate.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.StateDir(), syncstate.RecordFile))
	require.NoError(t, err)
	var r syncstate.Record
	require.NoError(t, json.Unmarshal(data, &r))
	return r
}

// setDotfiles records commits[n] as generation n's dotfiles commit, as
// rebuild-smart does; a generation left out records none.
func (m *dotMachine) setDotfiles(commits map[int]string) {
	es := m.history()
	require.NoError(m.t, os.Remove(filepath.Join(m.h.StateDir(), history.FileName)))
	for _, e := range es {
		e.DotfilesCommit, e.DotfilesSource = "", ""
		if c := commits[e.Generation]; c != "" {
			e.DotfilesCommit, e.DotfilesSource = c, m.h.SourceDir()
		}
		m.appendHistory(e)
	}
}

// home lists every file under HOME but the suite's lock files, with its
// content's hash: the source repository (jj and git included), chezmoi's state,
// the sync's records.
func (m *dotMachine) home() string {
	m.t.Helper()
	var lines []string
	require.NoError(m.t, filepath.WalkDir(m.h.Home, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p == filepath.Join(m.h.Home, ".nix-defexpr") || p == filepath.Join(m.h.StateDir(), history.FileName):
			// nix-env's, and the history: snapshot() has it.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir() || strings.HasSuffix(p, ".lock"):
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			l, err := os.Readlink(p)
			lines = append(lines, fmt.Sprintf("%s -> %s", p, l))
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %x", p, sha256.Sum256(data)))
		return nil
	}))
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (m *dotMachine) remoteMain() string {
	return m.h.Run(m.remote, "git", "rev-parse", "refs/heads/main")
}

type rollbackDoc struct {
	Outcome      string   `json:"outcome"`
	Warnings     []string `json:"warnings"`
	Summary      string   `json:"summary"`
	DotfilesPlan *struct {
		Source, From, To, Does, Command string
	} `json:"dotfiles_plan"`
	Dotfiles *struct {
		Source, From, To, Revert, Publish string
		Applied                           []string
		Kept                              []struct{ Path, Next string }
		BackedUp                          []syncstate.Backup `json:"backed_up"`
		Held, Moved                       bool
	} `json:"dotfiles"`
}

func decodeRollback(t *testing.T, r testharness.Result) rollbackDoc {
	t.Helper()
	var doc rollbackDoc
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), r.String())
	return doc
}

// Two hosts share the dotfiles; generation 2 (running) was built after
// beta's edits came in. `rebuild-rollback --with-dotfiles` goes back to
// generation 1: the system, the repository and the home dotfiles (.bashrc
// is d1's again), but the app config, edited at home since the build, is
// kept as it is and reported; the file replaced was copied first; the
// revert is not published (the remote and beta keep beta's edit).
func TestWithDotfilesMovesHomeBack(t *testing.T) {
	t.Parallel()
	m := newDotMachine(t)
	m.h.WriteHome(".config/app/config.toml", homeAppConfig)
	remoteBefore := m.remoteMain()

	r := m.run("--with-dotfiles", "--json")
	require.Equal(t, 0, r.Code, r.String())
	m.requireAt(1)
	require.Equal(t, m.commits[0], m.headCommit())
	require.Equal(t, origBashrc, m.h.ReadHome(".bashrc"), "HOME is back at the build's dotfiles")
	require.Equal(t, origBashrc, m.h.ReadSource("dot_bashrc"))
	require.Equal(t, homeAppConfig, m.h.ReadHome(".config/app/config.toml"), "a home edit made since the build was overwritten")

	doc := decodeRollback(t, r)
	require.Equal(t, history.OutcomeRolledBack, doc.Outcome)
	require.NotNil(t, doc.Dotfiles, r.String())
	require.True(t, doc.Dotfiles.Moved)
	require.Equal(t, m.d1, doc.Dotfiles.To)
	require.Equal(t, m.d2, doc.Dotfiles.From)
	require.Equal(t, m.h.SourceDir(), doc.Dotfiles.Source)
	require.Contains(t, doc.Dotfiles.Applied, filepath.Join(m.h.Home, ".bashrc"))
	var kept []string
	for _, k := range doc.Dotfiles.Kept {
		kept = append(kept, k.Path)
	}
	require.Contains(t, kept, filepath.Join(m.h.Home, ".config/app/config.toml"), "the kept edit is reported")
	require.Contains(t, r.Stderr, "kept (edited since, not overwritten): "+filepath.Join(m.h.Home, ".config/app/config.toml"))
	// The file the undo replaced was copied first.
	var copied bool
	for _, b := range doc.Dotfiles.BackedUp {
		data, err := os.ReadFile(b.Copy)
		require.NoError(t, err)
		copied = copied || b.Path == filepath.Join(m.h.Home, ".bashrc") && string(data) == betaBashrc
	}
	require.True(t, copied, "no copy of the replaced .bashrc: %+v", doc.Dotfiles.BackedUp)
	// Not published: held, the remote and beta unchanged.
	require.True(t, doc.Dotfiles.Held)
	require.Equal(t, "chezmoi-sync --publish", doc.Dotfiles.Publish)
	require.Equal(t, remoteBefore, m.remoteMain(), "--with-dotfiles published the revert")
	m.beta.Run("", "chezmoi-sync")
	require.Equal(t, betaBashrc, m.beta.ReadHome(".bashrc"))
	require.Contains(t, doc.Summary, "moved the dotfiles in "+m.h.SourceDir()+" back to "+m.d1[:12])

	// The history records the dotfiles commit the home was moved to.
	hist := m.history()
	last := hist[len(hist)-1]
	require.Equal(t, history.OutcomeRolledBack, last.Outcome)
	require.Equal(t, m.d1, last.DotfilesCommit)

	// The next sync captures the kept edit on top of d1's files, and still
	// publishes nothing of the held revert.
	m.h.Run("", "chezmoi-sync")
	require.Equal(t, homeAppConfig, m.h.ReadHome(".config/app/config.toml"))
	require.Equal(t, origBashrc, m.h.ReadHome(".bashrc"))
	require.Equal(t, remoteBefore, m.remoteMain())
}

// A dry run prints the dotfiles plan (chezmoi-sync's own) and changes
// nothing: not the system, the repository, the history, nor any file
// under HOME (source repository and chezmoi's state included).
func TestWithDotfilesDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	m := newDotMachine(t)
	m.h.WriteHome(".config/app/config.toml", homeAppConfig)
	before, home := m.snapshot(), m.home()

	r := m.run("--with-dotfiles", "--dry-run")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, "  dotfiles:   "+m.h.SourceDir()+": chezmoi-sync --undo-to "+m.d1)
	require.Contains(t, r.Stdout, "home files edited since are kept")
	require.Contains(t, lastLineOf(r.Stdout), "move the dotfiles in "+m.h.SourceDir()+" back to "+m.d1[:12])

	j := m.run("--with-dotfiles", "--dry-run", "--json")
	require.Equal(t, 0, j.Code, j.String())
	doc := decodeRollback(t, j)
	require.Equal(t, "planned", doc.Outcome)
	require.NotNil(t, doc.DotfilesPlan, j.String())
	require.Equal(t, m.d1, doc.DotfilesPlan.To)
	require.Equal(t, m.d2, doc.DotfilesPlan.From)
	require.Nil(t, doc.Dotfiles)

	require.Equal(t, before, m.snapshot(), "a dry run changed the system, repository or history")
	require.Equal(t, home, m.home(), "a dry run changed the home or the dotfiles repository")
}

// A build recorded without a dotfiles commit: a warning, the dotfiles stay
// as they are, the rest of the rollback goes on (exit 0).
func TestWithDotfilesNoRecordedCommit(t *testing.T) {
	t.Parallel()
	m := newDotMachine(t)
	m.setDotfiles(map[int]string{2: m.d2})
	home := m.home()

	r := m.run("--with-dotfiles", "--json")
	require.Equal(t, 0, r.Code, r.String())
	m.requireAt(1)
	doc := decodeRollback(t, r)
	require.Nil(t, doc.Dotfiles)
	require.Len(t, doc.Warnings, 1)
	require.Contains(t, doc.Warnings[0], "no dotfiles commit is recorded for generation 1")
	require.Contains(t, r.Stderr, "the dotfiles stay as they are")
	require.Equal(t, home, m.home())
	require.Equal(t, betaBashrc, m.h.ReadHome(".bashrc"))
}

// A parked conflict in the dotfiles repository: the whole rollback is
// refused before anything changes (exit 5, as chezmoi-sync's), the line
// says why and both ways on. Changes in the source no sync committed: the
// same, exit 11. Once settled, the rollback goes through.
func TestWithDotfilesRefusesAParkedConflict(t *testing.T) {
	t.Parallel()
	m := newDotMachine(t)
	m.beta.WriteHome(".gitconfig", "[core]\n\tpager = beta\n")
	m.beta.Run("", "chezmoi-sync")
	m.h.WriteHome(".gitconfig", "[core]\n\tpager = alpha\n")
	require.Equal(t, 5, m.h.Exec("", "chezmoi-sync").Code, "the conflict is parked")
	before, home := m.snapshot(), m.home()

	r := m.run("--with-dotfiles")
	require.Equal(t, 5, r.Code, r.String())
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
	require.Contains(t, r.Stderr, "--with-dotfiles: the dotfiles in "+m.h.SourceDir()+" cannot go back to "+m.d1[:12])
	require.Contains(t, r.Stderr, "a conflict is waiting")
	require.Contains(t, r.Stderr, "nothing was changed")
	require.Contains(t, r.Stderr, "roll back without --with-dotfiles and later run `chezmoi-sync --undo-to "+m.d1+"`")
	require.Equal(t, before, m.snapshot())
	require.Equal(t, home, m.home())
	m.requireAt(2)

	m.h.Run("", "chezmoi-sync", "--keep-local")
	require.NoError(t, os.WriteFile(filepath.Join(m.h.SourceDir(), "dot_gitconfig"), []byte("[core]\n\tpager = by hand in the source\n"), 0o644))
	before, home = m.snapshot(), m.home()
	r = m.run("--with-dotfiles")
	require.Equal(t, 11, r.Code, r.String())
	require.Contains(t, r.Stderr, "holds changes no sync has committed")
	require.Equal(t, before, m.snapshot())
	require.Equal(t, home, m.home())

	m.h.Run(m.h.SourceDir(), "jj", "restore")
	m.mustRun("--with-dotfiles")
	m.requireAt(1)
	require.Equal(t, origBashrc, m.h.ReadHome(".bashrc"))
}

// Root never runs the undo over a user's home: with a HOME that belongs
// to another user (sudo keeping HOME), --with-dotfiles is refused before
// chezmoi-sync runs at all, naming the command to run as that user.
func TestWithDotfilesNeverAnotherUsersHome(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	m := newDotMachine(t)
	u := testuser.New(t)
	// Root's state directory is its own (one inside the user's home is
	// refused as unsafe before anything else).
	state := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(state, 0o700))
	hist, err := os.ReadFile(filepath.Join(m.h.StateDir(), history.FileName))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(state, history.FileName), hist, 0o600))
	require.NoError(t, os.Lchown(m.h.Home, u.UID, u.GID))
	chownR(t, m.h.SourceDir(), u.UID, u.GID)
	before, home := m.snapshot(), m.home()

	r := m.run("--with-dotfiles", "--state-dir", state)
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "belongs to "+u.Name+", not to root")
	require.Contains(t, r.Stderr, "run `chezmoi-sync --undo-to "+m.d1+"` as "+u.Name)
	require.Equal(t, before, m.snapshot())
	require.Equal(t, home, m.home())
	require.Empty(t, notOwnedBy(t, m.h.SourceDir(), u.UID), "root left files in the user's dotfiles repository")
}

// The build's dotfiles commit is the one HOME already follows: the
// dotfiles step is skipped (source changes no sync committed do not stop
// it: nothing runs there), the system goes back.
func TestWithDotfilesAlreadyThere(t *testing.T) {
	t.Parallel()
	m := newDotMachine(t)
	m.setDotfiles(map[int]string{1: m.d2, 2: m.d2})
	require.NoError(t, os.WriteFile(filepath.Join(m.h.SourceDir(), "dot_gitconfig"), []byte("[core]\n\tpager = by hand\n"), 0o644))
	home := m.home()

	r := m.run("--with-dotfiles", "--json")
	require.Equal(t, 0, r.Code, r.String())
	m.requireAt(1)
	doc := decodeRollback(t, r)
	require.NotNil(t, doc.DotfilesPlan, r.String())
	require.Nil(t, doc.Dotfiles)
	require.Contains(t, r.Stderr, "[skipped] dotfiles: already at "+m.d2[:12])
	require.Contains(t, doc.Summary, "the dotfiles in "+m.h.SourceDir()+" are already as at "+m.d2[:12])
	require.Equal(t, home, m.home())
}
