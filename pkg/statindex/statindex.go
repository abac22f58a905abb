// Package statindex remembers the lstat of a set of paths so a later run can
// tell, without reading any file, whether one of them may have changed: the
// same idea as git's index, used by chezmoi-sync to skip `chezmoi status`
// (which executes every template) when no managed file changed.
//
// An entry is unchanged when its size, mtime, ctime, inode, device and mode
// are all equal. Like git's index it is racy-safe: a file changed within
// the timestamp granularity of the moment its entry was taken could keep
// its mtime and size, so for an entry whose mtime or ctime is not clearly
// older than the snapshot ("racily clean") the snapshot also records a
// hash of its content (of the link target for a symlink, of the sorted
// names for a directory), and a later check compares that hash too.
//
// The caller takes the snapshot BEFORE it reads the files (chezmoi-sync:
// before `chezmoi status`), so the index describes what was read, never a
// later edit.
package statindex

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Racy is the margin within which an entry's timestamps count as too close
// to the moment the index was written. A stamp can be older than the write
// that made it by the file system's step (it truncates: ext3 and some NFS
// servers keep whole seconds, FAT and exFAT 2 s) plus a tick of the
// kernel's coarse clock; an edit after the snapshot in that same step
// keeps the stamps. A second was not enough: a file stamped in the second
// before the snapshot, edited just after it, looked unchanged. 3 s covers
// the 2 s step and the tick (TestCoarseTimestampsAreRacy).
const Racy = 3 * time.Second

// Entry is the lstat of one path. A path that did not exist is an entry
// with Missing set: its appearance is a change too.
type Entry struct {
	Path    string
	Missing bool
	Size    int64
	Mtime   int64 // ns
	Ctime   int64 // ns
	Ino     uint64
	Dev     uint64
	Mode    uint32
	Hash    string // hex SHA-256 of the content, for entries racy when taken
}

// Index is a set of entries and the time it was taken, plus free-form
// metadata the caller uses to decide whether the index applies at all (the
// directories it was built for, settings read while building it).
type Index struct {
	Written int64             // ns, taken after the last lstat
	Meta    map[string]string // caller's key/values (no newlines)
	Entries []Entry
}

// Stat takes the entry of one path.
func Stat(path string) Entry {
	st, err := os.Lstat(path)
	if err != nil {
		return Entry{Path: path, Missing: true}
	}
	e := Entry{Path: path, Size: st.Size(), Mtime: st.ModTime().UnixNano(), Mode: uint32(st.Mode())}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		e.Ino, e.Dev = sys.Ino, uint64(sys.Dev)
		e.Ctime = sys.Ctim.Sec*int64(time.Second) + sys.Ctim.Nsec
	}
	return e
}

// Snapshot takes the entries of paths (sorted, each once), stamps them
// with the current time, and hashes the entries that are racily clean.
func Snapshot(paths []string, meta map[string]string) *Index {
	uniq := append([]string(nil), paths...)
	sort.Strings(uniq)
	ix := &Index{Meta: meta}
	for i, p := range uniq {
		if i > 0 && p == uniq[i-1] {
			continue
		}
		ix.Entries = append(ix.Entries, Stat(p))
	}
	ix.Written = time.Now().UnixNano()
	for i := range ix.Entries {
		if ix.racy(ix.Entries[i]) {
			ix.Entries[i].Hash = Hash(ix.Entries[i])
		}
	}
	return ix
}

// racy: the entry's timestamps are too close to the snapshot's.
func (ix *Index) racy(e Entry) bool {
	limit := ix.Written - int64(Racy)
	return !e.Missing && (e.Mtime >= limit || e.Ctime >= limit)
}

