package showconflicts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/hostkey"

	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/mergetext"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Kinds of conflict.
const (
	// KindCommit is a commit jj itself records as conflicted (a rebase that
	// has not been resolved yet).
	KindCommit = "commit"
	// KindParked is a parked sync/<host> bookmark: its commits are clean
	// where they stand but conflict with <branch>@<remote> (what chezmoi-sync
	// leaves after a conflicting rebase). Its files come from a merge
	// computed in a throw-away object directory.
	KindParked = "parked"
)

// File is one conflicted file.
type File struct {
	Path  string `json:"path"` // relative to the source directory
	Hunks int    `json:"hunks"`
	Sides []Side `json:"sides"`
	// Binary: a file with a NUL byte; it has no hunks or lines to count,
	// and a side of it is taken whole.
	Binary bool `json:"binary,omitempty"`
	// Deleted: a text file one side deleted (or renamed: chezmoi renames
	// a source for a mode change) and the other changed; there are no
	// hunks either, a side is taken whole.
	Deleted bool `json:"deleted,omitempty"`
}

// binaryFile is f without the hunk and line counts a text view would give
// (they mean nothing for a binary file): the side labels stay.
func binaryFile(f File) File {
	f.Binary, f.Hunks = true, 0
	for i := range f.Sides {
		f.Sides[i].Lines, f.Sides[i].Preview = 0, ""
	}
	return f
}

// Conflict is one conflicted commit or one parked bookmark.
type Conflict struct {
	Kind     string `json:"kind"`               // commit or parked
	Where    string `json:"where"`              // working-copy, or the bookmark (sync/<host>, sync/<host>@<remote>)
	Bookmark string `json:"bookmark,omitempty"` // the sync/<host> bookmark holding it, if any
	Host     string `json:"host"`               // the host whose edits these are
	ThisHost bool   `json:"this_host"`
	// Commit is the conflicted commit (commit) or the bookmark's head (parked).
	Commit jj.StatusCommit `json:"commit"`
	// Local are the commits carrying this host's side (parked: <branch>@<remote>..bookmark).
	Local []jj.StatusCommit `json:"local_commits"`
	// Remote are the commits of the other side (parked: bookmark..<branch>@<remote>).
	Remote  []jj.StatusCommit `json:"remote_commits"`
	Files   []File            `json:"files"`
	Resolve []string          `json:"resolve"` // the commands to run, in order

}

// Scan is what a scan of one repository found.
type Scan struct {
	SourceDir string     `json:"source_dir"`
	Host      string     `json:"host"`
	Remote    string     `json:"remote"`
	Branch    string     `json:"branch"`
	AllHosts  bool       `json:"all_hosts"`
	Upstream  string     `json:"upstream"`        // <branch>@<remote>
	HasRemote bool       `json:"upstream_exists"` // false before the first fetch
	Conflicts []Conflict `json:"conflicts"`
	Files     []string   `json:"files"` // every conflicted path, sorted, unique
	// ResolvedFiles are conflicted under the working copy but resolved in
	// its files (the hand recipe done, not synced yet): nothing is left to
	// edit; ContinueNext publishes them. Absent when there are none.
	ResolvedFiles []string `json:"resolved_files,omitempty"`
}

// ContinueNext is what to do once the working copy resolves every
// conflict under it (the hand recipe's last step).
func ContinueNext(bookmark string) string {
	return "chezmoi-sync --continue   # publishes the resolution, deletes " + bookmark + ", applies it to your home directory"
}

