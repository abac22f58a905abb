package rollback

import (
	"path/filepath"
	"strings"
)

// FlakeDir turns a flake reference as rebuild-smart records it or a user
// passes it (/path, ./path, /path#host, path:/path, git+file:///path?ref=x)
// into a local directory. ok is false for remote references (github:...),
// which have no working copy to move.
func FlakeDir(ref, cwd string) (dir string, ok bool) {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	for _, p := range []string{"git+file://", "path:", "file://", "git+file:"} {
		if rest, found := strings.CutPrefix(ref, p); found {
			ref = rest
			if i := strings.IndexByte(ref, '?'); i >= 0 {
				ref = ref[:i]
			}
			break
		}
	}
	if ref == "" {
		return "", false
	}
	if !strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, ".") && strings.Contains(ref, ":") {
		return "", false
	}
	if !filepath.IsAbs(ref) {
		ref = filepath.Join(cwd, ref)
	}
	return filepath.Clean(ref), true
}
