package rollback

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/reposave"
	"github.com/nixdots/nixdots/pkg/runner"
)

// readPins lists the commits whose builds --clean keeps: the tip of every
// branch on every remote and every tag, as the repository knows them now.
// Nothing is fetched: the remote-tracking refs are what the last fetch or
// push saw (rebuild-smart fetches on every online run), so the clean-up
// works offline and never waits for a network. Tags are taken as they are:
// git keeps no record of which tags a remote has, and a tag is a deliberate
// pin, so a tag that was never pushed pins its build too (keeping one build
// too many is the safe side of a clean-up).
//
// git (and jj colocated with git): `git for-each-ref refs/remotes
// refs/tags` (annotated tags peeled to their commit;
// refs/remotes/<remote>/HEAD, an alias, left out). jj without git: the
// revset `remote_bookmarks() | tags()`, which leaves out the @git
// pseudo-remote (jj's view of the local git branches, not a remote).
func readPins(ctx context.Context, repo *reposave.Repo) ([]Pin, error) {
	var pins []Pin
	var err error
	if _, gitErr := os.Stat(filepath.Join(repo.Root, ".git")); repo.Kind == reposave.JJ && gitErr != nil {
		pins, err = jjPins(ctx, repo)
	} else {
		// Plain git, and jj colocated with git: git's refs are the fresh
		// ones (a `git fetch` run there is not imported by a jj command
		// that ignores the working copy).
		pins, err = gitPins(ctx, repo)
	}
	if err != nil {
		return nil, fmt.Errorf("read the remote branches and tags of %s: %w", repo.Root, err)
	}
	sort.Slice(pins, func(i, j int) bool { return pins[i].Ref < pins[j].Ref })
	return pins, nil
}

func query(ctx context.Context, repo *reposave.Repo, name string, args ...string) (string, error) {
	res, err := repo.R.Run(ctx, runner.Cmd{Name: name, Args: args, Dir: repo.Root, Timeout: time.Minute})
	return string(res.Stdout), err
}

func gitPins(ctx context.Context, repo *reposave.Repo) ([]Pin, error) {
	out, err := query(ctx, repo, "git", "--no-optional-locks", "for-each-ref",
		"--format=%(objectname) %(*objectname) %(refname)", "refs/remotes", "refs/tags")
	if err != nil {
		return nil, err
	}
	return parseGitPins(out), nil
}

// parseGitPins reads for-each-ref lines "<object> <peeled or empty> <ref>".
func parseGitPins(out string) []Pin {
	var pins []Pin
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		obj, ref := f[0], f[len(f)-1]
		if len(f) == 3 {
			obj = f[1] // an annotated tag: the commit it points at
		}
		switch {
		case strings.HasPrefix(ref, "refs/remotes/") && !strings.HasSuffix(ref, "/HEAD"):
			pins = append(pins, Pin{Ref: strings.TrimPrefix(ref, "refs/remotes/"), Commit: obj})
		case strings.HasPrefix(ref, "refs/tags/"):
			pins = append(pins, Pin{Ref: "tag " + strings.TrimPrefix(ref, "refs/tags/"), Commit: obj})
		}
	}
	return pins
}

const jjPinTemplate = `commit_id ++ "\t" ++ remote_bookmarks.map(|b| b.name() ++ "@" ++ b.remote()).join(",") ++ "\t" ++ tags.map(|t| t.name()).join(",") ++ "\n"`

func jjPins(ctx context.Context, repo *reposave.Repo) ([]Pin, error) {
	out, err := query(ctx, repo, "jj", "--ignore-working-copy", "--no-pager", "log", "--no-graph",
		"-r", "remote_bookmarks() | tags()", "-T", jjPinTemplate)
	if err != nil {
		return nil, err
	}
	return parseJJPins(out), nil
}

// parseJJPins reads "<commit>\t<name@remote,...>\t<tag,...>" lines.
func parseJJPins(out string) []Pin {
	var pins []Pin
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 || f[0] == "" {
			continue
		}
		for _, b := range strings.Split(f[1], ",") {
			i := strings.LastIndexByte(b, '@')
			name, remote := b[:max(i, 0)], b[i+1:]
			if i > 0 && remote != "git" {
				pins = append(pins, Pin{Ref: remote + "/" + name, Commit: f[0]})
			}
		}
		for _, t := range strings.Split(f[2], ",") {
			if t != "" {
				pins = append(pins, Pin{Ref: "tag " + t, Commit: f[0]})
			}
		}
	}
	return pins
}
