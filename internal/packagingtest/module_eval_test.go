package packagingtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/stretchr/testify/require"
)

// moduleEval is what testdata/eval-module.nix reports about the module.
type moduleEval struct {
	Options map[string][]struct {
		Name    string `json:"name"`
		Default any    `json:"default"`
		Type    string `json:"type"`
	} `json:"options"`
	ConfigJSON *string `json:"configJSON"`
	Services   map[string]struct {
		Description   string            `json:"description"`
		Before        []string          `json:"before"`
		WantedBy      []string          `json:"wantedBy"`
		ServiceConfig map[string]string `json:"serviceConfig"`
		Environment   map[string]string `json:"environment"`
	} `json:"services"`
	Timers map[string]struct {
		WantedBy    []string          `json:"wantedBy"`
		TimerConfig map[string]string `json:"timerConfig"`
	} `json:"timers"`
	Tmpfiles        []string `json:"tmpfiles"`
	PreSwitchChecks []string `json:"preSwitchChecks"`
	PreSwitchCheck  string   `json:"preSwitchCheck"`
	Assertions      []struct {
		Assertion bool   `json:"assertion"`
		Message   string `json:"message"`
	} `json:"assertions"`
	SystemPackages   []string            `json:"systemPackages"`
	Etc              []string            `json:"etc"`
	WrapperPostBuild string              `json:"wrapperPostBuild"`
	Groups           map[string][]string `json:"groups"`
}

// evalModule evaluates nix/module.nix with Debian's nix (through the
// stand-in lib of testdata/eval-module.nix) for the given settings.
func evalModule(t *testing.T, settings map[string]any, autoUpgrade, preSwitch bool) moduleEval {
	t.Helper()
	testharness.Require(t, "nix-instantiate")
	data, err := json.Marshal(settings)
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "settings.json")
	require.NoError(t, os.WriteFile(f, data, 0o644))
	// Paths as strings turned into paths: a checkout's path may hold characters
	// a Nix path literal does not allow.
	expr := fmt.Sprintf(`import (/. + %q) {
  module = /. + %q;
  settings = builtins.fromJSON (builtins.readFile %q);
  autoUpgrade = %t;
  hasPreSwitchChecks = %t;
}`, filepath.Join(root(), "internal", "packagingtest", "testdata", "eval-module.nix"), filepath.Join(root(), "nix", "module.nix"), f, autoUpgrade, preSwitch)
	r := host(t).Exec("", "nix-instantiate", "--eval", "--strict", "--json", "--expr", expr)
	require.Equal(t, 0, r.Code, r.String())
	var out moduleEval
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), r.Stdout)
	return out
}

