// Package reflock decides whether a git ref lock (refs/heads/<b>.lock) of a
// repository on this machine was left by a killed push, and so may be
// removed.
//
// git gives no way to tell a held lock from an abandoned one, and removing
// a held one is not harmless: the push that holds it later renames
// "<ref>.lock" over the ref by path, so if another push has taken a new
// lock meanwhile, the first push publishes the second's value as its own
// and a commit vanishes from the branch (attack 4, F1). So a lock counts
// as abandoned only when every writer that could hold it is known to be
// gone:
//   - the repository is on a local file system (a network file system's
//     writers may be on other machines, which this one cannot see);
//   - no git receive-pack on this machine works in that repository (a
//     local push runs one there for as long as it holds the lock, hooks
//     included); one whose directory cannot be read (another user's)
//     counts as working there;
//   - the lock stays the same file, unchanged, for the whole watch.
package reflock

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Verdict is Judge's answer: Stale, or why not.
type Verdict struct {
	Stale bool
	// Why names what keeps the lock (empty when Stale): a network file
	// system, a push running on this machine, a lock that changed.
	Why string
	// Network: the repository is on a network file system: only a person
	// can know no other machine pushes (the next step says so).
	Network bool
}

// Watch is how long a lock must stay unchanged, Poll how often it is
// looked at. Variables so tests of callers can shorten them.
var (
	Watch = 10 * time.Second
	Poll  = 100 * time.Millisecond
)

// Judge decides whether lock, a ref lock inside the repository repoDir
// (its git directory), was abandoned by a killed push.
func Judge(ctx context.Context, lock, repoDir string) Verdict {
	first, err := os.Stat(lock)
	if err != nil {
		return Verdict{Why: "the lock went away (the push that held it ended)"}
	}
	if fs, ok := networkFS(filepath.Dir(lock)); ok {
		return Verdict{Why: fmt.Sprintf("%s is on a network file system (%s): a push from another machine may hold it", repoDir, fs), Network: true}
	}
	if pid, ok := receivePackIn(repoDir); ok {
		return Verdict{Why: fmt.Sprintf("a push into %s is running on this machine (git receive-pack, pid %d)", repoDir, pid)}
	}
	if !unchanged(ctx, lock, first) {
		return Verdict{Why: "the lock changed while it was watched (a push is working)"}
	}
	// A push may have started during the watch and be about to lock again.
	if pid, ok := receivePackIn(repoDir); ok {
		return Verdict{Why: fmt.Sprintf("a push into %s is running on this machine (git receive-pack, pid %d)", repoDir, pid)}
	}
	return Verdict{Stale: true}
}

// unchanged reports whether path stays the same file, with the same size
// and mtime, for Watch (this process's monotonic clock; a lock's mtime
// says nothing across file systems and clocks); false as soon as it goes
// away or changes, or ctx ends.
func unchanged(ctx context.Context, path string, first os.FileInfo) bool {
	until := time.Now().Add(Watch)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(Poll):
		}
		cur, err := os.Stat(path)
		if err != nil || !os.SameFile(first, cur) || cur.Size() != first.Size() || !cur.ModTime().Equal(first.ModTime()) {
			return false
		}
		if time.Now().After(until) {
			return true
		}
	}
}

// networkMagic are statfs(2) f_type values of file systems whose writers
// may be on other machines.
var networkMagic = map[int64]string{
	0x6969:     "nfs",
	0x517b:     "smb",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x65735546: "fuse",
	0x01021997: "9p",
	0x00c36400: "ceph",
	0x5346414f: "afs",
	0x73757245: "coda",
	0x564c:     "ncp",
	0x47504653: "gpfs",
	0x0bd00bd0: "lustre",
}

// networkFS names the network file system dir is on; an unreadable one
// counts as network (nothing is proven).
func networkFS(dir string) (string, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown: " + err.Error(), true
	}
	name, ok := networkMagic[int64(st.Type)&0xffffffff]
	return name, ok
}

// procDir is /proc (tests of this package point it elsewhere).
var procDir = "/proc"

// receivePackIn finds a git receive-pack process working in repoDir (its
// current directory: receive-pack enters the repository before it takes
// any lock). A receive-pack whose directory cannot be read counts; so
// does a /proc that hides other users' processes (hidepid), since then
// nothing is proven.
func receivePackIn(repoDir string) (int, bool) {
	want := canonical(repoDir)
	if _, err := os.Stat(filepath.Join(procDir, "1")); err != nil {
		return 1, true // hidepid: other users' processes are invisible
	}
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return 0, true
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		if err != nil || !isReceivePack(cmd) {
			continue
		}
		cwd, err := os.Readlink(filepath.Join(procDir, e.Name(), "cwd"))
		if err != nil {
			if os.IsNotExist(err) {
				continue // exited meanwhile
			}
			return pid, true
		}
		if canonical(cwd) == want {
			return pid, true
		}
	}
	return 0, false
}

// isReceivePack reports whether a NUL-separated cmdline runs git's
// receive-pack: "git-receive-pack DIR" (how git starts it for a local
// push) or "git receive-pack DIR".
func isReceivePack(cmdline []byte) bool {
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if len(args) == 0 {
		return false
	}
	if filepath.Base(string(args[0])) == "git-receive-pack" {
		return true
	}
	return len(args) > 1 && filepath.Base(string(args[0])) == "git" && string(args[1]) == "receive-pack"
}

func canonical(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return filepath.Clean(p)
}
