package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Edit is one change a person made on a host, and how to recognise it in a
// tree of the repository and in HOME.
type Edit struct {
	Host *Host
	Path string // HOME-relative target
	What string
	// Token is the unique text the edit put in place ("" for mode changes
	// and deletions).
	Token string
	// In reports whether ref of the git repository repo carries the edit.
	In func(repo, ref string) bool
	// Kept reports whether HOME still holds the edit.
	Kept func() bool
	// Source: Path is relative to the work tree (an edit in the source
	// directory), not to HOME.
	Source bool
	// ByDesign: chezmoi leaves this edit alone by contract (a create_
	// target), so keeping it in HOME is all that is asked.
	ByDesign   bool
	runsBefore int // runs of Host before the edit was made
}

func (e *Edit) where() string {
	if e.Source {
		return "<work tree>/" + e.Path
	}
	return "~/" + e.Path
}

// Record adds an edit to the fleet's ledger.
func (f *Fleet) Record(e *Edit) *Edit {
	e.runsBefore = len(e.Host.runs)
	f.ledger = append(f.ledger, e)
	return e
}

// marker is a token unique to one edit of one host in one fleet.
func (h *Host) marker() string {
	h.seq++
	return fmt.Sprintf("corpus-edit-%s-%d", h.Name, h.seq)
}

// AppendLine adds a comment line with a unique token to a home file (the
// comment leader the file's format uses) and records the edit.
func (h *Host) AppendLine(rel, leader, what string) *Edit {
	h.t.Helper()
	tok := h.marker()
	p := filepath.Join(h.Home, filepath.FromSlash(rel))
	old, err := os.ReadFile(p)
	must(h.t, err)
	text := string(old)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	info, err := os.Stat(p)
	must(h.t, err)
	must(h.t, os.WriteFile(p, []byte(text+leader+" "+tok+"\n"), info.Mode().Perm()))
	return h.f.Record(&Edit{Host: h, Path: rel, What: what, Token: tok, In: grepIn(h, tok), Kept: homeHas(h, rel, tok)})
}

// NewFile creates a home file holding a unique token and records the edit.
func (h *Host) NewFile(rel, leader, what string) *Edit {
	h.t.Helper()
	tok := h.marker()
	h.WriteHome(rel, leader+" "+tok+"\n")
	return h.f.Record(&Edit{Host: h, Path: rel, What: what, Token: tok, In: grepIn(h, tok), Kept: homeHas(h, rel, tok)})
}

// grepIn finds tok anywhere in ref.
func grepIn(h *Host, tok string) func(repo, ref string) bool {
	return func(repo, ref string) bool {
		return exists(repo) && h.Exec(repo, "git", "grep", "-q", "-F", tok, ref, "--").Code == 0
	}
}

// exists: a repository that is offline (moved away) carries nothing.
func exists(dir string) bool {
	_, err := os.Stat(dir)
	return err == nil
}

func homeHas(h *Host, rel, tok string) func() bool {
	return func() bool { return strings.Contains(h.ReadHome(rel), tok) }
}