// Both parts enabled, on a system with automatic upgrades: the units, the
// timer, the pre-switch check and a config file the binaries load.
func TestModuleEvaluatesFullSetup(t *testing.T) {
	t.Parallel()
	m := evalModule(t, map[string]any{
		"chezmoiSync":  map[string]any{"enable": true, "user": "alice", "repoUrl": "git@example.com:a/d.git", "notify": map[string]any{"desktop": true}},
		"rebuildSmart": map[string]any{"enable": true, "flake": "/home/alice/nix-config", "hooks": map[string]any{"timeout": "30s"}},
	}, true, true)

	require.NotNil(t, m.ConfigJSON)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(*m.ConfigJSON), 0o644))
	f, err := config.Load(cfgPath)
	require.NoError(t, err, *m.ConfigJSON)
	for _, kv := range []struct {
		section, key string
		want         any
	}{
		{config.SectionSync, "repoUrl", "git@example.com:a/d.git"},
		{config.SectionSync, "autoCommit", true},
		{config.SectionSync, "autoPush", true},
		{config.SectionSync, "notify.desktop", true},
		{config.SectionRebuild, "flake", "/home/alice/nix-config"},
		{config.SectionRebuild, "updateBeforeRebuild", false},
		{config.SectionRebuild, "syncDotfiles", true},
		{config.SectionRebuild, "offlineMode", false},
		{config.SectionRebuild, "hooks.timeout", "30s"},
	} {
		var got any
		ok, err := f.Decode(kv.section, kv.key, &got)
		require.NoError(t, err)
		require.True(t, ok, "%s.%s not written", kv.section, kv.key)
		require.Equal(t, kv.want, got, "%s.%s", kv.section, kv.key)
	}
	var unset any
	ok, _ := f.Decode(config.SectionSync, "branch", &unset)
	require.False(t, ok, "a null option must not be written")

	for _, name := range []string{"chezmoi-sync", "chezmoi-sync-manual", "chezmoi-pre-update"} {
		s, ok := m.Services[name]
		require.True(t, ok, "%s.service missing", name)
		require.Equal(t, "alice", s.ServiceConfig["User"], name)
		require.Equal(t, "nixdots/alice", s.ServiceConfig["StateDirectory"], name)
		require.Equal(t, "0700", s.ServiceConfig["StateDirectoryMode"], name)
		require.Equal(t, "oneshot", s.ServiceConfig["Type"], name)
		require.True(t, strings.HasSuffix(s.ServiceConfig["ExecStart"], "/bin/chezmoi-sync"), name)
		require.Equal(t, "/home/alice", s.Environment["HOME"], name)
	}
	require.Equal(t, []string{"nixos-upgrade.service"}, m.Services["chezmoi-pre-update"].Before)
	require.Equal(t, []string{"nixos-upgrade.service"}, m.Services["chezmoi-pre-update"].WantedBy)
	require.Empty(t, m.Services["chezmoi-sync"].WantedBy, "the timer starts it, not the boot")
	require.Equal(t, "1h", m.Timers["chezmoi-sync"].TimerConfig["OnUnitInactiveSec"])
	require.Equal(t, []string{"timers.target"}, m.Timers["chezmoi-sync"].WantedBy)
	// Root's state directory, which the users may enter, and each user's.
	require.Equal(t, []string{"d /var/lib/nixdots 2750 root nixdots -", "d /var/lib/nixdots/alice 0700 alice - -"}, m.Tmpfiles)
	require.Equal(t, map[string][]string{"nixdots": {"alice"}}, m.Groups)

	require.Equal(t, []string{"nixdots"}, m.PreSwitchChecks)
	// The check records as root, into root's state directory.
	for _, want := range []string{"NIXDOTS_RECORD=1", "NIXDOTS_SYNC_USER='alice'", "NIXDOTS_RECORD_USER= ",
		`/share/nixdots/hooks/pre-switch-check "$1" "$2" || true`} {
		require.Contains(t, m.PreSwitchCheck, want)
	}
	require.Contains(t, m.Etc, "nixdots/config.json")
	require.Contains(t, m.Etc, "nixdots/rebuild-smart.just")
	require.Contains(t, m.SystemPackages, "jujutsu")
	for _, a := range m.Assertions {
		require.True(t, a.Assertion, a.Message)
	}
}

// Every config key is an option of its section (hand-written or generated),
// with the seed's defaults; generated ones default to null.
func TestModuleEvaluatedOptions(t *testing.T) {
	t.Parallel()
	m := evalModule(t, map[string]any{}, false, true)
	seedDefaults := map[string]map[string]any{
		config.SectionSync: {"enable": false, "syncBeforeUpdate": true, "autoCommit": true, "autoPush": true,
			"repoUrl": nil, "user": nil, "interval": "1h"},
		config.SectionRebuild: {"enable": false, "autoCommit": true, "autoPush": true, "updateBeforeRebuild": false,
			"syncDotfiles": true, "offlineMode": false},
	}
	for section, keys := range config.Keys {
		opts := map[string]any{}
		for _, o := range m.Options[section] {
			opts[o.Name] = o.Default
		}
		for _, k := range keys {
			def, ok := opts[k.Name]
			require.True(t, ok, "config key %s.%s has no module option", section, k.Name)
			if _, seed := seedDefaults[section][k.Name]; !seed {
				require.Nil(t, def, "generated option %s.%s must default to null", section, k.Name)
			}
		}
		for name, want := range seedDefaults[section] {
			require.Contains(t, opts, name)
			require.Equal(t, want, opts[name], "%s.%s default", section, name)
		}
	}
	// Nothing enabled: nothing defined.
	require.Nil(t, m.ConfigJSON)
	require.Empty(t, m.Services)
	require.Empty(t, m.PreSwitchChecks)
}

