package chezmoi

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path/filepath"
	"sort"
)

// Why a home edit waits for the user instead of being captured. Each kind
// has a fix (Waiting.Next) the sync prints and records.
const (
	WaitTemplate  = "template"         // the target is rendered from a .tmpl
	WaitEncrypted = "encrypted"        // re-adding needs the encryption key
	WaitModify    = "modify"           // a modify_ script would rewrite the edit
	WaitLoosened  = "private-loosened" // a private_ target became readable by others
	WaitExtra     = "exact-extra"      // an unmanaged file in an exact_ directory
	WaitDeleted   = "deleted"          // deleted at home; apply would re-create it
	WaitRemoved   = "removed-in-source"
	WaitDirMode   = "dir-mode" // a managed directory's mode changed at home
	WaitUnknown   = "unknown"  // no source chezmoi can name
	WaitUnmerged  = "unmerged" // changed at home and in the source, no clean merge
	WaitSkipped   = "skipped"  // apply left it alone (changed since chezmoi wrote it)
	WaitMarkers   = "markers"  // the home file holds conflict-marker lines: never captured
	// WaitNotCaptured: re-add ran but chezmoi did not record the file.
	WaitNotCaptured = "not-captured"
	// WaitTypeChanged: a file became a symlink or a directory at home (or
	// the other way): never published by itself (a link into this home
	// directory would land on every host).
	WaitTypeChanged = "type-changed"
	// WaitExternal: an edited target of a .chezmoiexternal entry, which
	// re-add cannot write back.
	WaitExternal = "external"
)

// Waiting is one home edit (or unmanaged file) the sync leaves alone and
// reports, with what the user can do about it.
type Waiting struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	Next string `json:"next"`
}

// Managed is one target of `chezmoi managed -f json -p all`.
type Managed struct {
	Source   string // absolute source path ("" for remove entries without one)
	Relative string // relative to the source root ("" likewise)
}

// Input is what Classify needs; the functions are injected so the rules
// are table-tested without a file system.
type Input struct {
	Changes []Change
	Managed map[string]Managed // absolute target -> source; every managed target
	Written map[string]string  // chezmoi's entryState: target -> SHA-256 ("" for non-files); nil: unknown
	Lstat   func(string) (fs.FileInfo, error)
	Hash    func(string) (string, error) // SHA-256 (hex) of a home file
	// ReadDir and Readlink read a home directory apply would replace or
	// remove (links not followed): it is copied first unless all it
	// holds is what chezmoi wrote. Nil: never read, so it is copied.
	ReadDir  func(string) ([]fs.DirEntry, error)
	Readlink func(string) (string, error)
	// Externals are the targets of .chezmoiexternal entries (their
	// "source" is no file of the source directory): never capturable.
	Externals map[string]bool
}

// Classified says what a sync does with each line of `chezmoi status`.
type Classified struct {
	Capture   []string  // home edits re-add captures
	Links     []string  // re-pointed symlinks (`chezmoi add`; re-add ignores symlinks)
	Waiting   []Waiting // edits left alone and reported
	Pending   []string  // source changes apply would write (not edited at home)
	Removals  []string  // of those, targets apply would remove
	Scripts   []string  // run_once_/run_onchange_ scripts apply would run
	Protected []string  // targets apply must not touch
	Backup    []string  // existing targets apply would overwrite or remove that chezmoi never wrote (a directory: with all it holds)
}

// Classify applies chezmoi-sync's rules to every status line
// (docs/chezmoi-sync.md, "chezmoi's source state").
func Classify(in Input) Classified {
	var c Classified
	for _, e := range in.Changes {
		m, known := in.Managed[e.Path]
		a := ParseSourceName(m.Relative)
		switch {
		case e.Target == 'R':
			if a.Script == "once" || a.Script == "onchange" {
				c.Scripts = append(c.Scripts, e.Path)
			}
		case e.Actual == 'D':
			c.wait(e.Path, WaitDeleted)
		case e.Actual != ' ':
			c.homeEdit(in, e, m, a, known)
		case e.Target == 'D':
			c.removal(in, e.Path, m, a)
		case e.Target != ' ':
			c.Pending = append(c.Pending, e.Path)
			// A home directory stays one only where the source has one.
			c.backupIfForeign(in, e.Path, sourceKind(in, m, a) != "dir")
		}
	}
	sort.Strings(c.Protected)
	return c
}