// refs are the remote's main and every parked sync/<host> branch.
func (f *Fleet) refs() []string {
	out := []string{"main"}
	for _, line := range strings.Split(f.Hosts[0].Run(f.Remote, "git", "for-each-ref", "--format=%(refname:short)", "refs/heads/sync/"), "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// published reports the first remote ref that carries the edit ("" when none).
func (f *Fleet) published(e *Edit) string {
	for _, ref := range f.refs() {
		if e.In(f.Remote, ref) {
			return ref
		}
	}
	return ""
}

// Check proves the fleet's guarantees after a scenario:
//   - every edit of the ledger is on the remote's main, on a parked sync/<host>
//     branch, or kept in HOME and named in the last run's output and record
//     (and that run is not plain success: it left the edit to the user);
//   - every path a record lists as captured is really in a commit;
//   - no run removed a home file without naming it;
//   - no conflict markers in any HOME or on the remote's main;
//   - every exit code and status word is documented, and they agree.
func (f *Fleet) Check() {
	f.t.Helper()
	f.check(f.t)
}

// check reports to t (the ledger's own tests give it a recorder).
func (f *Fleet) check(t testing.TB) {
	t.Helper()
	for _, e := range f.ledger {
		f.checkEdit(t, e)
	}
	for _, h := range f.Hosts {
		for _, r := range h.runs {
			f.checkRun(t, h, r)
		}
		for _, p := range conflictMarkers(h) {
			t.Errorf("[%s] conflict markers in HOME: ~/%s", h.Name, p)
		}
	}
	if r := f.Hosts[0].Exec(f.Remote, "git", "grep", "-l", "-E", `^(<<<<<<<|>>>>>>>)( |$)`, "main", "--"); r.Code == 0 {
		t.Errorf("conflict markers committed to the remote's main:\n%s", r.Stdout)
	}
}

func (f *Fleet) checkEdit(t testing.TB, e *Edit) {
	t.Helper()
	if e.ByDesign {
		if !e.Kept() {
			t.Errorf("[%s] %s (%s): chezmoi must never touch it, but HOME lost it", e.Host.Name, e.What, e.where())
		}
		return
	}
	if f.published(e) != "" {
		return
	}
	last := e.Host.LastRun()
	switch {
	case len(e.Host.runs) == e.runsBefore:
		t.Errorf("[%s] %s (%s): not published and no sync ran after it", e.Host.Name, e.What, e.where())
	case !e.Kept():
		t.Errorf("[%s] LOST EDIT: %s (%s) is neither on the remote (main, sync/*) nor where it was made\n%s",
			e.Host.Name, e.What, e.where(), last)
	case !last.Names(e.Path):
		t.Errorf("[%s] HIDDEN EDIT: %s (%s) is not published and the last run does not name it in its output and record\n%s",
			e.Host.Name, e.What, e.where(), last)
	case last.Status() == "success":
		t.Errorf("[%s] %s (%s) waits for the user, yet the run says plain success\n%s", e.Host.Name, e.What, e.where(), last)
	}
}

func (f *Fleet) checkRun(t testing.TB, h *Host, r *Run) {
	t.Helper()
	codes, words := documented(t)
	if !codes[r.Code] {
		t.Errorf("exit code %d is not documented (docs/chezmoi-sync.md, Exit codes)\n%s", r.Code, r)
	}
	if r.Record == nil {
		t.Errorf("no JSON record printed\n%s", r)
	} else if !words[r.Status()] {
		t.Errorf("status %q is not documented (docs/chezmoi-sync.md, State)\n%s", r.Status(), r)
	}
	if want, ok := map[string]int{"success": 0, "conflicts-preserved": 5, "interrupted": 130}[r.Status()]; ok && r.Code != want {
		t.Errorf("status %q must exit %d\n%s", r.Status(), want, r)
	}
	for _, p := range r.Removed {
		if !r.Names(p) {
			t.Errorf("[%s] SILENT DELETION: the run removed ~/%s without naming it\n%s", h.Name, p, r)
		}
	}
	captured, _ := r.Record["captured"].([]any)
	for _, c := range captured {
		p, _ := c.(string)
		for _, e := range f.ledger {
			if e.Host != h || e.Source || e.ByDesign || !strings.HasSuffix(p, e.Path) {
				continue
			}
			if f.published(e) == "" && !e.In(h.Tree(), "HEAD") {
				t.Errorf("[%s] DISHONEST RECORD: %s (%s) is listed as captured but is in no commit\n%s", h.Name, e.What, e.where(), r)
			}
		}
	}
}

var markerLine = regexp.MustCompile(`(?m)^(<<<<<<<|>>>>>>>)( |$)`)

// conflictMarkers lists the home files (outside the tools' own directories)
// that hold conflict markers.
func conflictMarkers(h *Host) []string {
	var out []string
	for rel, digest := range h.homeTree() {
		if !strings.HasPrefix(digest, "file ") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(h.Home, rel))
		if err == nil && len(data) < 1<<20 && markerLine.Match(data) {
			out = append(out, rel)
		}
	}
	return out
}

// EditSource changes a file of the work tree (the way `chezmoi cd` and an
// editor do): change gets the old content and a unique token and returns
// the new content, which must hold the token.
func (h *Host) EditSource(rel, what string, change func(old, tok string) string) *Edit {
	h.t.Helper()
	tok := h.marker()
	p := filepath.Join(h.Tree(), filepath.FromSlash(rel))
	old, err := os.ReadFile(p)
	must(h.t, err)
	text := change(string(old), tok)
	if !strings.Contains(text, tok) {
		h.t.Fatalf("EditSource %s: the new content lacks the token", rel)
	}
	must(h.t, os.WriteFile(p, []byte(text), 0o644))
	return h.f.Record(&Edit{Host: h, Path: rel, What: what, Token: tok, Source: true, In: grepIn(h, tok),
		Kept: func() bool { return strings.Contains(h.ReadTree(rel), tok) }})
}

// Appending is a change for EditSource that adds one line.
func Appending(line string) func(old, tok string) string {
	return func(old, tok string) string {
		if old != "" && !strings.HasSuffix(old, "\n") {
			old += "\n"
		}
		return old + strings.ReplaceAll(line, "TOKEN", tok) + "\n"
	}
}

// Repoint points a home symlink somewhere else (a path holding a unique
// token) and records the edit.
func (h *Host) Repoint(rel, targetDir, what string) *Edit {
	h.t.Helper()
	target := targetDir + "/" + h.marker() + ".desktop"
	p := filepath.Join(h.Home, filepath.FromSlash(rel))
	must(h.t, os.Remove(p))
	must(h.t, os.Symlink(target, p))
	return h.f.Record(&Edit{Host: h, Path: rel, What: what, Token: target, In: grepIn(h, target),
		Kept: func() bool { got, _ := os.Readlink(p); return got == target }})
}

// Chmod changes a home file's mode and records the edit; entry is the
// source name that carries the new mode (e.g. "dot_config/x/executable_y").
func (h *Host) Chmod(rel string, mode os.FileMode, entry, what string) *Edit {
	h.t.Helper()
	p := filepath.Join(h.Home, filepath.FromSlash(rel))
	must(h.t, os.Chmod(p, mode))
	path := h.f.Snap.SourcePath(entry)
	return h.f.Record(&Edit{Host: h, Path: rel, What: what,
		In: func(repo, ref string) bool {
			return exists(repo) && h.Exec(repo, "git", "cat-file", "-e", ref+":"+path).Code == 0
		},
		Kept: func() bool {
			info, err := os.Stat(p)
			return err == nil && info.Mode().Perm() == mode
		}})
}

// Remove deletes a managed home file and records the edit: entry is its
// source name, whose absence on a ref carries the deletion.
func (h *Host) Remove(rel, entry, what string) *Edit {
	h.t.Helper()
	p := filepath.Join(h.Home, filepath.FromSlash(rel))
	must(h.t, os.Remove(p))
	path := h.f.Snap.SourcePath(entry)
	return h.f.Record(&Edit{Host: h, Path: rel, What: what,
		In: func(repo, ref string) bool {
			return exists(repo) && h.Exec(repo, "git", "rev-parse", "-q", "--verify", ref).Code == 0 &&
				h.Exec(repo, "git", "cat-file", "-e", ref+":"+path).Code != 0
		},
		Kept: func() bool { _, err := os.Lstat(p); return os.IsNotExist(err) }})
}
