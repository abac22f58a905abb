package chezmoisync_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/metrics"
	"github.com/stretchr/testify/require"
)

// Parked conflicts reach the webhook configured for the rebuild (the sync
// shares the rebuild's notification settings) and the metrics file counts
// them; a clean sync notifies nobody and writes success.
func TestConflictNotificationAndMetrics(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	var mu gosync.Mutex
	var payloads []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		payloads = append(payloads, p)
		mu.Unlock()
	}))
	defer srv.Close()
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	cfg := filepath.Join(b.Root, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		`{"rebuildSmart": {"notify": {"webhookUrl": %q, "desktop": false}}, "chezmoiSync": {"metricsFile": %q}}`,
		srv.URL, filepath.Join(b.Root, "textfile", "chezmoi-sync.prom"))), 0o600))
	b.Setenv("NIXDOTS_CONFIG", cfg)
	b.Setenv("USER", "bob")
	prom := filepath.Join(b.Root, "textfile", "chezmoi-sync.prom")

	mustSync(t, b)
	mu.Lock()
	require.Empty(t, payloads, "a clean sync must not notify")
	mu.Unlock()
	fams := readMetrics(t, prom)
	v, ok := metrics.Lookup(fams, metrics.SyncOutcome, "host", "beta", "user", "bob", "status", "success")
	require.True(t, ok)
	require.Equal(t, 1.0, v)

	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lh'")
	mustSync(t, a)
	r := sync(b)
	require.Equal(t, 5, r.Code, r.String())
	mu.Lock()
	require.Len(t, payloads, 1)
	require.Equal(t, "conflicts-preserved", payloads[0]["status"])
	require.Equal(t, "chezmoi-sync", payloads[0]["tool"])
	mu.Unlock()
	fams = readMetrics(t, prom)
	v, _ = metrics.Lookup(fams, metrics.SyncConflicts, "host", "beta", "user", "bob")
	require.GreaterOrEqual(t, v, 1.0)
	v, _ = metrics.Lookup(fams, metrics.SyncLastSuccess, "host", "beta", "user", "bob")
	require.Greater(t, v, 0.0, "the earlier success is carried forward")
}

func readMetrics(t *testing.T, path string) []metrics.Family {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	fams, err := metrics.Parse(bytes.NewReader(data))
	require.NoError(t, err)
	return fams
}