// homeEdit classifies a target changed at home since chezmoi last wrote it.
func (c *Classified) homeEdit(in Input, e Change, m Managed, a Attrs, known bool) {
	if e.Target == ' ' {
		return // home already equals the target state: nothing to capture
	}
	st, err := lstat(in, e.Path)
	switch {
	case !known:
		c.wait(e.Path, WaitUnknown)
	case in.Externals[e.Path]:
		c.wait(e.Path, WaitExternal)
	case e.Target == 'D':
		c.wait(e.Path, WaitRemoved)
	case err == nil && kindOf(st) != sourceKind(in, m, a):
		c.wait(e.Path, WaitTypeChanged)
	case a.Template:
		c.wait(e.Path, WaitTemplate)
	case a.Encrypted:
		c.wait(e.Path, WaitEncrypted)
	case a.Modify:
		c.wait(e.Path, WaitModify)
	case a.Create || a.Script != "":
		// create_ targets are the user's once written; scripts have no target
	case err == nil && a.Private && st.Mode().Perm()&0o077 != 0:
		c.wait(e.Path, WaitLoosened)
	case err == nil && st.IsDir():
		c.wait(e.Path, WaitDirMode)
	case a.Symlink || err == nil && st.Mode()&fs.ModeSymlink != 0:
		c.Links = append(c.Links, e.Path)
	default:
		c.Capture = append(c.Capture, e.Path)
	}
}

// kindOf is "link", "dir" or "file".
func kindOf(st fs.FileInfo) string {
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		return "link"
	case st.IsDir():
		return "dir"
	}
	return "file"
}

// sourceKind is what the source entry makes at home: a symlink_ file a
// link, a source directory a directory, any other file a file.
func sourceKind(in Input, m Managed, a Attrs) string {
	if a.Symlink {
		return "link"
	}
	if st, err := lstat(in, m.Source); err == nil && st.IsDir() {
		return "dir"
	}
	return "file"
}

// removal classifies a target apply would remove: remove_ entries and
// .chezmoiremove patterns are deliberate; a file chezmoi does not know in
// an exact_ directory is kept (apply would delete it unattended), unless
// chezmoi wrote exactly this content there itself (its source was removed
// upstream).
func (c *Classified) removal(in Input, target string, m Managed, a Attrs) {
	parent := ParseSourceName(in.Managed[filepath.Dir(target)].Relative)
	if m.Relative == "" && parent.Exact && !c.wroteThis(in, target) {
		c.wait(target, WaitExtra)
		return
	}
	c.Pending = append(c.Pending, target)
	c.Removals = append(c.Removals, target)
	c.backupIfForeign(in, target, true)
}

// wroteThis: the home file is what chezmoi last wrote there.
func (c *Classified) wroteThis(in Input, target string) bool {
	sum, ok := in.Written[target]
	if !ok || sum == "" || in.Hash == nil {
		return ok && sum == "" // a symlink or directory chezmoi made
	}
	got, err := in.Hash(target)
	return err == nil && got == sum
}

// backupIfForeign marks an existing target that chezmoi never wrote (a
// first run on a machine, a file another host started managing): apply
// replaces or removes it, so the sync copies it first. A directory is
// marked only when apply replaces or removes it (replacesDir: apply
// deletes it with everything in it), unless every entry of it is what
// chezmoi last wrote: a directory chezmoi made can hold the user's own
// files.
func (c *Classified) backupIfForeign(in Input, target string, replacesDir bool) {
	st, err := lstat(in, target)
	if err != nil {
		return
	}
	if st.IsDir() {
		if replacesDir && !treeWritten(in, target, st) {
			c.Backup = append(c.Backup, target)
		}
		return
	}
	if _, wrote := in.Written[target]; wrote && in.Written != nil {
		return
	}
	c.Backup = append(c.Backup, target)
}