func TestModuleVariants(t *testing.T) {
	t.Parallel()
	t.Run("no autoUpgrade: pre-update not ordered", func(t *testing.T) {
		t.Parallel()
		m := evalModule(t, map[string]any{"chezmoiSync": map[string]any{"enable": true, "user": "alice"}}, false, true)
		require.Contains(t, m.Services, "chezmoi-pre-update")
		require.Empty(t, m.Services["chezmoi-pre-update"].Before)
		require.Empty(t, m.Services["chezmoi-pre-update"].WantedBy)
		// Sync only: the check syncs but records nothing.
		require.Contains(t, m.PreSwitchCheck, "NIXDOTS_RECORD=0")
		require.Contains(t, m.PreSwitchCheck, "NIXDOTS_SYNC_USER='alice'")
		require.NotContains(t, *m.ConfigJSON, "rebuildSmart")
	})
	t.Run("syncBeforeUpdate off, no timer", func(t *testing.T) {
		t.Parallel()
		m := evalModule(t, map[string]any{"chezmoiSync": map[string]any{"enable": true, "user": "alice", "syncBeforeUpdate": false, "interval": nil}}, true, true)
		require.NotContains(t, m.Services, "chezmoi-pre-update")
		require.Contains(t, m.Services, "chezmoi-sync-manual")
		require.Empty(t, m.Timers)
		require.Empty(t, m.PreSwitchChecks, "nothing to record, nothing to sync")
	})
	t.Run("rebuild only", func(t *testing.T) {
		t.Parallel()
		m := evalModule(t, map[string]any{"rebuildSmart": map[string]any{"enable": true, "user": "bob", "offlineMode": true}}, true, true)
		require.Empty(t, m.Services)
		require.Contains(t, m.PreSwitchCheck, "NIXDOTS_RECORD=1")
		require.Contains(t, m.PreSwitchCheck, "NIXDOTS_SYNC_USER=''")
		require.Contains(t, m.PreSwitchCheck, "NIXDOTS_RECORD_USER= ")
		require.Equal(t, []string{"d /var/lib/nixdots 2750 root nixdots -", "d /var/lib/nixdots/bob 0700 bob - -"}, m.Tmpfiles)
		require.Contains(t, *m.ConfigJSON, `"offlineMode":true`)
		require.NotContains(t, *m.ConfigJSON, "chezmoiSync")
	})
	t.Run("older NixOS without preSwitchChecks", func(t *testing.T) {
		t.Parallel()
		m := evalModule(t, map[string]any{"rebuildSmart": map[string]any{"enable": true}}, false, false)
		require.Empty(t, m.PreSwitchChecks)
		require.NotNil(t, m.ConfigJSON)
		// No user: root's state directory only, private.
		require.Equal(t, []string{"d /var/lib/nixdots 0700 root root -"}, m.Tmpfiles)
		require.Empty(t, m.Groups)
	})
	t.Run("sync without a user", func(t *testing.T) {
		t.Parallel()
		m := evalModule(t, map[string]any{"chezmoiSync": map[string]any{"enable": true}}, false, true)
		require.Len(t, m.Assertions, 1)
		require.False(t, m.Assertions[0].Assertion)
		require.Contains(t, m.Assertions[0].Message, "chezmoiSync.user")
		require.Empty(t, m.Services)
	})
}
