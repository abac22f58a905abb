package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// margin is the slack allowed over a time budget: scheduling on a loaded
// 2-core machine under -race, not speed, is what it absorbs. It is wide
// because what it guards against is far wider: without the budget these
// cases take minutes of pauses or hang.
const margin = 10 * time.Second

type received struct {
	mu     sync.Mutex
	bodies [][]byte
	hdr    []http.Header
}

func (r *received) add(req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, body)
	r.hdr = append(r.hdr, req.Header.Clone())
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func event() Event {
	return Event{
		Tool: "rebuild-smart", Host: "alpha", Status: "failed",
		Summary: "rebuild-smart: alpha failed in rebuild", Body: "see the log",
		Time:   time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC),
		Record: map[string]any{"outcome": "failed", "generation": 42},
	}
}

func webhook(url string, timeout time.Duration, retries int) *Notifier {
	return &Notifier{Config: Config{WebhookURL: url, WebhookTimeout: timeout, WebhookRetries: retries}}
}

func TestWebhookSuccess(t *testing.T) {
	t.Parallel()
	var got received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	o := webhook(srv.URL, 5*time.Second, 2).SendWebhook(context.Background(), event())
	if !o.Sent || o.Attempts != 1 || o.Status != http.StatusNoContent || o.Err != nil {
		t.Fatalf("outcome = %+v", o)
	}
	if got.count() != 1 {
		t.Fatalf("server saw %d requests", got.count())
	}
	if ct := got.hdr[0].Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var p struct {
		Version int
		Tool    string
		Host    string
		Status  string
		Summary string
		Time    time.Time
		Record  map[string]any
	}
	if err := json.Unmarshal(got.bodies[0], &p); err != nil {
		t.Fatalf("payload is not JSON: %v: %s", err, got.bodies[0])
	}
	if p.Version != 1 || p.Tool != "rebuild-smart" || p.Host != "alpha" || p.Status != "failed" ||
		!p.Time.Equal(event().Time) || p.Record["generation"] != float64(42) {
		t.Fatalf("payload = %+v", p)
	}
	if o.String() != "webhook: sent" {
		t.Errorf("String = %q", o.String())
	}
}

func TestWebhookRetriesAfterServerError(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	o := webhook(srv.URL, 10*time.Second, 2).SendWebhook(context.Background(), event())
	if !o.Sent || o.Attempts != 2 || n.Load() != 2 {
		t.Fatalf("outcome = %+v, server saw %d", o, n.Load())
	}
	if !strings.Contains(o.String(), "sent after 2 attempts") {
		t.Errorf("String = %q", o.String())
	}
}

func TestWebhookAlwaysFailingIsBounded(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "database on fire", http.StatusBadGateway)
	}))
	defer srv.Close()
	const budget = 3 * time.Second
	start := time.Now()
	o := webhook(srv.URL, budget, 2).SendWebhook(context.Background(), event())
	elapsed := time.Since(start)
	if o.Sent || o.Attempts != 3 || n.Load() != 3 || o.Status != http.StatusBadGateway {
		t.Fatalf("outcome = %+v, server saw %d", o, n.Load())
	}
	if elapsed > budget+margin {
		t.Fatalf("took %s with a %s budget", elapsed, budget)
	}
	if !strings.Contains(o.Err.Error(), "database on fire") || !strings.Contains(o.String(), "not delivered after 3 attempt(s)") {
		t.Errorf("err = %v, string = %q", o.Err, o.String())
	}
}

// Many retries against a failing endpoint still stop at the budget.
func TestWebhookRetriesNeverExceedBudget(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	const budget = 1 * time.Second
	start := time.Now()
	// 10 retries would need 250ms*(2^10-1) of pauses alone.
	o := webhook(srv.URL, budget, 10).SendWebhook(context.Background(), event())
	elapsed := time.Since(start)
	if o.Sent || elapsed > budget+margin {
		t.Fatalf("outcome = %+v after %s with a %s budget", o, elapsed, budget)
	}
	if o.Attempts >= 11 || o.Attempts < 2 {
		t.Fatalf("attempts = %d; want a few, cut short by the budget", o.Attempts)
	}
}

func TestWebhookClientErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer srv.Close()
	o := webhook(srv.URL, 5*time.Second, 3).SendWebhook(context.Background(), event())
	if o.Sent || o.Attempts != 1 || n.Load() != 1 || o.Status != http.StatusNotFound {
		t.Fatalf("outcome = %+v, server saw %d", o, n.Load())
	}
}