// Options say where to look.
type Options struct {
	Runner    runner.Runner
	SourceDir string
	Remote    string
	Branch    string
	Host      string
	AllHosts  bool
	// TempDir holds the throw-away object directory of the parked-bookmark
	// merge check ("" = os.TempDir()).
	TempDir string
	// CheckWorkingCopy also merges @ with the upstream branch when nothing
	// else is found: chezmoi-sync parks nothing on a bookmark when the
	// conflicting edits were never committed (autoCommit off), so its
	// record's conflicts-preserved is then only visible this way.
	CheckWorkingCopy bool
	// diff3: merge with merge.conflictStyle=diff3 (MergeTexts).
	diff3 bool
	// Bookmarks, when not nil, are the sync/* bookmarks already listed by
	// the caller (chezmoi-status), saving a jj process.
	Bookmarks []jj.StatusBookmark
}

// UpstreamRevset is <branch>@<remote> as a revset that is empty (not an
// error) before the first fetch.
func UpstreamRevset(branch, remote string) string {
	return fmt.Sprintf("remote_bookmarks(exact:%s, exact:%s)", jj.StatusRevsetString(branch), jj.StatusRevsetString(remote))
}

// HostKey is the form of a host name used in sync/<host> bookmarks and
// sync records (see hostkey.Sanitize).
func HostKey(name string) string { return hostkey.Sanitize(name) }

// ErrNoRepo reports a source directory without .jj/.
var ErrNoRepo = errors.New("jj is not initialised")

