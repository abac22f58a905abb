// Package soak holds the suite's proof harness: a fleet of simulated hosts
// sharing one bare remote, the ledger of every edit they make, and a tree
// hash that tells whether a run changed anything. The fleet soak test lives
// here; the fault-injection and bad-input tests (internal/faults,
// internal/badinput) reuse the helpers.
package soak

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Tree maps every path under a root (relative, slash-separated) to a digest
// of its type, permission bits and content (a symlink: its target).
type Tree map[string]string

// HashTree walks root. skip, when non-nil, leaves out paths (and whole
// directories) it returns true for. A missing root is an empty tree.
func HashTree(root string, skip func(rel string) bool) (Tree, error) {
	t := Tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return filepath.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			t[rel] = fmt.Sprintf("dir %o", info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			t[rel] = "link " + target
		case d.Type().IsRegular():
			sum, err := fileDigest(p)
			if err != nil {
				return err
			}
			t[rel] = fmt.Sprintf("file %o %s", info.Mode().Perm(), sum)
		default:
			t[rel] = "special " + d.Type().String()
		}
		return nil
	})
	return t, err
}

func fileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// Diff lists what differs between two trees: "+path", "-path", "~path".
func Diff(before, after Tree) []string {
	var out []string
	for p, v := range before {
		w, ok := after[p]
		switch {
		case !ok:
			out = append(out, "-"+p)
		case v != w:
			out = append(out, "~"+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, "+"+p)
		}
	}
	sort.Strings(out)
	return out
}

// SkipUnder returns a skip function leaving out the given relative
// prefixes (directories or files).
func SkipUnder(prefixes ...string) func(string) bool {
	return func(rel string) bool {
		for _, p := range prefixes {
			if rel == p || strings.HasPrefix(rel, p+"/") {
				return true
			}
		}
		return false
	}
}
