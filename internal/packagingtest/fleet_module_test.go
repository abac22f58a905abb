package packagingtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rebuild.smart.schedule: a oneshot running rebuild-smart --unattended as
// root and a calendar timer; no schedule, no unit.
func TestModuleUnattendedSchedule(t *testing.T) {
	t.Parallel()
	m := evalModule(t, map[string]any{"rebuildSmart": map[string]any{
		"enable": true, "user": "alice", "flake": "/etc/nixos", "schedule": "04:00",
		"unattended": map[string]any{"boot": true, "randomizedDelay": "30m"},
	}}, false, true)
	s, ok := m.Services["rebuild-smart-unattended"]
	require.True(t, ok, "rebuild-smart-unattended.service missing")
	require.Equal(t, "oneshot", s.ServiceConfig["Type"])
	require.True(t, strings.HasSuffix(s.ServiceConfig["ExecStart"], "/bin/rebuild-smart --unattended --skip-dotfiles"), s.ServiceConfig["ExecStart"])
	require.Empty(t, s.ServiceConfig["User"], "runs as root: activation needs it")
	require.Equal(t, "3", s.ServiceConfig["SuccessExitStatus"], "stepping aside is not a failure")
	// Root's state is root's: nothing chowns it to the user afterwards,
	// and no StateDirectory= (systemd would chown the users' directories).
	require.Empty(t, s.ServiceConfig["ExecStopPost"])
	require.Empty(t, s.ServiceConfig["StateDirectory"])
	require.Equal(t, "/etc/nixos", s.Environment["GIT_CONFIG_VALUE_0"])
	tm := m.Timers["rebuild-smart-unattended"]
	require.Equal(t, "04:00", tm.TimerConfig["OnCalendar"])
	require.Equal(t, []string{"timers.target"}, tm.WantedBy)
	require.Contains(t, *m.ConfigJSON, `"unattended":{"boot":true,"randomizedDelay":"30m"}`)

	m = evalModule(t, map[string]any{"rebuildSmart": map[string]any{"enable": true, "flake": "/etc/nixos"}}, false, true)
	require.NotContains(t, m.Services, "rebuild-smart-unattended")
	require.Empty(t, m.Timers)

	m = evalModule(t, map[string]any{"rebuildSmart": map[string]any{"enable": true, "schedule": "hourly"}}, false, true)
	require.NotContains(t, m.Services, "rebuild-smart-unattended")
	require.Len(t, m.Assertions, 1)
	require.False(t, m.Assertions[0].Assertion)
	require.Contains(t, m.Assertions[0].Message, "schedule needs")
}

// chezmoiSync.users: one template (User=%i, its own state directory) and a
// timer per user; the single-user units are not defined then.
func TestModuleSeveralSyncUsers(t *testing.T) {
	t.Parallel()
	m := evalModule(t, map[string]any{"chezmoiSync": map[string]any{
		"enable": true, "users": []string{"alice", "bob"}, "metricsFile": "/var/lib/node-exporter/chezmoi-sync.prom",
	}}, true, true)
	tpl, ok := m.Services["chezmoi-sync@"]
	require.True(t, ok, "chezmoi-sync@.service missing")
	require.Equal(t, "%i", tpl.ServiceConfig["User"])
	require.Equal(t, "nixdots/%i", tpl.ServiceConfig["StateDirectory"])
	require.Equal(t, "0700", tpl.ServiceConfig["StateDirectoryMode"])
	require.Equal(t, "/var/lib/node-exporter/chezmoi-sync-%i.prom", tpl.Environment["CHEZMOI_SYNC_METRICS_FILE"])
	require.NotContains(t, m.Services, "chezmoi-sync")
	for _, u := range []string{"alice", "bob"} {
		tm, ok := m.Timers["chezmoi-sync@"+u]
		require.True(t, ok, "timer of %s", u)
		require.Equal(t, "1h", tm.TimerConfig["OnUnitInactiveSec"])
	}
	pre := m.Services["chezmoi-pre-update"]
	require.Equal(t, []string{"nixos-upgrade.service"}, pre.Before)
	require.Contains(t, pre.ServiceConfig["ExecStart"], "systemctl start chezmoi-sync@alice.service chezmoi-sync@bob.service")
	require.Equal(t, []string{"d /var/lib/nixdots 2750 root nixdots -", "d /var/lib/nixdots/alice 0700 alice - -", "d /var/lib/nixdots/bob 0700 bob - -"}, m.Tmpfiles)
	require.Equal(t, map[string][]string{"nixdots": {"alice", "bob"}}, m.Groups)
	for _, a := range m.Assertions {
		require.True(t, a.Assertion, a.Message)
	}

	// The single-user form still defines the plain units.
	m = evalModule(t, map[string]any{"chezmoiSync": map[string]any{"enable": true, "user": "alice"}}, false, true)
	require.Contains(t, m.Services, "chezmoi-sync")
	require.NotContains(t, m.Services, "chezmoi-sync@")
}

// rebuild.smart.cleanSchedule: a oneshot running rebuild-rollback --clean
// as root on a calendar timer (the policy comes from the clean.* keys in
// the config file); no schedule, no unit.
func TestModuleCleanSchedule(t *testing.T) {
	t.Parallel()
	m := evalModule(t, map[string]any{"rebuildSmart": map[string]any{
		"enable": true, "flake": "/etc/nixos", "cleanSchedule": "weekly",
		"clean": map[string]any{"keep": 3, "keepSince": "30d", "gc": true},
	}}, false, true)
	s, ok := m.Services["rebuild-rollback-clean"]
	require.True(t, ok, "rebuild-rollback-clean.service missing")
	require.Equal(t, "oneshot", s.ServiceConfig["Type"])
	require.True(t, strings.HasSuffix(s.ServiceConfig["ExecStart"], "/bin/rebuild-rollback --clean"), s.ServiceConfig["ExecStart"])
	require.Empty(t, s.ServiceConfig["User"], "deleting system generations needs root")
	require.Equal(t, "3", s.ServiceConfig["SuccessExitStatus"], "a rebuild holding the lock is not a failure")
	require.Equal(t, "/etc/nixos", s.Environment["GIT_CONFIG_VALUE_0"])
	tm := m.Timers["rebuild-rollback-clean"]
	require.Equal(t, "weekly", tm.TimerConfig["OnCalendar"])
	require.Equal(t, []string{"timers.target"}, tm.WantedBy)
	require.Contains(t, *m.ConfigJSON, `"clean":{"gc":true,"keep":3,"keepSince":"30d"}`)

	m = evalModule(t, map[string]any{"rebuildSmart": map[string]any{"enable": true}}, false, true)
	require.NotContains(t, m.Services, "rebuild-rollback-clean")
}