// Hash is the content hash of an entry's path: file content, link target,
// or directory listing ("" when unreadable).
func Hash(e Entry) string {
	h := sha256.New()
	switch fs.FileMode(e.Mode).Type() {
	case fs.ModeSymlink:
		t, err := os.Readlink(e.Path)
		if err != nil {
			return ""
		}
		h.Write([]byte(t))
	case fs.ModeDir:
		names, err := os.ReadDir(e.Path)
		if err != nil {
			return ""
		}
		for _, n := range names {
			h.Write([]byte(n.Name() + "\x00"))
		}
	case 0:
		f, err := os.Open(e.Path)
		if err != nil {
			return ""
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return ""
		}
	default:
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Paths lists the paths of the index.
func (ix *Index) Paths() []string {
	out := make([]string, len(ix.Entries))
	for i, e := range ix.Entries {
		out[i] = e.Path
	}
	return out
}

// Changed compares the index with a later snapshot of the same paths and
// returns the first path that changed; "" when none did. An entry that
// was racily clean when taken must also have kept its content hash.
func (ix *Index) Changed(now *Index) string {
	if len(now.Entries) != len(ix.Entries) {
		return "the list of files"
	}
	for i, old := range ix.Entries {
		cur := now.Entries[i]
		if cur.Path != old.Path {
			return old.Path
		}
		cmp := cur
		cmp.Hash = old.Hash
		if cmp != old {
			return old.Path
		}
		if ix.racy(old) {
			if cur.Hash == "" {
				cur.Hash = Hash(cur)
			}
			if old.Hash == "" || cur.Hash != old.Hash {
				return old.Path
			}
		}
	}
	return ""
}

// Racily returns the paths whose timestamps were too close to the
// snapshot (the entries that carry a content hash).
func (ix *Index) Racily() []string {
	var out []string
	for _, e := range ix.Entries {
		if ix.racy(e) {
			out = append(out, e.Path)
		}
	}
	return out
}

// header is the first line of the file format: a version, so a format
// change is read as "no index" instead of garbage.
const header = "statindex 2"

// Marshal encodes the index: a header line, "meta key value" lines, a
// "written N" line, then one line per entry with the path last, so any
// byte but newline may appear in it (the caller leaves paths holding a
// newline out).
func (ix *Index) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	keys := make([]string, 0, len(ix.Meta))
	for k := range ix.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "meta %s %s\n", k, ix.Meta[k])
	}
	fmt.Fprintf(&b, "written %d\n", ix.Written)
	for _, e := range ix.Entries {
		m := 0
		if e.Missing {
			m = 1
		}
		hash := e.Hash
		if hash == "" {
			hash = "-"
		}
		fmt.Fprintf(&b, "%d %d %d %d %d %d %d %s %s\n", m, e.Size, e.Mtime, e.Ctime, e.Ino, e.Dev, e.Mode, hash, e.Path)
	}
	return b.Bytes()
}

// ErrFormat is returned for a file that is not an index of this version.
var ErrFormat = errors.New("not a stat index of this version")

// Unmarshal decodes Marshal's output.
func Unmarshal(data []byte) (*Index, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	if !sc.Scan() || sc.Text() != header {
		return nil, ErrFormat
	}
	ix := &Index{Meta: map[string]string{}}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "meta "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "meta "), " ")
			ix.Meta[k] = v
		case strings.HasPrefix(line, "written "):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "written "), 10, 64)
			if err != nil {
				return nil, ErrFormat
			}
			ix.Written = n
		default:
			e, err := parseEntry(line)
			if err != nil {
				return nil, err
			}
			ix.Entries = append(ix.Entries, e)
		}
	}
	if sc.Err() != nil || ix.Written == 0 {
		return nil, ErrFormat
	}
	return ix, nil
}

func parseEntry(line string) (Entry, error) {
	f := strings.SplitN(line, " ", 9)
	if len(f) != 9 || f[8] == "" || f[7] == "" || (f[0] != "0" && f[0] != "1") {
		return Entry{}, ErrFormat
	}
	var signed [3]int64
	for i := range signed {
		v, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return Entry{}, ErrFormat
		}
		signed[i] = v
	}
	var unsigned [3]uint64
	for i := range unsigned {
		v, err := strconv.ParseUint(f[4+i], 10, 64)
		if err != nil {
			return Entry{}, ErrFormat
		}
		unsigned[i] = v
	}
	hash := f[7]
	if hash == "-" {
		hash = ""
	}
	return Entry{Missing: f[0] == "1", Size: signed[0], Mtime: signed[1], Ctime: signed[2],
		Ino: unsigned[0], Dev: unsigned[1], Mode: uint32(unsigned[2]), Hash: hash, Path: f[8]}, nil
}

// Load reads an index file; a missing file matches fs.ErrNotExist.
func Load(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Unmarshal(data)
}

// IsNotExist reports a missing index file.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Check compares every entry with the file system as it is now, without
// building a new index: the path of the first change ("" when none), and
// whether some entry was racily clean (compared by content, and better
// rewritten: see Snapshot).
func (ix *Index) Check() (changed string, racy bool) {
	for _, old := range ix.Entries {
		cur := Stat(old.Path)
		cmp := cur
		cmp.Hash = old.Hash
		if cmp != old {
			return old.Path, false
		}
		if ix.racy(old) {
			racy = true
			if old.Hash == "" || Hash(cur) != old.Hash {
				return old.Path, racy
			}
		}
	}
	return "", racy
}

// afterCheck runs between Recheck's comparison and its new snapshot (tests
// put an edit there).
var afterCheck = func() {}

// Recheck is Check for a caller that trusts a clean index: the path of the
// first change ("" when none) and, when the index is clean but some entry
// was racily clean, a new snapshot to write in its place (nil otherwise),
// so later checks need no content hash. The new snapshot is compared with
// the index before it is returned: an edit made after the check but before
// the snapshot's lstat would otherwise be taken into the new index
// unseen, and every later check would call the edited file unchanged.
func (ix *Index) Recheck() (changed string, fresh *Index) {
	changed, racy := ix.Check()
	if changed != "" || !racy {
		return changed, nil
	}
	afterCheck()
	snap := Snapshot(ix.Paths(), nil)
	if changed := ix.Changed(snap); changed != "" {
		return changed, nil
	}
	return "", snap
}