// Run scans the repository. It starts only read-only processes: jj with
// --ignore-working-copy, and git merge-tree writing into a temporary object
// directory that is removed afterwards.
func Run(ctx context.Context, o Options) (*Scan, error) {
	o.Host = HostKey(o.Host)
	s := &Scan{SourceDir: o.SourceDir, Host: o.Host, Remote: o.Remote, Branch: o.Branch, AllHosts: o.AllHosts,
		Upstream: o.Branch + "@" + o.Remote, Conflicts: []Conflict{}, Files: []string{}}
	if !jj.HasStatusRepo(o.SourceDir) {
		return s, ErrNoRepo
	}
	q := &jj.StatusQuery{Runner: o.Runner, Dir: o.SourceDir}
	parkedBms, err := parkedBookmarks(ctx, q, o)
	if err != nil {
		return nil, err
	}

	// One jj process finds the upstream head, the parked heads and every
	// conflicted commit under the working copy or a parked bookmark, each
	// tagged with where it was found.
	upstream := UpstreamRevset(o.Branch, o.Remote)
	classes := []jj.StatusClass{{Name: "upstream", Revset: upstream}, {Name: "wc", Revset: "::@"}}
	reach := []string{"::@"}
	heads := []string{upstream}
	for i, p := range parkedBms {
		classes = append(classes, jj.StatusClass{Name: fmt.Sprintf("b%d", i), Revset: "::" + p.CommitID})
		reach = append(reach, "::"+p.CommitID)
		heads = append(heads, p.CommitID)
	}
	commits, err := q.Classified(ctx, fmt.Sprintf("%s | (conflicts() & (%s))", strings.Join(heads, " | "), strings.Join(reach, " | ")), classes)
	if err != nil {
		return nil, err
	}
	upID := ""
	byID := map[string]jj.StatusCommit{}
	conflicted := map[string]bool{}
	for _, c := range commits {
		byID[c.CommitID] = c
		if c.In["upstream"] && upID == "" {
			upID = c.CommitID
		}
		if c.Conflict {
			conflicted[c.CommitID] = true
		}
	}
	s.HasRemote = upID != ""

	// Conflicted commits: first those under the working copy, then those
	// only reachable from a parked bookmark.
	type group struct{ class, where, bookmark, host string }
	groups := []group{{"wc", "working-copy", "", o.Host}}
	for i, p := range parkedBms {
		groups = append(groups, group{fmt.Sprintf("b%d", i), p.where(), p.where(), p.host})
	}
	seen := map[string]bool{}
	for _, g := range groups {
		for _, c := range commits {
			if !c.Conflict || !c.In[g.class] || seen[c.CommitID] || inherited(c, conflicted) {
				continue
			}
			seen[c.CommitID] = true
			conf := Conflict{Kind: KindCommit, Where: g.where, Bookmark: g.bookmark, Host: g.host, ThisHost: g.host == o.Host,
				Commit: c, Local: []jj.StatusCommit{}, Remote: []jj.StatusCommit{}}
			paths, err := q.ConflictedPaths(ctx, c.CommitID)
			if err != nil {
				return nil, err
			}
			for _, p := range paths {
				content, err := q.FileShow(ctx, c.CommitID, p)
				if err != nil {
					return nil, err
				}
				m := ParseMarkers(content)
				f := File{Path: p, Hunks: m.Hunks, Sides: nonNilSides(m.Sides)}
				if strings.IndexByte(content, 0) >= 0 {
					f = binaryFile(f)
				}
				conf.Files = append(conf.Files, f)
			}
			conf.Resolve = resolveCommit(o, conf)
			s.Conflicts = append(s.Conflicts, conf)
		}
	}

	// The hand recipe done but not synced yet: the working copy's files
	// resolve every conflict under it. Those are not conflicts left to
	// resolve (and the recipe must not be printed again).
	resolved, err := resolvedInWorkingCopy(ctx, q, o.SourceDir, commits)
	if err != nil {
		return nil, err
	}
	if len(resolved) > 0 {
		s.ResolvedFiles = resolved
		kept := s.Conflicts[:0]
		for _, c := range s.Conflicts {
			if c.Where != "working-copy" {
				kept = append(kept, c)
			}
		}
		s.Conflicts = kept
	}

	// Parked bookmarks whose own commits are clean: do they still conflict
	// with the upstream branch?
	if s.HasRemote {
		for _, p := range parkedBms {
			if hasConflictUnder(s.Conflicts, p.where()) || len(resolved) > 0 && byID[p.CommitID].In["wc"] {
				continue
			}
			conf, err := parkedConflict(ctx, q, o, p, byID[p.CommitID], upID)
			if err != nil {
				return nil, err
			}
			if conf != nil {
				s.Conflicts = append(s.Conflicts, *conf)
			}
		}
		if o.CheckWorkingCopy && len(s.Conflicts) == 0 && len(resolved) == 0 {
			wc, err := q.Commits(ctx, "@", 1)
			if err != nil {
				return nil, err
			}
			if len(wc) == 1 {
				p := parked{StatusBookmark: jj.StatusBookmark{CommitID: wc[0].CommitID}, host: o.Host}
				conf, err := parkedConflict(ctx, q, o, p, wc[0], upID)
				if err != nil {
					return nil, err
				}
				if conf != nil {
					s.Conflicts = append(s.Conflicts, *conf)
				}
			}
		}
	}

	files := map[string]bool{}
	for _, c := range s.Conflicts {
		for _, f := range c.Files {
			files[f.Path] = true
		}
	}
	for f := range files {
		s.Files = append(s.Files, f)
	}
	sort.Strings(s.Files)
	return s, nil
}

// resolvedInWorkingCopy returns the files of the conflicted commits under
// the working copy when the working copy resolves all of them, else nil.
// jj is asked without a snapshot, so when jj still records the working
// copy as conflicted, its files on disk are read: they are what the next
// snapshot records, and chezmoi-sync --continue refuses any marker line
// left in them.
func resolvedInWorkingCopy(ctx context.Context, q *jj.StatusQuery, dir string, commits []jj.StatusCommit) ([]string, error) {
	var under []string
	wc := ""
	for _, c := range commits {
		switch {
		case !c.Conflict || !c.In["wc"]:
		case c.WorkingCopy:
			wc = c.CommitID
		default:
			under = append(under, c.CommitID)
		}
	}
	if len(under) == 0 {
		return nil, nil
	}
	if wc != "" {
		paths, err := q.ConflictedPaths(ctx, wc)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if holdsMarkerLines(filepath.Join(dir, p)) {
				return nil, nil
			}
		}
	}
	files := map[string]bool{}
	for _, id := range under {
		paths, err := q.ConflictedPaths(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			files[p] = true
		}
	}
	out := make([]string, 0, len(files))
	for f := range files {
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}