// treeWritten: p (st) is what chezmoi last wrote there, and for a
// directory so is every entry in it, links not followed.
func treeWritten(in Input, p string, st fs.FileInfo) bool {
	sum, ok := in.Written[p]
	switch {
	case !ok:
		return false
	case st.IsDir():
		if sum != "" || in.ReadDir == nil {
			return false // chezmoi wrote a file there, not this directory
		}
		entries, err := in.ReadDir(p)
		if err != nil {
			return false
		}
		for _, e := range entries {
			q := filepath.Join(p, e.Name())
			est, err := lstat(in, q)
			if err != nil || !treeWritten(in, q, est) {
				return false
			}
		}
		return true
	case st.Mode()&fs.ModeSymlink != 0:
		if in.Readlink == nil {
			return false
		}
		// chezmoi records a link by the hash of where it points.
		target, err := in.Readlink(p)
		h := sha256.Sum256([]byte(target))
		return err == nil && sum == hex.EncodeToString(h[:])
	case st.Mode().IsRegular():
		if in.Hash == nil {
			return false
		}
		got, err := in.Hash(p)
		return err == nil && sum != "" && got == sum
	}
	return false
}

func (c *Classified) wait(path, kind string) {
	c.Waiting = append(c.Waiting, Waiting{Path: path, Kind: kind, Next: WaitNext(kind, path)})
	c.Protected = append(c.Protected, path)
}

func lstat(in Input, p string) (fs.FileInfo, error) {
	if in.Lstat == nil {
		return nil, fs.ErrNotExist
	}
	return in.Lstat(p)
}

// WaitNext is what the user can do about a waiting edit of kind.
func WaitNext(kind, path string) string {
	q := shellQuote(path)
	switch kind {
	case WaitTemplate:
		return "it comes from a template, which re-add cannot write back: move the edit into the template (chezmoi edit " + q + ")"
	case WaitEncrypted:
		return "it is encrypted: capture it yourself with chezmoi re-add " + q + " (needs your key)"
	case WaitModify:
		return "its modify_ script would rewrite your edit: change the script (chezmoi edit " + q + ") or take the script's version (chezmoi apply " + q + ")"
	case WaitLoosened:
		return "it is private_ but others may now read it: chmod go-rwx " + q + " to keep it private, or chezmoi chattr -- -private " + q + " to make it readable on every host"
	case WaitExtra:
		return "it is in an exact_ directory but chezmoi does not manage it, so apply would delete it: chezmoi add " + q + " to keep it on every host, or delete it"
	case WaitDeleted:
		return "it was deleted at home and apply would re-create it: chezmoi forget " + q + " to stop managing it, or chezmoi apply " + q + " to restore it"
	case WaitRemoved:
		return "it was removed from the source but you edited it: chezmoi add " + q + " to manage it again, or delete it"
	case WaitDirMode:
		return "the directory's mode changed at home: chezmoi chattr to record it, or chezmoi apply " + q + " to restore it"
	case WaitExternal:
		return "it comes from a .chezmoiexternal entry, which chezmoi-sync cannot capture (chezmoi re-add does nothing for it): make the change where the external comes from, or in the .chezmoiexternal entry; chezmoi apply --force " + q + " takes the external's version back (copy your edit first)"
	case WaitTypeChanged:
		return "its type changed at home (a file became a symlink or a directory, or the other way), which chezmoi-sync does not publish by itself (a link into this home directory would land on every host): to publish it on purpose, chezmoi add " + q + " then chezmoi-sync; to get chezmoi's version back, move yours aside (mv " + q + " " + shellQuote(path+".mine") + ") then chezmoi apply " + q
	case WaitUnmerged:
		return "changed both at home and in the source directory and the edits overlap: chezmoi merge " + q
	case WaitMarkers:
		// The lines may be the file's real content (a git tutorial, a
		// test fixture): never advise deleting them unconditionally.
		return "it holds lines that look like conflict markers (<<<<<<< ... >>>>>>>), so the sync does not capture it: if a merge left them, keep what you want and delete only those marker lines, then run chezmoi-sync; if they are the file's real content, delete nothing: chezmoi diff " + q + " shows the edit, chezmoi forget " + q + " keeps the file out of the sync"
	case WaitNotCaptured:
		return "chezmoi re-add did not capture it: chezmoi diff " + q + " shows how it differs; chezmoi re-add " + q + " tries again"
	case WaitSkipped:
		return "apply left it alone because it changed since chezmoi last wrote it: chezmoi diff " + q + " shows how; chezmoi merge " + q + " or chezmoi re-add " + q + " settles it"
	default:
		return "chezmoi-sync cannot capture it: chezmoi diff " + q + " shows how it differs"
	}
}

func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/' || r == '~' || r == '+' || r == ',') {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
