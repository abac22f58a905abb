package chezmoisync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Capturing a home edit when the source changed too.
//
// `chezmoi status` shows "MM" for every home edit (the home file differs
// from what chezmoi last wrote AND from the target state), so it cannot tell
// a plain home edit from one whose source file ALSO changed since chezmoi
// last wrote the home file: an incoming commit rebased in but not applied
// yet (a failed push, an interrupted run), a resolved conflict, a
// `chezmoi edit`. For the second kind `chezmoi re-add` copies the home file
// over the source and silently reverts the source's change (and the sync
// then publishes the revert). So every home edit is checked first: the
// target state's hash against the hash chezmoi recorded when it last wrote
// (or captured) the file. Equal: the source did not move, re-add is exact.
// Different: the file has diverged, and it is captured by a real 3-way
// merge (base = the content chezmoi last wrote, found in the repository's
// history by that hash; ours = the source file; theirs = the home file).
// A clean merge is written to the home file and then re-added (so home,
// source and chezmoi's record agree); a conflicting merge, or a diverged
// file whose base cannot be found, is not captured at all: it is reported
// (unmerged_files) and both sides are left exactly as they are.

// splitCapture returns the targets re-add may copy as they are (after any
// clean merges were written to them) and the diverged targets it must not
// touch.
func (r *run) splitCapture(ctx context.Context, targets []string) (readd, unmerged []string, err error) {
	last := r.written
	if last == nil {
		if last, err = r.cm.LastWritten(ctx); err != nil {
			return nil, nil, fmt.Errorf("cannot read what chezmoi last wrote (chezmoi state): %w", err)
		}
	}
	var written []string
	for _, t := range targets {
		if sum := last[t]; sum != "" {
			written = append(written, t)
		} else {
			readd = append(readd, t) // never written by chezmoi: nothing on the source side to lose
		}
	}
	// One `chezmoi managed` for all of them; a plain source file is its
	// target's content, so only templates and encrypted files cost a
	// `chezmoi cat` each (a sync of 100 edited files stays a few processes).
	sources, err := r.cm.SourceFiles(ctx, written)
	if err != nil {
		return nil, nil, fmt.Errorf("chezmoi managed: %w", err)
	}
	for _, t := range written {
		sum := last[t]
		var target []byte
		if src, ok := sources[t]; ok && chezmoi.PlainCopy(src) {
			target, err = os.ReadFile(src)
		} else {
			target, err = r.cm.Cat(ctx, t)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("target state of %s: %w", t, err)
		}
		if sha(target) == sum {
			readd = append(readd, t) // the source did not change since chezmoi last wrote the file
			continue
		}
		merged, why := r.merge3(ctx, t, sum, target)
		if why != "" {
			r.io.Warnf("%s changed both at home and in the source directory and %s: it was not captured, both versions are kept", t, why)
			r.noteWaiting([]chezmoi.Waiting{{Path: t, Kind: chezmoi.WaitUnmerged, Next: chezmoi.WaitNext(chezmoi.WaitUnmerged, t)}})
			unmerged = append(unmerged, t)
			continue
		}
		if merged {
			readd = append(readd, t)
		}
	}
	return readd, unmerged, nil
}

