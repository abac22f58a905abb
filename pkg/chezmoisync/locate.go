package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/statindex"
)

// locateStep finds the chezmoi source directory and the repository that
// holds it. With a .chezmoiroot the source (`chezmoi source-path`) is a
// directory inside the work tree; jj and git work on the work tree.
type locateStep struct{}

func (locateStep) name() string { return "locate" }

func (locateStep) plan(context.Context, *run) (plan, error) {
	return plan{does: "find the source directory"}, nil
}

func (locateStep) run(ctx context.Context, r *run) (outcome, error) {
	dir, err := r.sourceDir(ctx)
	if err != nil {
		return outcome{}, err
	}
	r.cm.Source = dir
	r.workTree = chezmoi.WorkTree(dir)
	r.rec.SourceDir = r.workTree
	r.jj.Dir = r.workTree
	return outcome{}, nil
}

// sourceDir is --source-dir; else chezmoi's default when chezmoi has no
// config file; else what the config file says. A config file is read with
// `chezmoi dump-config` (one process, skipped while the config files are
// unchanged since the stat index was written), also when --source-dir is
// given: its git.auto* settings matter to every re-add.
func (r *run) sourceDir(ctx context.Context) (string, error) {
	files := chezmoi.ConfigFiles(r.app.Getenv)
	if len(files) == 0 {
		if r.cm.Source != "" {
			return r.cm.Source, nil
		}
		if dir := chezmoi.XDGSourceDir(r.app.Getenv); dir != "" {
			return dir, nil
		}
	}
	r.configSig = configSignature(files)
	r.loadIndex()
	if ix := r.index; ix != nil && ix.Meta["config"] == r.configSig && orDir(r.cm.Source, ix.Meta["chezmoisource"]) != "" {
		r.chezmoiGit, r.chezmoiSource = ix.Meta["chezmoigit"], ix.Meta["chezmoisource"]
		return orDir(r.cm.Source, ix.Meta["chezmoisource"]), nil
	}
	cfg, err := r.cm.DumpConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot ask chezmoi for its configuration (set --source-dir): %w", err)
	}
	if cfg.Git.AutoPush {
		return "", refuse(fmt.Sprintf("chezmoi's own git.autoPush is on (%s): chezmoi would push with git behind chezmoi-sync's back, bypassing its conflict handling, and its push fails in a colocated jj repository (git's HEAD is detached)", strings.Join(files, ", ")),
			"turn it off in your chezmoi config ([git] autoPush = false): chezmoi-sync pushes your edits itself")
	}
	switch {
	case cfg.Git.AutoCommit:
		r.chezmoiGit = "commit"
	case cfg.Git.AutoAdd:
		r.chezmoiGit = "add"
	}
	if cfg.SourceDir == "" && r.cm.Source == "" {
		return "", fmt.Errorf("chezmoi dump-config names no source directory (set --source-dir)")
	}
	r.chezmoiSource = cfg.SourceDir
	return orDir(r.cm.Source, cfg.SourceDir), nil
}

func orDir(configured, fallback string) string {
	if configured != "" {
		return configured
	}
	return fallback
}

// configSignature identifies the config files by their stat: when it is
// unchanged, what was read from them still holds.
func configSignature(files []string) string {
	var b strings.Builder
	for _, f := range files {
		e := statindex.Stat(f)
		fmt.Fprintf(&b, "%s:%d:%d:%d:%d;", f, e.Size, e.Mtime, e.Ctime, e.Ino)
	}
	return b.String()
}

// prepareStep makes the source directory a colocated jj repository that
// tracks branch@remote: a clone when it is missing, `jj git init
// --colocate` for a plain git clone. A first colocation commits changes to
// tracked files only: files git does not track stay out of the history and
// are listed (a stray secret in the source directory is never published).
type prepareStep struct{}

func (prepareStep) name() string { return "prepare" }

func (prepareStep) plan(ctx context.Context, r *run) (plan, error) {
	dir := r.workTree
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && st.IsDir() && emptyDir(dir):
		if r.c.RepoURL == "" {
			return plan{}, exitcode.UsageError(fmt.Errorf("chezmoi source directory %s does not exist and no repository URL is configured: set --repo-url (repoUrl) or run chezmoi init <url>", dir))
		}
		return plan{does: fmt.Sprintf("clone %s into %s (jj, colocated) and track %s", r.c.RepoURL, dir, r.remoteName()),
			changes: true, marks: true, identity: true, halt: true}, nil
	case err != nil:
		return plan{}, err
	case !st.IsDir():
		return plan{}, exitcode.UsageError(fmt.Errorf("chezmoi source directory %s is not a directory", dir))
	case isDir(filepath.Join(dir, ".jj")):
		return plan{skip: "colocated jj repository", quiet: true}, nil
	case !exists(filepath.Join(dir, ".git")):
		return plan{}, exitcode.UsageError(fmt.Errorf("chezmoi source directory %s is not a git repository (no .git): clone your dotfiles there or point --source-dir at the clone", dir))
	}
	untracked, err := r.gitList(ctx, "ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return plan{}, fmt.Errorf("git ls-files in %s: %w", dir, err)
	}
	r.rec.Untracked = untracked
	does := fmt.Sprintf("colocate jj with the git clone in %s (jj git init --colocate) and track %s", dir, r.remoteName())
	if len(untracked) > 0 {
		does += fmt.Sprintf("; %s git does not track stay out of the history: %s", plural(len(untracked), "file"), shortList(untracked, 5))
	}
	return plan{does: does, changes: true, marks: true, identity: true, halt: true}, nil
}

