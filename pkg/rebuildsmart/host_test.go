package rebuildsmart_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The host named in --flake DIR#HOST is a flag: it beats the environment and
// the config file (never build one host's configuration for another
// machine), the two spellings at one level must agree, and a remote flake
// reference is refused in one line.
func TestHostPrecedence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	cfg := filepath.Join(e.h.Root, "config.json")
	write(t, cfg, `{"rebuildSmart": {"host": "alpha"}}`)
	e.h.Setenv("NIXDOTS_CONFIG", cfg)
	e.h.Setenv("REBUILD_SMART_HOST", "")
	beta := e.repo + "#beta"

	host := func(env map[string]string, args ...string) string {
		t.Helper()
		h := *e.h
		h.Env = slices.Clone(e.h.Env)
		for k, v := range env {
			h.Setenv(k, v)
		}
		res := h.Exec(e.h.Home, "rebuild-smart", append([]string{"--json", "--dry-run", "--skip-dotfiles", "--offline"}, args...)...)
		var rep map[string]any
		if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil || res.Code != 0 {
			t.Fatalf("%v %v: %v\n%s", env, args, err, res)
		}
		h2, _ := rep["host"].(string)
		return h2
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag DIR#HOST over env host", map[string]string{"REBUILD_SMART_HOST": "alpha"}, []string{"--flake", beta}, "beta"},
		{"flag DIR#HOST over config host", nil, []string{"--flake", beta}, "beta"},
		{"env DIR#HOST over config host", map[string]string{"NH_OS_FLAKE": beta}, nil, "beta"},
		{"REBUILD_SMART_FLAKE too", map[string]string{"REBUILD_SMART_FLAKE": beta}, nil, "beta"},
		{"flag host over env DIR#HOST", map[string]string{"NH_OS_FLAKE": e.repo + "#alpha"}, []string{"--host", "beta"}, "beta"},
		{"env host over config", map[string]string{"REBUILD_SMART_HOST": "beta"}, []string{"--flake", e.repo}, "beta"},
		{"config host without any other", nil, []string{"--flake", e.repo}, "alpha"},
		{"both spellings agree", nil, []string{"--flake", beta, "--host", "beta"}, "beta"},
	} {
		if got := host(c.env, c.args...); got != c.want {
			t.Errorf("%s: built host %q, want %q", c.name, got, c.want)
		}
	}

	// A plan for another machine names the flake's host, never the config's.
	res := e.h.Exec(e.h.Home, "rebuild-smart", "--dry-run", "--skip-dotfiles", "--offline", "--flake", beta, "--target-host", "root@beta")
	if res.Code != 0 || !strings.Contains(res.Stdout+res.Stderr, "-H beta") || strings.Contains(res.Stdout+res.Stderr, "-H alpha") {
		t.Errorf("--target-host plan does not build beta:\n%s", res)
	}

	// The same level naming two hosts: one line, exit 2, nothing done.
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag conflict", nil, []string{"--flake", beta, "--host", "alpha"}, `--flake names host "beta" but --host names "alpha"`},
		{"env conflict", map[string]string{"NH_OS_FLAKE": beta, "REBUILD_SMART_HOST": "alpha"}, nil, `NH_OS_FLAKE names host "beta" but REBUILD_SMART_HOST names "alpha"`},
		{"config conflict", map[string]string{"NIXDOTS_CONFIG": filepath.Join(e.h.Root, "conflict.json")}, nil, `rebuildSmart.flake names host "beta" but config rebuildSmart.host names "alpha"`},
		{"remote flake", nil, []string{"--flake", "github:foo/bar"}, "remote flake references are not supported (github:foo/bar)"},
		{"remote flake with host", nil, []string{"--flake", "git+https://example.org/x#beta"}, "remote flake references are not supported"},
	} {
		write(t, filepath.Join(e.h.Root, "conflict.json"), `{"rebuildSmart": {"flake": "`+beta+`", "host": "alpha"}}`)
		h := *e.h
		h.Env = slices.Clone(e.h.Env)
		for k, v := range c.env {
			h.Setenv(k, v)
		}
		res := h.Exec(e.h.Home, "rebuild-smart", append([]string{"--skip-dotfiles", "--offline"}, c.args...)...)
		if res.Code != 2 || !strings.Contains(res.Stderr, c.want) || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
			t.Errorf("%s: want exit 2 and one line with %q:\n%s", c.name, c.want, res)
		}
	}
	if calls := e.calls(); len(calls) != 0 {
		t.Fatalf("a refused run changed the system: %+v", calls)
	}
}