func TestWebhookSlowServerCostsAtMostTheBudget(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	const budget = 1500 * time.Millisecond
	start := time.Now()
	o := webhook(srv.URL, budget, 3).SendWebhook(context.Background(), event())
	elapsed := time.Since(start)
	if o.Sent || n.Load() < 1 {
		t.Fatalf("outcome = %+v, server saw %d", o, n.Load())
	}
	if elapsed > budget+margin {
		t.Fatalf("a hanging endpoint cost %s with a %s budget", elapsed, budget)
	}
	if elapsed < budget/2 {
		t.Fatalf("gave up after %s, well before the %s budget", elapsed, budget)
	}
	if !strings.Contains(o.Err.Error(), "gave up after the 1.5s budget") {
		t.Errorf("err = %v", o.Err)
	}
}

func TestWebhookRefusedConnection(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/hook"
	l.Close()
	const budget = 3 * time.Second
	start := time.Now()
	o := webhook(url, budget, 2).SendWebhook(context.Background(), event())
	elapsed := time.Since(start)
	if o.Sent || o.Attempts != 3 || o.Err == nil || !strings.Contains(o.Err.Error(), "refused") {
		t.Fatalf("outcome = %+v", o)
	}
	if elapsed > budget+margin {
		t.Fatalf("took %s with a %s budget", elapsed, budget)
	}
}

// The pauses between attempts double, starting at firstBackoff.
func TestWebhookBackoffDoubles(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	var pauses []time.Duration
	n := webhook(srv.URL, time.Minute, 3)
	n.Sleep = func(ctx context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }
	o := n.SendWebhook(context.Background(), event())
	want := []time.Duration{firstBackoff, 2 * firstBackoff, 4 * firstBackoff}
	if o.Attempts != 4 || len(pauses) != 3 || pauses[0] != want[0] || pauses[1] != want[1] || pauses[2] != want[2] {
		t.Fatalf("attempts = %d, pauses = %v, want %v", o.Attempts, pauses, want)
	}
}

func TestWebhookCancelledContext(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := webhook(srv.URL, 5*time.Second, 3).SendWebhook(ctx, event())
	if o.Sent || o.Attempts != 1 || n.Load() != 0 {
		t.Fatalf("outcome = %+v, server saw %d", o, n.Load())
	}
}

func TestWebhookDryRun(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	nt := webhook(srv.URL, 5*time.Second, 3)
	nt.DryRun = true
	o := nt.SendWebhook(context.Background(), event())
	if o.Sent || o.Attempts != 0 || n.Load() != 0 || !strings.Contains(o.Skipped, "would POST to "+srv.URL) {
		t.Fatalf("outcome = %+v, server saw %d", o, n.Load())
	}
}

// fakeNotifySend puts a recording notify-send first on a PATH of its own.
// notify-send needs a notification daemon on a real session bus, which a
// test machine does not have, so the desktop channel is tested against a
// recorder; what matters here is the decision to call it and its argv.
func fakeNotifySend(t *testing.T, exit int) (pathDir, logFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "calls")
	script := "#!/bin/sh\n{ printf '%s\\n' \"DBUS=$DBUS_SESSION_BUS_ADDRESS\"; for a in \"$@\"; do printf 'ARG=%s\\n' \"$a\"; done; } >> " + logFile + "\nexit " + string(rune('0'+exit)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "notify-send"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, logFile
}

func desktop(env []string) *Notifier {
	return &Notifier{Config: Config{Desktop: true}, Env: env, Runner: &runner.Exec{Env: env}}
}

func TestDesktopSkippedWithoutSessionBus(t *testing.T) {
	t.Parallel()
	bin, calls := fakeNotifySend(t, 0)
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "XDG_RUNTIME_DIR=" + t.TempDir()}
	o := desktop(env).SendDesktop(context.Background(), event())
	if o.Sent || !strings.Contains(o.Skipped, "no session bus") {
		t.Fatalf("outcome = %+v", o)
	}
	if _, err := os.Stat(calls); err == nil {
		t.Fatal("notify-send ran without a session bus")
	}
}

