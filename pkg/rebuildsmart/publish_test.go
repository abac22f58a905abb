package rebuildsmart_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// Untracked files that look like secrets are never made visible to nix
// (so never copied into the store), committed or pushed; each is named
// with the next step. A tracked file that gets a secret is built (nix sees
// it) but not committed: the build is marked dirty. Ordinary new files are
// added and committed as before.
func TestSecretLookingFilesAreLeftAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	// A token of this run only: the store check below must not find an
	// earlier run's copy (store paths outlive tests).
	token := "ghp_" + rand.Text()[:26] + "0123456789"
	secrets := map[string]string{
		"scratch-notes.txt": "github token: " + token + "\n",
		".env":              "DB_URL=postgres://me@db/prod\n",
		"keys/deploy":       "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
		"hosts/db.nix":      "{ services.db.password = \"hunter2!\"; }\n",
	}
	for p, c := range secrets {
		write(t, filepath.Join(e.repo, p), c)
	}
	write(t, filepath.Join(e.repo, "hosts", "extra.nix"), "{ }\n")
	res, rep := e.rsJSON("--skip-dotfiles", "--verbose")
	if res.Code != 0 {
		t.Fatal(res)
	}
	var withheld []string
	for _, w := range rep["withheld"].([]any) {
		withheld = append(withheld, w.(map[string]any)["path"].(string))
	}
	slices.Sort(withheld)
	if !slices.Equal(withheld, []string{".env", "hosts/db.nix", "keys/deploy", "scratch-notes.txt"}) {
		t.Fatalf("withheld %v", withheld)
	}
	for p := range secrets {
		if !strings.Contains(res.Stderr, p+" looks like a secret") || !strings.Contains(res.Stderr, "add it to .gitignore") {
			t.Errorf("%s is not named with the next step:\n%s", p, res.Stderr)
		}
		if strings.Contains(e.git("ls-files"), p) {
			t.Errorf("%s was added to the index", p)
		}
		if got := e.h.Run("", "git", "--git-dir", e.remote, "ls-tree", "-r", "--name-only", "main"); strings.Contains(got, p) {
			t.Errorf("%s was pushed", p)
		}
	}
	for _, l := range strings.Split(res.Stderr, "\n") {
		if strings.HasPrefix(l, "+ ") && strings.Contains(l, "git add") && (strings.Contains(l, ".env") || strings.Contains(l, "scratch-notes") || strings.Contains(l, "keys/")) {
			t.Fatalf("a secret was given to git add: %s", l)
		}
	}
	if files := e.git("show", "--name-only", "--format=", "HEAD"); files != "hosts/extra.nix" {
		t.Fatalf("committed %q", files)
	}
	// The secrets never reached the store: nix copied only what it saw.
	out, _ := filepath.Glob("/nix/store/*-source/scratch-notes.txt")
	for _, p := range out {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), token) {
			t.Fatalf("the secret was copied into the store: %s", p)
		}
	}

	// A tracked file that gets a secret: built, not committed, dirty.
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\napi_token = 8f3c2a91d7e44b6a9c0e5f1d2b7a6c3e\n")
	res, rep = e.rsJSON("--skip-dotfiles")
	if res.Code != 0 || rep["dirty"] != true || rep["committed"] != "" {
		t.Fatalf("tracked secret: dirty %v committed %v\n%s", rep["dirty"], rep["committed"], res)
	}
	if h := e.history(); len(h) != 2 || !h[1].Dirty {
		t.Fatalf("history %+v", h)
	}
	if list := e.h.Run(e.repo, "rebuild-rollback", "--list"); !strings.Contains(list, "dirty") {
		t.Fatalf("rebuild-rollback --list does not mark the dirty build:\n%s", list)
	}
}

// autoCommit off: the build of uncommitted changes is marked dirty in the
// record and in rebuild-rollback --list.
func TestDirtyBuildIsMarked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	res, rep := e.rsJSON("--skip-dotfiles", "--no-auto-commit")
	if res.Code != 0 || rep["dirty"] != true {
		t.Fatalf("want a dirty build:\n%s", res)
	}
	h := e.history()
	if len(h) != 1 || !h[0].Dirty || h[0].Commit != e.git("rev-parse", "HEAD") {
		t.Fatalf("history %+v", h)
	}
	if list := e.h.Run(e.repo, "rebuild-rollback", "--list"); !strings.Contains(list, "dirty") {
		t.Fatalf("rebuild-rollback --list:\n%s", list)
	}
	// Committed: clean.
	e.git("commit", "--quiet", "-am", "v2")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v3\n")
	e.git("commit", "--quiet", "-am", "v3")
	if _, rep := e.rsJSON("--skip-dotfiles", "--no-auto-commit"); rep["dirty"] != false {
		t.Fatalf("a build of a commit is not dirty: %v", rep["dirty"])
	}
}