// merge3 merges the home edit of target t with the source's change. It
// returns (true, "") after writing a clean merge to the home file,
// (false, "") when nothing is left to capture, or a reason it could not.
func (r *run) merge3(ctx context.Context, t, baseSum string, target []byte) (bool, string) {
	home, err := os.ReadFile(t)
	if err != nil {
		return false, "cannot be read (" + err.Error() + ")"
	}
	st, err := os.Lstat(t)
	if err != nil || !st.Mode().IsRegular() {
		return false, "is not a regular file"
	}
	srcPath, err := r.cm.SourceFile(ctx, t)
	if err != nil {
		return false, "has no source file chezmoi can name"
	}
	src, err := os.ReadFile(srcPath)
	if err != nil || !bytes.Equal(src, target) {
		// Encrypted or otherwise transformed: the source file is not the
		// file's content, so a text merge of it would be wrong.
		return false, "its source file is not a plain copy (encrypted?), so no automatic merge is possible"
	}
	rel, ok := r.sourceRel(srcPath)
	if !ok {
		return false, "its source file is outside " + r.workTree
	}
	base, ok := r.findBlob(ctx, rel, baseSum)
	if !ok {
		return false, "the version chezmoi last wrote is not in the repository's history, so there is no base for a merge"
	}
	merged, clean, err := r.mergeFile(ctx, src, base, home)
	if err != nil {
		return false, "git merge-file failed (" + err.Error() + ")"
	}
	if !clean {
		return false, "the two edits overlap"
	}
	// The home file must still be what was merged: an edit made in the
	// meantime would otherwise be overwritten.
	if now, err := os.ReadFile(t); err != nil || !bytes.Equal(now, home) {
		return false, "it changed again while being merged"
	}
	if err := writeAtomic(t, merged, st.Mode().Perm()); err != nil {
		return false, "the merge could not be written (" + err.Error() + ")"
	}
	r.rec.Merged = append(r.rec.Merged, t)
	return true, ""
}

// findBlob looks through the last commits touching rel (on every ref: the
// version chezmoi last wrote may sit on a parked sync/<host> only) for the
// version whose SHA-256 is sum.
func (r *run) findBlob(ctx context.Context, rel, sum string) ([]byte, bool) {
	res, err := r.git(ctx, nil, "rev-list", "--all", "-n", "200", "--", rel)
	if err != nil {
		return nil, false
	}
	var in strings.Builder
	for _, c := range strings.Fields(string(res.Stdout)) {
		in.WriteString(c + ":" + rel + "\n")
	}
	if in.Len() == 0 {
		return nil, false
	}
	res, err = r.git(ctx, strings.NewReader(in.String()), "cat-file", "--batch")
	if err != nil {
		return nil, false
	}
	rd := bufio.NewReader(bytes.NewReader(res.Stdout))
	for {
		header, err := rd.ReadString('\n')
		if err != nil {
			return nil, false
		}
		f := strings.Fields(header)
		if len(f) != 3 || f[1] != "blob" {
			continue // "<name> missing", or not a file there
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, false
		}
		blob := make([]byte, n+1) // content and its trailing newline
		if _, err := io.ReadFull(rd, blob); err != nil {
			return nil, false
		}
		if sha(blob[:n]) == sum {
			return blob[:n], true
		}
	}
}

// mergeFile runs `git merge-file -p` on ours (the source), base and theirs
// (home); clean is false when the edits overlap.
func (r *run) mergeFile(ctx context.Context, ours, base, theirs []byte) ([]byte, bool, error) {
	dir, err := os.MkdirTemp("", "chezmoi-sync-merge-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(dir)
	names := []string{"source", "base", "home"}
	for i, data := range [][]byte{ours, base, theirs} {
		if err := os.WriteFile(filepath.Join(dir, names[i]), data, 0o600); err != nil {
			return nil, false, err
		}
	}
	res, err := guardRunner(r.app).Run(ctx, runner.Cmd{Name: "git", Dir: dir, Timeout: time.Minute,
		Args: []string{"merge-file", "-p", "-L", "source", "-L", "last applied", "-L", "home", "source", "base", "home"}})
	var ee *runner.ExitError
	switch {
	case err == nil:
		return res.Stdout, true, nil
	case errors.As(err, &ee) && ee.Code > 0 && ee.Code < 128:
		return nil, false, nil // exit code = number of conflicts
	default:
		return nil, false, err
	}
}

func (r *run) git(ctx context.Context, stdin io.Reader, args ...string) (runner.Result, error) {
	return guardRunner(r.app).Run(ctx, runner.Cmd{Name: "git", Args: args, Dir: r.workTree, Stdin: stdin, Timeout: time.Minute})
}

// writeAtomic replaces a home file's content through a temporary file in
// the same directory and a rename, so a crash leaves the old or the new
// content, never a truncated file.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".chezmoi-sync-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(perm)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
	}
	return werr
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