func TestDesktopSkippedWithoutNotifySend(t *testing.T) {
	t.Parallel()
	env := []string{"PATH=" + t.TempDir(), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent"}
	o := desktop(env).SendDesktop(context.Background(), event())
	if o.Sent || !strings.Contains(o.Skipped, "notify-send is not installed") {
		t.Fatalf("outcome = %+v", o)
	}
}

func TestDesktopUsesRuntimeDirBus(t *testing.T) {
	t.Parallel()
	bin, calls := fakeNotifySend(t, 0)
	rt, err := os.MkdirTemp("", "rt") // short path: unix socket names are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	l, err := net.Listen("unix", filepath.Join(rt, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "XDG_RUNTIME_DIR=" + rt}
	ev := event()
	ev.Summary = "-looks like a flag"
	ev.Urgency = Critical
	o := desktop(env).SendDesktop(context.Background(), ev)
	if !o.Sent {
		t.Fatalf("outcome = %+v", o)
	}
	data, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	want := "DBUS=unix:path=" + filepath.Join(rt, "bus") + "\nARG=--app-name=rebuild-smart\nARG=--urgency=critical\nARG=--\nARG=-looks like a flag\nARG=see the log\n"
	if string(data) != want {
		t.Fatalf("notify-send saw:\n%s\nwant:\n%s", data, want)
	}
}

func TestDesktopFailureIsReported(t *testing.T) {
	t.Parallel()
	bin, _ := fakeNotifySend(t, 1)
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=unix:path=/x"}
	o := desktop(env).SendDesktop(context.Background(), event())
	if o.Sent || o.Err == nil || !strings.Contains(o.String(), "desktop: not delivered") {
		t.Fatalf("outcome = %+v (%s)", o, o)
	}
}

func TestDesktopDryRunPrints(t *testing.T) {
	t.Parallel()
	bin, calls := fakeNotifySend(t, 0)
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=unix:path=/x"}
	var out bytes.Buffer
	n := desktop(env)
	n.Runner = &runner.DryRun{Inner: n.Runner, Out: &out}
	n.SendDesktop(context.Background(), event())
	if _, err := os.Stat(calls); err == nil || !strings.Contains(out.String(), "would run: notify-send") {
		t.Fatalf("dry run: ran=%v out=%q", err == nil, out.String())
	}
}

func TestSendUsesConfiguredChannels(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	nt := &Notifier{Config: Config{Desktop: true, WebhookURL: srv.URL, WebhookTimeout: 5 * time.Second},
		Env: []string{"PATH=" + t.TempDir()}}
	out := nt.Send(context.Background(), event())
	if len(out) != 2 || out[0].Channel != "desktop" || out[0].Skipped == "" || !out[1].Sent || n.Load() != 1 {
		t.Fatalf("outcomes = %v", out)
	}
	if got := (&Notifier{}).Send(context.Background(), event()); len(got) != 0 {
		t.Fatalf("unconfigured notifier sent %v", got)
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	load := func(body string) *config.File {
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
	c, err := FromConfig(load(`{"chezmoiSync": {"notify": {"desktop": false, "webhookUrl": "https://hooks.example/x", "webhookTimeout": "4s", "webhookRetries": 5}}}`), config.SectionSync)
	if err != nil || c.Desktop || c.WebhookURL != "https://hooks.example/x" || c.WebhookTimeout != 4*time.Second || c.WebhookRetries != 5 {
		t.Fatalf("config = %+v, %v", c, err)
	}
	c, err = FromConfig(load(`{}`), config.SectionRebuild)
	if err != nil || !c.Desktop || c.WebhookURL != "" || c.WebhookTimeout != DefaultWebhookTimeout || c.WebhookRetries != DefaultWebhookRetries {
		t.Fatalf("defaults = %+v, %v", c, err)
	}
	for body, want := range map[string]string{
		`{"rebuildSmart": {"notify": {"webhookUrl": "ftp://x"}}}`:                          "is not an http(s) URL",
		`{"rebuildSmart": {"notify": {"webhookTimeout": "-1s"}}}`:                          "is not a positive duration",
		`{"rebuildSmart": {"notify": {"webhookRetries": 99}}}`:                             "is not between 0 and 10",
		`{"rebuildSmart": {"notify": {"desktop": "yes"}}}`:                                 "notify.desktop",
		`{"rebuildSmart": {"notify": {"webhookTimeout": "forever"}}}`:                      `"forever" is not a positive duration`,
		`{"rebuildSmart": {"notify.webhookUrl": "hooks.example/x"}}`:                       "is not an http(s) URL",
		`{"rebuildSmart": {"notify": {"webhookRetries": "3 please"}}}`:                     "notify.webhookRetries",
		`{"rebuildSmart": {"notify": {"webhookUrl": "http://a", "webhookTimeout": "0s"}}}`: "positive",
	} {
		_, err := FromConfig(load(body), config.SectionRebuild)
		if err == nil || !strings.Contains(err.Error(), want) || exitcode.FromError(err) != exitcode.Usage {
			t.Errorf("%s: err = %v, want usage error containing %q", body, err, want)
		}
	}
}