// holdsMarkerLines: a file with a line that starts like a conflict
// marker. A file deleted in the working copy resolves its conflict as a
// deletion.
func holdsMarkerLines(path string) bool {
	data, ok := ReadSmall(path)
	return ok && mergetext.HasMarkerLines(data)
}

// ReadSmall reads a regular file (never through a link) of at most 8 MiB,
// the size up to which chezmoi-sync looks for conflict markers.
func ReadSmall(path string) ([]byte, bool) {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 8<<20 {
		return nil, false
	}
	data, err := os.ReadFile(path)
	return data, err == nil
}

// inherited reports a commit that only carries its parent's conflict: it
// changes nothing itself (the empty working-copy commit on top of a
// conflicted one), and resolving the parent resolves it.
func inherited(c jj.StatusCommit, conflicted map[string]bool) bool {
	if !c.Empty {
		return false
	}
	for _, p := range c.Parents {
		if conflicted[p] {
			return true
		}
	}
	return false
}

func nonNilSides(s []Side) []Side {
	if s == nil {
		return []Side{}
	}
	return s
}

func hasConflictUnder(cs []Conflict, where string) bool {
	for _, c := range cs {
		if c.Where == where {
			return true
		}
	}
	return false
}

// parked is one sync/<host> bookmark to look at.
type parked struct {
	jj.StatusBookmark
	host string
}

func (p parked) where() string {
	if p.Name == "" {
		return "working-copy"
	}
	if p.Remote == "" {
		return p.Name
	}
	return p.Name + "@" + p.Remote
}

// parkedBookmarks lists this host's sync/<host> (local, else its remote
// copy), and with AllHosts every host's.
func parkedBookmarks(ctx context.Context, q *jj.StatusQuery, o Options) ([]parked, error) {
	bms := o.Bookmarks
	if bms == nil {
		var err error
		if bms, err = q.Bookmarks(ctx, hostkey.ParkPrefix+"*"); err != nil {
			return nil, err
		}
	}
	local := map[string]bool{}
	for _, b := range bms {
		if b.Remote == "" {
			local[b.Name] = true
		}
	}
	var out []parked
	for _, b := range bms {
		host := strings.TrimPrefix(b.Name, hostkey.ParkPrefix)
		if host != o.Host && !o.AllHosts {
			continue
		}
		// The local bookmark is the host's own truth; its copy on the
		// remote lags until the next sync pushes (or deletes) it.
		if b.Remote != "" && (b.Remote != o.Remote || local[b.Name]) {
			continue
		}
		if b.CommitID == "" {
			// A conflicted bookmark (name??) points nowhere in particular:
			// every target is listed by the conflicted-commit scan below.
			continue
		}
		out = append(out, parked{StatusBookmark: b, host: host})
	}
	return out, nil
}

