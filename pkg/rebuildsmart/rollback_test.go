package rebuildsmart_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nixdots/nixdots/pkg/history"
)

// --rollback-on-failure after each kind of failed post-check: failed units,
// missing secrets, a health check (a hooks.d/health script, a
// hooks.healthCheck entry) that exits non-zero. The previous generation is
// put back (profile and running system), the build is recorded as
// checks-failed with what failed and the rollback as its own record,
// nothing is committed (the change stays in the work tree), the failure
// hooks hear "rolled-back", and the run exits 13. Without the flag the
// same failure leaves the new system running.
func TestRollbackOnFailedChecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		o     opts
		setup func(e *env) []string // returns extra arguments
		check string                // the failed check's prefix
		// without: the exit code of the same run without --rollback-on-failure
		without int
	}{
		{"failed units", opts{}, func(e *env) []string {
			e.h.Setenv("FAKE_UNITS_FAILED", "foo.service")
			return append(e.config(map[string]any{"notify": map[string]any{"desktop": false, "webhookUrl": e.webhook(), "webhookTimeout": "5s"}}),
				"--metrics-file", filepath.Join(e.h.Root, "rebuild.prom"))
		}, "units: foo.service", 8},
		{"missing secrets", opts{inputs: map[string]string{"nix-secrets": "2026-01-01T00:00:00Z"}}, func(e *env) []string {
			return nil
		}, "secrets: none in /run/secrets", 0},
		{"health check in hooks.d", opts{}, func(e *env) []string {
			e.hook("health", "10-ping", `test -n "$REBUILD_SMART_TOPLEVEL" && echo "gateway unreachable" >&2; exit 1`)
			return nil
		}, "health: 10-ping: exit 1: gateway unreachable", 0},
		{"health check in the config", opts{}, func(e *env) []string {
			return e.config(map[string]any{"hooks": map[string]any{"healthCheck": [][]string{{"sh", "-c", "exit 2"}}}})
		}, "health: hooks.healthCheck[0]: exit 2", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.o)
			e.built("")
			gen1 := e.generations()[0]
			failEnv := filepath.Join(e.h.Root, "failure.env")
			e.hook("failure", "10-env", "env > "+failEnv)
			args := append(tc.setup(e), "--skip-dotfiles")

			write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
			res, rep := e.rsJSON(append(args, "--rollback-on-failure")...)
			if res.Code != 13 || rep["outcome"] != "rolled-back" || rep["rolled_back"] != true {
				t.Fatalf("want exit 13, rolled-back:\n%s", res)
			}
			checks, _ := rep["failed_checks"].([]any)
			if len(checks) != 1 || !strings.HasPrefix(checks[0].(string), tc.check) {
				t.Fatalf("failed_checks %v, want %q", checks, tc.check)
			}
			if g, _ := e.sys().CurrentGeneration(); g.Number != 1 || e.current() != gen1.Toplevel {
				t.Fatalf("not rolled back: profile %d, running %s", g.Number, e.current())
			}
			if len(e.generations()) != 2 {
				t.Fatalf("the failed generation stays (for a look): %+v", e.generations())
			}
			h := e.history()
			n := len(h)
			if n < 3 || h[n-2].Outcome != history.OutcomeChecksFailed || h[n-2].Generation != 2 || len(h[n-2].FailedChecks) != 1 ||
				h[n-1].Outcome != history.OutcomeRolledBack || h[n-1].Generation != 1 || h[n-1].Toplevel != gen1.Toplevel || h[n-1].Source != "rebuild-smart" {
				t.Fatalf("history: want the build (checks-failed, generation 2) and the rollback (generation 1): %+v", h)
			}
			if p := phase(rep, "Commit & push"); p["status"] != "not-run" || !strings.Contains(e.git("status", "--porcelain"), "hosts/alpha.conf") {
				t.Fatalf("a build that failed its checks must not be committed: %v, status %q", p, e.git("status", "--porcelain"))
			}
			if env := envFile(t, failEnv); env["REBUILD_SMART_OUTCOME"] != "rolled-back" || env["REBUILD_SMART_GENERATION"] != "2" {
				t.Fatalf("failure hooks: outcome %q generation %q", env["REBUILD_SMART_OUTCOME"], env["REBUILD_SMART_GENERATION"])
			}
			if !strings.Contains(res.Stderr, "rebuild-smart: alpha: rolled back: the new system failed its post-checks") {
				t.Fatalf("the rollback is not said on stderr:\n%s", res.Stderr)
			}
			if body := e.hooked(); tc.name == "failed units" && (!strings.Contains(body, `"status":"rolled-back"`) ||
				!strings.Contains(body, `"summary":"rebuild-smart: alpha rolled back: the new system generation 2 failed"`)) {
				t.Fatalf("the notification does not say it rolled back: %s", body)
			}
			if prom := filepath.Join(e.h.Root, "rebuild.prom"); tc.name == "failed units" &&
				(!strings.Contains(read(t, prom), `nixdots_rebuild_outcome{host="alpha",status="rolled-back"} 1`) || !strings.Contains(read(t, prom), `nixdots_rebuild_generation{host="alpha"} 1`)) {
				t.Fatalf("metrics after the rollback (outcome rolled-back, generation 1 boots next):\n%s", read(t, prom))
			}
			list := e.h.Run(e.repo, "rebuild-rollback", "--list")
			if !strings.Contains(list, "checks-failed") || !strings.Contains(list, "failed checks: "+tc.check) {
				t.Fatalf("--list does not show the failed checks:\n%s", list)
			}

			// The same failure without the flag: the new system stays.
			write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v3\n")
			res = e.rs(args...)
			if res.Code != tc.without || strings.Contains(res.Stdout+res.Stderr, "rolled back") {
				t.Fatalf("without --rollback-on-failure: want exit %d, no rollback:\n%s", tc.without, res)
			}
			if g, _ := e.sys().CurrentGeneration(); g.Number != 3 {
				t.Fatalf("without the flag the new generation runs: %d", g.Number)
			}
		})
	}
}

// Checks that pass change nothing: a passing health check is reported, the
// build is committed and recorded as a success.
func TestHealthCheckPasses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.hook("health", "10-ok", `test "$REBUILD_SMART_HOOK" = health && test -e "$REBUILD_SMART_TOPLEVEL"`)
	res, rep := e.rsJSON("--skip-dotfiles", "--rollback-on-failure")
	if res.Code != 0 || rep["outcome"] != "success" {
		t.Fatalf("a passing health check failed the run:\n%s", res)
	}
	if p := phase(rep, "Post-checks"); !strings.Contains(p["detail"].(string), "1 health check(s) passed") {
		t.Fatalf("post-checks: %v", p)
	}
}

// webhook starts a receiver for this env's notifications and returns its
// URL; hooked returns the last body it got.
func (e *env) webhook() string {
	e.t.Helper()
	got := &atomic.Value{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	e.t.Cleanup(srv.Close)
	e.received = got
	return srv.URL
}

func (e *env) hooked() string {
	if e.received == nil {
		return ""
	}
	s, _ := e.received.Load().(string)
	return s
}
