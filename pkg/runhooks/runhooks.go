// Package runhooks puts together what a run does for fleets and unattended use
// (docs/fleet.md): the user hooks around a rebuild, the notifications and
// the metrics file, read from one place in the config. It is the seam the
// two binaries call, so that wiring them is a few lines: PreHooks before
// anything changes, Finish at the end. The parts live in their own packages
// (userhooks, notify, metrics, unattended, remotetarget).
package runhooks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"time"

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/metrics"
	"github.com/nixdots/nixdots/pkg/notify"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/userhooks"
)

// RebuildConfig is rebuild-smart's fleet configuration. metricsFile and
// unattended.randomizedDelay are flags (tagged config:"..."), resolved by
// the cli package, so they are not read here.
type RebuildConfig struct {
	Hooks          userhooks.Config
	Notify         notify.Config
	UnattendedBoot bool
}

// LoadRebuildConfig reads the rebuildSmart section. Errors are usage errors
// naming the key (exit 2).
func LoadRebuildConfig(f *config.File) (RebuildConfig, error) {
	var c RebuildConfig
	var err error
	if c.Hooks, err = userhooks.FromConfig(f, config.SectionRebuild); err != nil {
		return c, err
	}
	if c.Notify, err = notify.FromConfig(f, config.SectionRebuild); err != nil {
		return c, err
	}
	if _, err := f.Decode(config.SectionRebuild, "unattended.boot", &c.UnattendedBoot); err != nil {
		return c, err
	}
	return c, nil
}

// LoadSyncConfig reads chezmoi-sync's notification settings: the
// rebuildSmart section's notify.* keys, overridden by the chezmoiSync
// section's, so one webhook set for the rebuild also hears about parked
// dotfiles conflicts (the "same notification settings").
func LoadSyncConfig(f *config.File) (notify.Config, error) {
	return notify.FromSections(f, config.SectionRebuild, config.SectionSync)
}

// Rebuild is one rebuild-smart run's fleet side.
type Rebuild struct {
	Config      RebuildConfig
	Runner      runner.Runner // the app's (dry-run aware) runner
	Env         []string      // the app's environment (PATH, session bus)
	HooksDir    string        // userhooks.Dir(app.Getenv)
	WorkDir     string        // hooks run here: the flake directory
	DryRun      bool
	Unattended  bool
	MetricsFile string // --metrics-file; "" writes none
	// Warn receives each warning line (hook failures, skipped hook files,
	// undelivered notifications, an unwritable metrics file).
	Warn func(format string, a ...any)
	// Stream, when set, shows the hooks' output as they run (--verbose).
	Stream io.Writer
	// Client is the webhook's HTTP client (nil: a default one).
	Client *http.Client
}

func (f *Rebuild) warn(format string, a ...any) {
	if f.Warn != nil {
		f.Warn(format, a...)
	}
}

func (f *Rebuild) options() userhooks.Options {
	return userhooks.Options{Timeout: f.Config.Hooks.Timeout, Dir: f.WorkDir, Stream: f.Stream}
}

// PreHooks runs the pre-rebuild hooks. Call it after the lock is taken and
// the flake is found, before anything changes. A non-nil error is the veto
// (a *userhooks.VetoError, exit 9); return it as the run's error. A hooks.d
// directory that cannot be read also stops the run (exit 9): the guard the
// user put there could not be consulted.
func (f *Rebuild) PreHooks(ctx context.Context, d userhooks.Details) error {
	d.Unattended = d.Unattended || f.Unattended
	hooks, skipped, err := userhooks.Discover(f.Config.Hooks, f.HooksDir, userhooks.Pre)
	for _, s := range skipped {
		f.warn("hook %s not run: %s", s.Path, s.Reason)
	}
	if err != nil {
		return exitcode.Wrap(exitcode.Vetoed, fmt.Errorf("pre-rebuild hooks could not be listed, so the rebuild was stopped; nothing was changed: %w", err))
	}
	rep := userhooks.Run(ctx, f.Runner, userhooks.Pre, hooks, d, f.options())
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return rep.Veto()
}