func (prepareStep) run(ctx context.Context, r *run) (outcome, error) {
	if !exists(filepath.Join(r.workTree, ".git")) {
		return r.clone(ctx)
	}
	// Staged new files are tracked for git; jj (with auto-track off)
	// would not see them.
	staged, err := r.gitList(ctx, "diff", "--cached", "--name-only", "--diff-filter=A", "-z")
	if err != nil {
		return outcome{}, fmt.Errorf("git diff --cached in %s: %w", r.workTree, err)
	}
	if err := r.jj.GitInit(ctx); err != nil {
		return outcome{}, fmt.Errorf("jj git init --colocate in %s: %w", r.workTree, err)
	}
	if err := r.settle(ctx, staged); err != nil {
		return outcome{}, err
	}
	detail := "jj initialised (colocated), tracking " + r.remoteName()
	if n := len(r.rec.Untracked); n > 0 {
		r.warn("%s in %s that git did not track stay out of the history (track one with: jj file track PATH): %s",
			plural(n, "file"), r.workTree, strings.Join(r.rec.Untracked, ", "))
		detail += fmt.Sprintf("; %s left untracked", plural(n, "file"))
	}
	return outcome{detail: detail}, nil
}

func (r *run) clone(ctx context.Context) (outcome, error) {
	if err := os.MkdirAll(filepath.Dir(r.workTree), 0o755); err != nil {
		return outcome{}, err
	}
	if err := r.jj.GitClone(ctx, r.c.RepoURL, r.workTree, r.c.Remote); err != nil {
		return outcome{}, fmt.Errorf("cannot clone %s: %w", r.c.RepoURL, err)
	}
	if err := r.settle(ctx, nil); err != nil {
		return outcome{}, err
	}
	return outcome{detail: r.c.RepoURL + " into " + r.workTree}, nil
}

// settle finishes a new colocated repository: jj itself never tracks new
// files there (so the user's own jj commands do not either), the remote
// branch is tracked, the colocation's untracked files are remembered.
func (r *run) settle(ctx context.Context, staged []string) error {
	if err := r.jj.ConfigSetRepo(ctx, "snapshot.auto-track", "none()"); err != nil {
		return fmt.Errorf("cannot set snapshot.auto-track in %s: %w", r.workTree, err)
	}
	if err := r.track(ctx); err != nil {
		return err
	}
	if err := r.jj.TrackFiles(ctx, staged); err != nil {
		return fmt.Errorf("cannot track the files staged in git: %w", err)
	}
	r.fresh = true
	r.mutated = true
	return state.WriteJSON(filepath.Join(r.app.StateDir, colocationFile), colocation{
		Time: r.app.Now(), SourceDir: r.workTree, Untracked: r.rec.Untracked,
	})
}

// colocationFile remembers the files a first colocation left untracked:
// later runs never start tracking them, even when chezmoi manages them.
const colocationFile = "sync-colocation.json"

type colocation struct {
	Time      time.Time `json:"time"`
	SourceDir string    `json:"source_dir"`
	Untracked []string  `json:"untracked"`
}

func (r *run) track(ctx context.Context) error {
	if err := r.jj.Track(ctx, r.c.Branch, r.c.Remote); err != nil {
		var ee *runner.ExitError
		if errors.As(err, &ee) && (strings.Contains(ee.Stderr, "No such remote bookmark") || strings.Contains(ee.Stderr, "No matching")) {
			return exitcode.UsageError(fmt.Errorf("remote %s has no branch %s (push it first, or set --branch)", r.c.Remote, r.c.Branch))
		}
		return fmt.Errorf("cannot track %s: %w", r.remoteName(), err)
	}
	return nil
}

// gitList runs a read-only git command in the work tree and splits its
// NUL-separated output.
func (r *run) gitList(ctx context.Context, args ...string) ([]string, error) {
	res, err := r.git(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range strings.Split(string(res.Stdout), "\x00") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// ensureIdentity makes sure jj commits get an author: jj's user.name and
// user.email, else git's (passed to jj as JJ_USER/JJ_EMAIL), else the run
// stops before it makes any commit. A commit without an author can never
// be pushed.
func (r *run) ensureIdentity(ctx context.Context) error {
	if r.identity {
		return nil
	}
	q := *r.jj
	if !isDir(filepath.Join(q.Dir, ".jj")) {
		q.Dir = ""
	}
	name, email, err := q.Identity(ctx)
	if err != nil {
		return fmt.Errorf("cannot read jj's user.name/user.email: %w", err)
	}
	if name == "" || email == "" {
		gname, gemail := r.gitIdentity(ctx)
		if name == "" {
			name = gname
		}
		if email == "" {
			email = gemail
		}
		if name == "" || email == "" {
			return refuse("jj has no identity for commits (user.name and user.email), and git has none either: a commit without an author can never be pushed",
				`set it once: jj config set --user user.name "Your Name" && jj config set --user user.email you@example.org`)
		}
		r.jj.Env = append(r.jj.Env, "JJ_USER="+name, "JJ_EMAIL="+email)
		r.rec.Warnings = append(r.rec.Warnings, fmt.Sprintf("jj has no user.name/user.email: commits use git's (%s <%s>)", name, email))
	}
	r.identity = true
	return nil
}

func (r *run) gitIdentity(ctx context.Context) (name, email string) {
	dir := r.workTree
	if !isDir(dir) {
		dir = ""
	}
	get := func(key string) string {
		res, err := r.app.Runner.Run(ctx, runner.Cmd{Name: "git", Args: []string{"config", "--get", key}, Dir: dir, Timeout: time.Minute})
		if err != nil {
			return ""
		}
		return res.Out()
	}
	return get("user.name"), get("user.email")
}