// A push the remote rejects while online: a warning, pushed false, the
// commit kept, the next step said.
func TestPushRejectedWhileOnline(t *testing.T) {
	t.Parallel()
	pushRejected(t, newEnv(t, opts{}), "`git push`")
}

// The same on a jj repository: jj git push's failure is a warning with
// jj's next step, pushed false, the commit kept locally; never "pushed".
func TestJJPushRejectedWhileOnline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{jj: true})
	pushRejected(t, e, "`jj git push`")
	if got := e.h.Run(e.repo, "jj", "--no-pager", "file", "show", "-r", "main", "hosts/extra.nix"); got != "{ }" {
		t.Fatalf("the commit is not kept locally: %q", got)
	}
}

// pushRejected makes the remote refuse every push, runs a rebuild with a
// change to commit and checks it: a warning, pushed false, a commit made,
// the next step naming next, the remote where it was.
func pushRejected(t *testing.T, e *env, next string) {
	t.Helper()
	hook := filepath.Join(e.remote, "hooks", "pre-receive")
	write(t, hook, "#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
	must(t, os.Chmod(hook, 0o755))
	before := e.h.Run("", "git", "--git-dir", e.remote, "rev-parse", "main")
	write(t, filepath.Join(e.repo, "hosts", "extra.nix"), "{ }\n")
	res, rep := e.rsJSON("--skip-dotfiles")
	if res.Code != 0 || rep["pushed"] != false || rep["committed"] == "" || rep["online"] != true {
		t.Fatalf("pushed %v committed %v online %v:\n%s", rep["pushed"], rep["committed"], rep["online"], res)
	}
	if p := phase(rep, "Commit & push"); p["status"] != "warn" || !strings.Contains(p["detail"].(string), "push failed") {
		t.Fatalf("commit phase %v", p)
	}
	if !strings.Contains(rep["next_step"].(string), next) || !strings.Contains(res.Stderr, "push failed") {
		t.Fatalf("no next step:\n%s", res)
	}
	if e.h.Run("", "git", "--git-dir", e.remote, "rev-parse", "main") != before {
		t.Fatal("the remote took the push")
	}
}

// The diff before activating is in --json, in the history, and in the
// webhook's body and record; documented fields are always present
// (hooks_failed 0, body on success).
func TestDiffInRecordsAndWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.built("v1\npkg hello 1.0\npkg gone 1.0\n")
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
	}))
	defer srv.Close()
	cfg := e.config(map[string]any{"notify": map[string]any{"desktop": false, "webhookUrl": srv.URL}})
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\npkg hello 2.0\npkg new 1.0\n")
	res, rep := e.rsJSON(append(cfg, "--skip-dotfiles", "--unattended")...)
	if res.Code != 0 {
		t.Fatal(res)
	}
	d, _ := rep["diff"].(map[string]any)
	if d == nil || d["added"] != float64(1) || d["removed"] != float64(1) || d["upgraded"] != float64(1) || d["closure_size_after"].(float64) <= 0 {
		t.Fatalf("--json diff %v", rep["diff"])
	}
	if v, ok := rep["hooks_failed"]; !ok || v != float64(0) {
		t.Fatalf("hooks_failed must always be present: %v %v", v, ok)
	}
	h := e.history()
	if last := h[len(h)-1]; last.Diff == nil || last.Diff.Added != 1 || last.Diff.Upgraded != 1 || !strings.Contains(last.Diff.Summary, "1 added, 1 removed, 1 upgraded") {
		t.Fatalf("history diff %+v", last.Diff)
	}
	var payload struct {
		Status string         `json:"status"`
		Body   *string        `json:"body"`
		Record map[string]any `json:"record"`
	}
	b, _ := body.Load().(string)
	must(t, json.Unmarshal([]byte(b), &payload))
	if payload.Status != "success" || payload.Body == nil || !strings.Contains(*payload.Body, "1 added, 1 removed, 1 upgraded") {
		t.Fatalf("webhook body on success: %s", b)
	}
	if rd, _ := payload.Record["diff"].(map[string]any); rd == nil || rd["added"] != float64(1) {
		t.Fatalf("webhook record diff: %s", b)
	}
}