// HealthChecks runs the health-check hooks (hooks.healthCheck and
// hooks.d/health/), the post-checks a user adds: after an activation, with
// the run's details. It returns how many ran and one line per hook that
// failed ("10-ping: exit 1: no route to host"). A health directory that
// cannot be listed is a failed check: the guard put there could not be
// consulted.
func (f *Rebuild) HealthChecks(ctx context.Context, d userhooks.Details) (ran int, failed []string) {
	d.Unattended = d.Unattended || f.Unattended
	hooks, skipped, err := userhooks.Discover(f.Config.Hooks, f.HooksDir, userhooks.Health)
	for _, s := range skipped {
		f.warn("hook %s not run: %s", s.Path, s.Reason)
	}
	if err != nil {
		return 0, []string{fmt.Sprintf("health-check hooks could not be listed: %v", err)}
	}
	rep := userhooks.Run(ctx, f.Runner, userhooks.Health, hooks, d, f.options())
	for _, r := range rep.Failed() {
		failed = append(failed, r.Describe(rep.Timeout))
	}
	return len(rep.Results), failed
}

// RebuildResult is what Finish needs to know about the finished run.
type RebuildResult struct {
	Details    userhooks.Details // Outcome, FailedPhase, Generation, Toplevel, Duration, ... filled in
	Start      time.Time
	Generation int
	// ProfileGeneration is the profile's generation after the run when it
	// is not Generation: after a rollback the new generation (Generation,
	// what the notification names) is not the one that boots next. 0: the
	// same as Generation.
	ProfileGeneration int
	UnitsFailed       int
	LastSuccess       time.Time // metrics.LastRebuildSuccess(history, host), or Start on success
	Error             string    // the run's error, one line
	NextStep          string
	Diff              string // the closure diff's summary, for the notification's body
	Record            any    // the --json report, sent to the webhook
}

// Finished says what Finish did, for the summary and tests.
type Finished struct {
	Hooks         *userhooks.Report // nil when no hook point applied
	Notifications []notify.Outcome
	MetricsErr    error
	HooksFailed   int
}

// Finish runs the post or failure hooks (by outcome), sends the
// notifications and writes the metrics file, in that order (the metrics
// count failed hooks). Nothing here changes the run's outcome: every
// problem becomes a warning.
//
// Outcomes (rebuild-smart's --json "outcome"): success, nothing-to-switch
// and units-failed run the post hooks; failed and rolled-back run the
// failure hooks;
// vetoed and interrupted run none; locked, bad-input and dry-run do
// nothing at all (no notification, metrics file untouched).
func (f *Rebuild) Finish(ctx context.Context, res RebuildResult) Finished {
	var out Finished
	d := res.Details
	d.Unattended = d.Unattended || f.Unattended
	var kind userhooks.Kind
	switch d.Outcome {
	case "success", "nothing-to-switch", "units-failed":
		kind = userhooks.Post
		if res.LastSuccess.Before(res.Start) {
			res.LastSuccess = res.Start // this run is the last success
		}
	case "failed", "rolled-back":
		// rolled-back: the new system failed and the old one runs again;
		// the failure hooks are told (REBUILD_SMART_OUTCOME says which).
		kind = userhooks.Failure
	case "locked", "bad-input", "dry-run", "":
		// Not a run of the rebuild: another run owns the lock (it writes
		// the metrics and notifies), the input was refused, or nothing was
		// meant to happen. Nothing to hook, tell or count.
		return out
	}
	if kind != "" && ctx.Err() == nil {
		hooks, skipped, err := userhooks.Discover(f.Config.Hooks, f.HooksDir, kind)
		for _, s := range skipped {
			f.warn("hook %s not run: %s", s.Path, s.Reason)
		}
		if err != nil {
			f.warn("%s hooks not run: %v", kind, err)
		}
		rep := userhooks.Run(ctx, f.Runner, kind, hooks, d, f.options())
		out.Hooks = &rep
		for _, r := range rep.Failed() {
			out.HooksFailed++
			f.warn("%s hook %s (the outcome is unchanged)", kind, r.Describe(rep.Timeout))
		}
	}

	if ev, send := notify.RebuildEvent(notify.Rebuild{
		Host: d.Host, Outcome: d.Outcome, Action: d.Action, Generation: res.Generation,
		FailedPhase: d.FailedPhase, Error: res.Error, NextStep: res.NextStep,
		Unattended: d.Unattended, Diff: res.Diff, Record: res.Record,
	}); send {
		ev.Time = res.Start
		out.Notifications = f.notifier().Send(ctx, ev)
		warnUndelivered(f.warn, out.Notifications)
	}

	if f.MetricsFile != "" && !f.DryRun {
		fams := metrics.RebuildFamilies(metrics.RebuildRun{
			Host: d.Host, Start: res.Start, Duration: d.Duration, Outcome: d.Outcome,
			LastSuccess: res.LastSuccess, Generation: cmp.Or(res.ProfileGeneration, res.Generation), UnitsFailed: res.UnitsFailed,
			HooksFailed: out.HooksFailed, BootPending: d.Action == "boot" && d.Outcome == "success",
		})
		if err := metrics.WriteFile(f.MetricsFile, fams); err != nil {
			out.MetricsErr = err
			f.warn("metrics file not written: %v", err)
		}
	}
	return out
}