// parkedConflict merges the parked head with the upstream head in a
// throw-away object directory (git merge-tree writes the merged trees
// somewhere; never into the repository) and returns nil when they merge
// cleanly.
func parkedConflict(ctx context.Context, q *jj.StatusQuery, o Options, p parked, head jj.StatusCommit, upID string) (*Conflict, error) {
	if head.CommitID == "" {
		return nil, nil
	}
	ahead, err := q.Commits(ctx, fmt.Sprintf("%s..%s", upID, p.CommitID), 0)
	if err != nil {
		return nil, err
	}
	if len(ahead) == 0 {
		return nil, nil // already part of the upstream branch
	}
	markers, paths, err := mergeTreeConflicts(ctx, o, upID, p.CommitID)
	if err != nil || len(paths) == 0 {
		return nil, err
	}
	conf := &Conflict{Kind: KindParked, Where: p.where(), Host: p.host, ThisHost: p.host == o.Host,
		Commit: head, Local: ahead, Remote: []jj.StatusCommit{}}
	if p.Name != "" {
		conf.Bookmark = p.where()
	}
	remote, err := q.Commits(ctx, fmt.Sprintf("%s..%s", p.CommitID, upID), 0)
	if err != nil {
		return nil, err
	}
	conf.Remote = remote
	for _, path := range paths {
		m := markers[path]
		f := File{Path: path, Hunks: m.Hunks, Sides: []Side{}}
		// git merge-tree writes the first argument (upstream) as side 1.
		for i, side := range []struct{ label, from, to string }{
			{o.Branch + "@" + o.Remote, p.CommitID, upID}, // theirs: what the upstream branch did to the file
			{p.where(), upID, p.CommitID},                 // ours: what the parked commits did to it
		} {
			cs, err := q.Commits(ctx, fmt.Sprintf("files(root-file:%s) & (%s..%s)", jj.StatusRevsetString(path), side.from, side.to), 0)
			if err != nil {
				return nil, err
			}
			sd := Side{Label: side.label}
			if i < len(m.Sides) {
				sd.Lines, sd.Preview = m.Sides[i].Lines, m.Sides[i].Preview
			}
			if len(cs) > 0 {
				sd.Label += fmt.Sprintf(": %s %s %q", brief.ID(cs[0].ChangeID), brief.ID(cs[0].CommitID), cs[0].Description)
				if len(cs) > 1 {
					sd.Label += fmt.Sprintf(" and %d more", len(cs)-1)
				}
			}
			f.Sides = append(f.Sides, sd)
		}
		switch {
		case m.Binary:
			f = binaryFile(f)
		case m.Hunks == 0:
			// git wrote the changed side without markers: a deletion.
			f = binaryFile(f)
			f.Binary, f.Deleted = false, true
		}
		conf.Files = append(conf.Files, f)
	}
	conf.Resolve = resolveParked(o, *conf)
	return conf, nil
}

// MergeConflicts lists the paths that conflict when commits a and b of the
// repository in sourceDir are merged, without changing the repository (a
// throw-away object directory, as for a parked bookmark).
func MergeConflicts(ctx context.Context, r runner.Runner, sourceDir, a, b string) ([]string, error) {
	_, paths, err := mergeTreeConflicts(ctx, Options{Runner: r, SourceDir: sourceDir}, a, b)
	sort.Strings(paths)
	return paths, err
}

// MergeTexts is MergeConflicts with, per conflicted path, the merged file
// git wrote in diff3 style (<<<<<<< ||||||| ======= >>>>>>>, the base
// included, as pkg/mergetext reads it; "" for a conflict without a text:
// a deletion, a binary file). a is side 1.
func MergeTexts(ctx context.Context, r runner.Runner, sourceDir, a, b string) (map[string]string, error) {
	markers, _, err := mergeTreeConflicts(ctx, Options{Runner: r, SourceDir: sourceDir, diff3: true}, a, b)
	texts := map[string]string{}
	for p, m := range markers {
		texts[p] = m.text
	}
	return texts, err
}

