package runhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/metrics"
	"github.com/nixdots/nixdots/pkg/notify"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/userhooks"
)

type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []map[string]any
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(body, &p)
		h.mu.Lock()
		h.payloads = append(h.payloads, p)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) got() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.payloads...)
}

type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) add(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, fmt.Sprintf(format, a...))
}

func (w *warnings) joined() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

func script(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func loadConfig(t *testing.T, body string) *config.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A rebuild session with hooks.d under a temp dir, a webhook and a metrics file.
func session(t *testing.T, url string) (*Rebuild, *warnings, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := LoadRebuildConfig(loadConfig(t, fmt.Sprintf(
		`{"rebuildSmart": {"notify": {"desktop": false, "webhookUrl": %q, "webhookTimeout": "5s"}, "hooks": {"timeout": "10s"}}}`, url)))
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	env := []string{"PATH=" + os.Getenv("PATH"), "LOG=" + filepath.Join(dir, "hooks.log")}
	return &Rebuild{
		Config: cfg, Runner: &runner.Exec{Env: env}, Env: env,
		HooksDir: filepath.Join(dir, "hooks.d"), WorkDir: dir,
		MetricsFile: filepath.Join(dir, "metrics", "rebuild-smart.prom"), Warn: w.add,
	}, w, dir
}

func readMetrics(t *testing.T, path string) []metrics.Family {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fams, err := metrics.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func TestLoadRebuildConfig(t *testing.T) {
	t.Parallel()
	c, err := LoadRebuildConfig(loadConfig(t, `{"rebuildSmart": {"unattended": {"boot": true}, "hooks": {"preRebuild": [["true"]]}, "notify": {"webhookRetries": 1}}}`))
	if err != nil || !c.UnattendedBoot || len(c.Hooks.Commands[userhooks.Pre]) != 1 || c.Notify.WebhookRetries != 1 || !c.Notify.Desktop {
		t.Fatalf("config = %+v, %v", c, err)
	}
	_, err = LoadRebuildConfig(loadConfig(t, `{"rebuildSmart": {"unattended": {"boot": "yes"}}}`))
	if exitcode.FromError(err) != exitcode.Usage {
		t.Fatalf("bad unattended.boot: %v", err)
	}
	n, err := LoadSyncConfig(loadConfig(t, `{"chezmoiSync": {"notify": {"webhookUrl": "http://x"}}}`))
	if err != nil || n.WebhookURL != "http://x" {
		t.Fatalf("sync config = %+v, %v", n, err)
	}
	// The rebuild's settings apply to the sync unless it sets its own.
	n, err = LoadSyncConfig(loadConfig(t, `{"rebuildSmart": {"notify": {"webhookUrl": "http://shared", "webhookRetries": 4, "desktop": false}},
		"chezmoiSync": {"notify": {"webhookRetries": 1}}}`))
	if err != nil || n.WebhookURL != "http://shared" || n.WebhookRetries != 1 || n.Desktop {
		t.Fatalf("layered sync config = %+v, %v", n, err)
	}
}

func TestPreHooksVetoAndWarnings(t *testing.T) {
	t.Parallel()
	f, w, dir := session(t, "")
	script(t, filepath.Join(f.HooksDir, "pre", "10-ok"), `echo "10-ok $REBUILD_SMART_OUTCOME $REBUILD_SMART_UNATTENDED $(pwd)" >> "$LOG"`)
	script(t, filepath.Join(f.HooksDir, "pre", "20-no"), `echo "not today" >&2; exit 4`)
	if err := os.WriteFile(filepath.Join(f.HooksDir, "pre", "15-off"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.Unattended = true
	err := f.PreHooks(context.Background(), userhooks.Details{Host: "alpha"})
	if exitcode.FromError(err) != exitcode.Vetoed || !IsVeto(err) || !strings.Contains(err.Error(), "20-no: exit 4: not today") {
		t.Fatalf("veto = %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "hooks.log"))
	if string(log) != "10-ok pending 1 "+dir+"\n" {
		t.Fatalf("hooks.log = %q", log)
	}
	if !strings.Contains(w.joined(), "15-off not run: not executable") {
		t.Fatalf("warnings = %q", w.joined())
	}
}

func TestPreHooksUnreadableDirVetoes(t *testing.T) {
	t.Parallel()
	f, _, _ := session(t, "")
	if err := os.MkdirAll(f.HooksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// hooks.d/pre is a file, not a directory: it cannot be listed.
	if err := os.WriteFile(filepath.Join(f.HooksDir, "pre"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.PreHooks(context.Background(), userhooks.Details{})
	if exitcode.FromError(err) != exitcode.Vetoed || !strings.Contains(err.Error(), "could not be listed") {
		t.Fatalf("err = %v", err)
	}
	if !IsVeto(err) || IsVeto(fmt.Errorf("other")) {
		t.Fatal("IsVeto")
	}
}

func TestPreHooksPassWithoutHooks(t *testing.T) {
	t.Parallel()
	f, _, _ := session(t, "")
	if err := f.PreHooks(context.Background(), userhooks.Details{}); err != nil {
		t.Fatalf("no hooks: %v", err)
	}
}

func TestFinishSuccess(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	f, w, dir := session(t, srv.URL)
	script(t, filepath.Join(f.HooksDir, "post", "10-log"), `echo "post $REBUILD_SMART_OUTCOME $REBUILD_SMART_GENERATION" >> "$LOG"`)
	script(t, filepath.Join(f.HooksDir, "post", "20-broken"), `exit 2`)
	script(t, filepath.Join(f.HooksDir, "failure", "10-log"), `echo failure >> "$LOG"`)
	start := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	fin := f.Finish(context.Background(), RebuildResult{
		Details: userhooks.Details{Host: "alpha", Action: "boot", Outcome: "success", Generation: "42", Duration: 90 * time.Second},
		Start:   start, Generation: 42, LastSuccess: start, Record: map[string]any{"outcome": "success"},
	})
	log, _ := os.ReadFile(filepath.Join(dir, "hooks.log"))
	if string(log) != "post success 42\n" {
		t.Fatalf("hooks.log = %q (only post hooks must run)", log)
	}
	if fin.HooksFailed != 1 || !strings.Contains(w.joined(), "post hook 20-broken: exit 2 (the outcome is unchanged)") {
		t.Fatalf("hooks failed = %d, warnings = %q", fin.HooksFailed, w.joined())
	}
	p := srv.got()
	if len(p) != 1 || p[0]["status"] != "success" || p[0]["summary"] != "rebuild-smart: alpha will boot generation 42" || p[0]["record"] == nil {
		t.Fatalf("webhook payloads = %v", p)
	}
	fams := readMetrics(t, f.MetricsFile)
	for name, want := range map[string]float64{
		metrics.RebuildGeneration: 42, metrics.RebuildHooksFailed: 1, metrics.RebuildBootPending: 1, metrics.RebuildDuration: 90,
	} {
		if v, ok := metrics.Lookup(fams, name, "host", "alpha"); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", name, v, ok, want)
		}
	}
	if v, _ := metrics.Lookup(fams, metrics.RebuildOutcome, "host", "alpha", "status", "success"); v != 1 {
		t.Errorf("outcome success = %v", v)
	}
}

func TestFinishFailureRunsFailureHooks(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	f, _, dir := session(t, srv.URL)
	script(t, filepath.Join(f.HooksDir, "post", "10-log"), `echo post >> "$LOG"`)
	script(t, filepath.Join(f.HooksDir, "failure", "10-log"), `echo "failure $REBUILD_SMART_FAILED_PHASE" >> "$LOG"`)
	fin := f.Finish(context.Background(), RebuildResult{
		Details: userhooks.Details{Host: "alpha", Action: "switch", Outcome: "failed", FailedPhase: "Rebuild"},
		Start:   time.Now(), Error: "nixos-rebuild switch failed",
	})
	log, _ := os.ReadFile(filepath.Join(dir, "hooks.log"))
	if string(log) != "failure Rebuild\n" || fin.Hooks == nil || fin.Hooks.Kind != userhooks.Failure {
		t.Fatalf("hooks.log = %q", log)
	}
	if p := srv.got(); len(p) != 1 || p[0]["summary"] != "rebuild-smart: alpha failed in Rebuild" {
		t.Fatalf("payloads = %v", p)
	}
	fams := readMetrics(t, f.MetricsFile)
	if v, _ := metrics.Lookup(fams, metrics.RebuildOutcome, "host", "alpha", "status", "failed"); v != 1 {
		t.Fatalf("outcome failed = %v", v)
	}
	if _, ok := metrics.Lookup(fams, metrics.RebuildGeneration, "host", "alpha"); ok {
		t.Fatal("a failed build has no generation")
	}
}

func TestFinishVetoedRunsNoHooks(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	f, _, dir := session(t, srv.URL)
	script(t, filepath.Join(f.HooksDir, "failure", "10-log"), `echo failure >> "$LOG"`)
	fin := f.Finish(context.Background(), RebuildResult{Details: userhooks.Details{Host: "alpha", Outcome: "vetoed"}, Start: time.Now()})
	if _, err := os.Stat(filepath.Join(dir, "hooks.log")); err == nil || fin.Hooks != nil {
		t.Fatal("hooks ran after a veto")
	}
	if p := srv.got(); len(p) != 1 || p[0]["status"] != "vetoed" {
		t.Fatalf("payloads = %v", p)
	}
}

func TestFinishDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	f, _, dir := session(t, srv.URL)
	var planned bytes.Buffer
	f.Runner = &runner.DryRun{Inner: f.Runner, Out: &planned}
	f.DryRun = true
	script(t, filepath.Join(f.HooksDir, "post", "10-log"), `echo post >> "$LOG"`)
	f.Finish(context.Background(), RebuildResult{Details: userhooks.Details{Host: "alpha", Outcome: "success"}, Start: time.Now()})
	if _, err := os.Stat(filepath.Join(dir, "hooks.log")); err == nil {
		t.Fatal("a hook ran under dry-run")
	}
	if _, err := os.Stat(f.MetricsFile); err == nil {
		t.Fatal("metrics written under dry-run")
	}
	if len(srv.got()) != 0 || !strings.Contains(planned.String(), "would run: ") {
		t.Fatalf("webhook calls = %d, planned = %q", len(srv.got()), planned.String())
	}
}

func TestFinishUnwritableMetricsIsAWarning(t *testing.T) {
	t.Parallel()
	f, w, dir := session(t, "")
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.MetricsFile = filepath.Join(blocker, "x.prom") // parent is a file
	fin := f.Finish(context.Background(), RebuildResult{Details: userhooks.Details{Host: "a", Outcome: "success"}, Start: time.Now()})
	if fin.MetricsErr == nil || !strings.Contains(w.joined(), "metrics file not written") {
		t.Fatalf("metrics err = %v, warnings = %q", fin.MetricsErr, w.joined())
	}
}

func TestSyncFinish(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	dir := t.TempDir()
	w := &warnings{}
	s := &Sync{
		Notify: notifyConfig(srv.URL), Runner: &runner.Exec{Env: []string{"PATH=" + os.Getenv("PATH")}},
		MetricsFile: filepath.Join(dir, "chezmoi-sync-alice.prom"), User: "alice", Warn: w.add,
	}
	start := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	ok := &syncstate.Record{Status: syncstate.Success, Host: "alpha", Start: start, LastSuccess: start}
	if fin := s.Finish(context.Background(), ok); len(fin.Notifications) != 0 || len(srv.got()) != 0 {
		t.Fatalf("success notified: %v", fin.Notifications)
	}
	fams := readMetrics(t, s.MetricsFile)
	if v, _ := metrics.Lookup(fams, metrics.SyncOutcome, "host", "alpha", "user", "alice", "status", "success"); v != 1 {
		t.Fatalf("success outcome = %v", v)
	}
	parked := &syncstate.Record{Status: syncstate.ConflictsPreserved, Host: "alpha", Start: start.Add(time.Hour), LastSuccess: start,
		Parked: "sync/alpha", Conflicts: []syncstate.Conflict{{Paths: []string{"dot_bashrc"}}}}
	fin := s.Finish(context.Background(), parked)
	if len(fin.Notifications) != 1 || !fin.Notifications[0].Sent {
		t.Fatalf("conflicts: %v", fin.Notifications)
	}
	p := srv.got()
	if len(p) != 1 || p[0]["tool"] != "chezmoi-sync" || p[0]["status"] != "conflicts-preserved" {
		t.Fatalf("payloads = %v", p)
	}
	fams = readMetrics(t, s.MetricsFile)
	if v, _ := metrics.Lookup(fams, metrics.SyncConflicts, "host", "alpha", "user", "alice"); v != 1 {
		t.Fatalf("conflicts parked = %v", v)
	}
	if w.joined() != "" {
		t.Fatalf("warnings: %s", w.joined())
	}
}

func TestSyncFinishDeadWebhookWarns(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer srv.Close()
	w := &warnings{}
	s := &Sync{Notify: notifyConfig(srv.URL), Warn: w.add}
	s.Finish(context.Background(), &syncstate.Record{Status: syncstate.Failed, Host: "a"})
	if !strings.Contains(w.joined(), "notification webhook: not delivered after 1 attempt(s)") {
		t.Fatalf("warnings = %q", w.joined())
	}
}

func notifyConfig(url string) notify.Config {
	return notify.Config{WebhookURL: url, WebhookTimeout: 5 * time.Second, WebhookRetries: 1}
}

func TestCurrentUser(t *testing.T) {
	t.Parallel()
	if got := CurrentUser(func(k string) string { return map[string]string{"USER": "alice"}[k] }); got != "alice" {
		t.Fatalf("CurrentUser = %q", got)
	}
	if got := CurrentUser(func(string) string { return "" }); got == "" {
		t.Fatal("no fallback name")
	}
}

// A run that never was (lock held by another, bad input, dry run) leaves
// no trace: no hooks, no notification, the metrics file untouched.
func TestFinishNonRunsDoNothing(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	f, _, dir := session(t, srv.URL)
	script(t, filepath.Join(f.HooksDir, "failure", "10-log"), `echo failure >> "$LOG"`)
	script(t, filepath.Join(f.HooksDir, "post", "10-log"), `echo post >> "$LOG"`)
	for _, outcome := range []string{"locked", "bad-input", "dry-run"} {
		fin := f.Finish(context.Background(), RebuildResult{Details: userhooks.Details{Host: "alpha", Outcome: outcome}, Start: time.Now()})
		if fin.Hooks != nil || len(fin.Notifications) != 0 {
			t.Fatalf("%s: %+v", outcome, fin)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hooks.log")); err == nil {
		t.Fatal("hooks ran")
	}
	if _, err := os.Stat(f.MetricsFile); err == nil || len(srv.got()) != 0 {
		t.Fatal("metrics written or webhook called for a non-run")
	}
}

// This run's success is the last success even when the history does not
// have it (nothing-to-switch is not recorded there).
func TestFinishSuccessIsLastSuccess(t *testing.T) {
	t.Parallel()
	f, _, _ := session(t, "")
	start := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	f.Finish(context.Background(), RebuildResult{Details: userhooks.Details{Host: "alpha", Outcome: "nothing-to-switch"},
		Start: start, LastSuccess: start.Add(-48 * time.Hour)})
	fams := readMetrics(t, f.MetricsFile)
	if v, _ := metrics.Lookup(fams, metrics.RebuildLastSuccess, "host", "alpha"); v != float64(start.Unix()) {
		t.Fatalf("last success = %v, want %d", v, start.Unix())
	}
	f.Finish(context.Background(), RebuildResult{Details: userhooks.Details{Host: "alpha", Outcome: "failed"},
		Start: start.Add(time.Hour), LastSuccess: start})
	fams = readMetrics(t, f.MetricsFile)
	if v, _ := metrics.Lookup(fams, metrics.RebuildLastSuccess, "host", "alpha"); v != float64(start.Unix()) {
		t.Fatalf("after a failure, last success = %v, want %d", v, start.Unix())
	}
}