func (f *Rebuild) notifier() *notify.Notifier {
	return &notify.Notifier{Config: f.Config.Notify, Runner: f.Runner, Env: f.Env, Client: f.Client,
		DryRun: f.DryRun, UserAgent: "rebuild-smart"}
}

// warnUndelivered reports notifications that were attempted and failed.
// Skips (no session bus, no notify-send) are normal on servers: silent.
func warnUndelivered(warn func(string, ...any), outs []notify.Outcome) {
	if warn == nil {
		return
	}
	for _, o := range outs {
		if !o.Sent && o.Skipped == "" {
			warn("notification %s", o)
		}
	}
}

// Sync is one chezmoi-sync run's fleet side: notification and metrics.
type Sync struct {
	Notify      notify.Config
	Runner      runner.Runner
	Env         []string
	DryRun      bool
	MetricsFile string
	User        string // the account synced (metrics label); $USER
	Warn        func(format string, a ...any)
	Client      *http.Client
}

// SyncFinished says what Finish did.
type SyncFinished struct {
	Notifications []notify.Outcome
	MetricsErr    error
}

// Finish notifies about parked conflicts and failures (notify.SyncEvent
// decides) and writes the metrics file from the saved record. Call it after
// syncstate.Save, so LastSuccess is carried forward. Never an error: every
// problem is a warning.
func (s *Sync) Finish(ctx context.Context, rec *syncstate.Record) SyncFinished {
	var out SyncFinished
	warn := s.Warn
	if warn == nil {
		warn = func(string, ...any) {}
	}
	if ev, send := notify.SyncEvent(rec); send {
		n := &notify.Notifier{Config: s.Notify, Runner: s.Runner, Env: s.Env, Client: s.Client,
			DryRun: s.DryRun, UserAgent: "chezmoi-sync"}
		out.Notifications = n.Send(ctx, ev)
		warnUndelivered(warn, out.Notifications)
	}
	if s.MetricsFile != "" && !s.DryRun {
		if err := metrics.WriteFile(s.MetricsFile, metrics.SyncFamilies(metrics.FromSyncRecord(rec, s.User))); err != nil {
			out.MetricsErr = err
			warn("metrics file not written: %v", err)
		}
	}
	return out
}

// IsVeto reports whether err is a pre hook's veto (or a hooks.d that could
// not be read), for the caller's outcome word "vetoed".
func IsVeto(err error) bool {
	var ve *userhooks.VetoError
	return errors.As(err, &ve) || exitcode.FromError(err) == exitcode.Vetoed
}

// CurrentUser names the account a chezmoi-sync run syncs, for the metrics'
// user label: $USER (systemd sets it for User= units), else the uid's name.
func CurrentUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprint(os.Getuid())
}