// mergeTreeConflicts merges a and b with git merge-tree and returns each
// conflicted path with the conflict markers git wrote into the merged file.
// Objects go to a temporary directory; the repository's own objects are
// only read (as an alternate), so the repository is not touched.
func mergeTreeConflicts(ctx context.Context, o Options, a, b string) (map[string]Markers, []string, error) {
	tmp, err := os.MkdirTemp(o.TempDir, "show-conflicts-objects-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	gitDir := gitDirOf(o.SourceDir)
	var style []string
	if o.diff3 {
		style = []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=merge.conflictStyle", "GIT_CONFIG_VALUE_0=diff3"}
	}
	git := func(args ...string) (runner.Result, error) {
		return o.Runner.Run(ctx, runner.Cmd{
			Name: "git",
			Args: append([]string{"--git-dir", gitDir}, args...),
			Env: append([]string{
				"GIT_OBJECT_DIRECTORY=" + tmp,
				"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(gitDir, "objects"),
			}, style...),
			Timeout: time.Minute,
		})
	}
	// -Xno-renames: jj follows no renames. A source file renamed on one
	// side (chezmoi renames dot_x to executable_dot_x for chmod +x) and
	// edited on the other is a conflict for jj, so it is one here too.
	res, err := git("merge-tree", "--write-tree", "--name-only", "--no-messages", "-Xno-renames", "-z", a, b)
	if err != nil {
		var ee *runner.ExitError
		// Exit 1 is "the merge has conflicts", the answer we are after.
		if !errors.As(err, &ee) || ee.Code != 1 {
			return nil, nil, err
		}
	}
	// -z output: the merged tree id, then the conflicted paths, NUL-separated.
	parts := strings.Split(string(res.Stdout), "\x00")
	markers := map[string]Markers{}
	var paths []string
	for i, p := range parts {
		if i == 0 || p == "" {
			continue
		}
		if _, dup := markers[p]; dup {
			continue
		}
		m := Markers{}
		// A modify/delete conflict has no file with markers: Markers stays empty.
		if blob, err := git("cat-file", "blob", parts[0]+":"+p); err == nil {
			m = ParseMarkers(string(blob.Stdout))
			m.Binary = bytes.IndexByte(blob.Stdout, 0) >= 0 // git writes one side, no markers
			m.text = string(blob.Stdout)
		}
		markers[p] = m
		paths = append(paths, p)
	}
	return markers, paths, nil
}

// gitDirOf finds the git repository behind a jj repository: .git when
// colocated (what chezmoi-sync creates), else the store jj points at.
func gitDirOf(dir string) string {
	colocated := filepath.Join(dir, ".git")
	if st, err := os.Stat(colocated); err == nil && st.IsDir() {
		return colocated
	}
	store := filepath.Join(dir, ".jj", "repo", "store")
	if target, err := os.ReadFile(filepath.Join(store, "git_target")); err == nil {
		p := strings.TrimSpace(string(target))
		if !filepath.IsAbs(p) {
			p = filepath.Join(store, p)
		}
		return filepath.Clean(p)
	}
	return colocated
}

// resolveCommit is the recipe for a conflicted commit of this host: the
// one recipe (Recipe) whatever the number of commits.
func resolveCommit(o Options, c Conflict) []string {
	if !c.ThisHost {
		return otherHost(c)
	}
	return Recipe(o.SourceDir, o.Branch+"@"+o.Remote, hostkey.ParkBookmark(c.Host), filePaths(c.Files))
}

// resolveParked is the recipe for a parked bookmark: the same one.
func resolveParked(o Options, c Conflict) []string {
	if !c.ThisHost {
		return otherHost(c)
	}
	return Recipe(o.SourceDir, o.Branch+"@"+o.Remote, hostkey.ParkBookmark(c.Host), filePaths(c.Files))
}

func otherHost(c Conflict) []string {
	return []string{fmt.Sprintf("# parked by host %s: run chezmoi-show-conflicts there and resolve it on that host", c.Host)}
}

func filePaths(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// Recipe is the one way to resolve this host's parked or conflicted sync
// commits, however many runs parked them: one command that takes a side
// for each conflicting hunk (chezmoi-sync --keep-local / --take-remote;
// Choices), or a merge by hand (HandRecipe): replay every local commit
// onto the upstream branch (the conflict markers then appear in the
// working copy's files), fix the files, run chezmoi-sync --continue (which
// folds the conflicted commits into the resolution, publishes it, deletes
// the bookmark sync/<host> and applies it). chezmoi-sync's next step,
// chezmoi-show-conflicts and docs/chezmoi-sync.md print exactly these
// lines (a test compares them). files are relative to sourceDir.
func Recipe(sourceDir, upstream, bookmark string, files []string) []string {
	lines := Choices(sourceDir, upstream, files)
	lines = append(lines, "# or merge by hand:")
	return append(lines, HandRecipe(sourceDir, upstream, bookmark, files)...)
}

// Choices are the one-command resolutions: this host's side or the
// upstream branch's side of each conflicting hunk (an encrypted file: of
// the whole file). The side not taken stays in a commit.
func Choices(sourceDir, upstream string, files []string) []string {
	args := strings.Join(PathArgs(sourceDir, files), " ")
	if args != "" {
		args = " " + args
	}
	return []string{
		"chezmoi-sync --keep-local" + args + "   # keep this host's side of each conflicting hunk (chezmoi-show-conflicts shows both sides)",
		"chezmoi-sync --take-remote" + args + "   # or take " + upstream + "'s side; the side not taken stays in a commit (chezmoi-show-conflicts --history)",
	}
}

// HandRecipe is the merge by hand.
func HandRecipe(sourceDir, upstream, bookmark string, files []string) []string {
	var plain, encrypted []string
	for _, f := range files {
		if chezmoi.ParseSourceName(f).Encrypted {
			encrypted = append(encrypted, f)
		} else {
			plain = append(plain, f)
		}
	}
	lines := []string{
		"cd " + shellQuote(sourceDir),
		"jj rebase -b @ -d " + upstream + "   # replay your commits onto " + upstream + ": the conflicts appear in the files",
	}
	switch {
	case len(plain) > 0:
		lines = append(lines, "${EDITOR:-vi} "+strings.Join(quoteAll(plain), " ")+"   # keep what you want, delete the conflict markers")
	case len(files) == 0:
		lines = append(lines, "${EDITOR:-vi} $(chezmoi-show-conflicts --files-only)   # keep what you want, delete the conflict markers")
	}
	// An encrypted file's markers would sit in its ciphertext: editing
	// them breaks the file. Take one side whole.
	for _, f := range encrypted {
		lines = append(lines, "jj restore --from "+upstream+" "+shellQuote(jj.RootFile(f))+"   # encrypted: takes "+upstream+"'s version; to keep yours, chezmoi encrypt your text into it instead")
	}
	return append(lines, ContinueNext(bookmark))
}

// PathArgs names conflicted source files (relative to sourceDir) the way
// chezmoi-sync --keep-local and --take-remote take them: ~/.bashrc for a
// file with a target in the home directory, else the source path.
func PathArgs(sourceDir string, files []string) []string {
	root := ""
	if data, err := os.ReadFile(filepath.Join(sourceDir, ".chezmoiroot")); err == nil {
		root = strings.Trim(strings.TrimSpace(string(data)), "/") + "/"
	}
	out := make([]string, 0, len(files))
	for _, f := range files {
		rel, ok := strings.CutPrefix(f, root)
		t, isTarget := chezmoi.TargetName(rel)
		if ok && isTarget {
			out = append(out, "~/"+shellQuote(t))
		} else {
			out = append(out, shellQuote(f))
		}
	}
	return out
}

// RecipeLine is Recipe as one line (comments dropped), for records and
// notifications.
func RecipeLine(sourceDir, upstream, bookmark string, files []string) string {
	strip := func(lines []string) []string {
		for i, l := range lines {
			if j := strings.Index(l, "   #"); j >= 0 {
				lines[i] = l[:j]
			}
		}
		return lines
	}
	c := strip(Choices(sourceDir, upstream, files))
	return c[0] + " (this host's side) or " + c[1] + " (" + upstream + "'s side); or by hand: " +
		strings.Join(strip(HandRecipe(sourceDir, upstream, bookmark, files)), " && ")
}

func quoteAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = shellQuote(s)
	}
	return out
}

// ShellQuote quotes s for a POSIX shell when it needs it.
func ShellQuote(s string) string { return shellQuote(s) }

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
