package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Confirmation is what happened to a confirmed remote activation (the
// --json "confirmation" object; null when the switch was not confirmed).
type Confirmation struct {
	Unit      string `json:"unit"`      // the transient unit on the target
	TimeoutS  int    `json:"timeout_s"` // --confirm-timeout, in whole seconds
	State     string `json:"state"`     // the unit's last state seen, or "unconfirmed" (never reached again)
	Confirmed bool   `json:"confirmed"`
	// ActivationExit is switch-to-configuration's exit code on the target
	// (-1 unknown; 4: active, some units failed).
	ActivationExit int `json:"activation_exit"`
	PrevGeneration int `json:"previous_generation"` // the target's profile before: where it rolls back to
}

// Timing of the confirmation loop: a poll a second (the unit counts in
// seconds too), and a little grace beyond --confirm-timeout for the time
// an activation takes before the unit starts counting.
const (
	confirmPoll  = time.Second
	confirmGrace = 2 * time.Second
	// rollbackWatch is how long, at least, the polls look for the target's
	// own rollback once confirming stopped: putting the old system back
	// runs switch-to-configuration, which takes as long as it takes
	// whatever --confirm-timeout was (the look ends as soon as the unit
	// says it is done).
	rollbackWatch = 2 * time.Minute
)

// confirmed reports whether this run activates a remote target under a
// confirmation: a switch (boot and build activate nothing; test is handed
// to nh or nixos-rebuild as before, see docs/fleet.md) with a timeout.
func (r *Run) confirmed() bool {
	return r.Target.Remote() && r.Mode == nixsys.ActionSwitch && r.Cmd.ConfirmTimeout > 0
}

// confirmedRemoteSwitch is the remote switch with magic rollback
// (remotetarget/confirm.go): nh or nixos-rebuild installs the new system as
// the target's boot default, then a transient unit on the target activates
// it and rolls back unless this machine confirms within --confirm-timeout.
func (r *Run) confirmedRemoteSwitch(ctx context.Context) (Outcome, error) {
	host, timeout := r.Target.TargetHost, time.Duration(r.Cmd.ConfirmTimeout)
	cmd := r.switchCommandFor(nixsys.ActionBoot)
	r.System.ActivateCmd = fmt.Sprintf("%s, then on %s: systemd-run --unit=%s<id> ... switch-to-configuration test, rolled back unless confirmed within %s", cmd, host, remotetarget.UnitPrefix, timeout)
	if r.App.DryRun {
		_, _ = r.App.Runner.Run(ctx, cmd)
		return Outcome{Detail: "would install the new system as " + host + "'s boot default with: " + cmd.String() +
			fmt.Sprintf("; then activate it there in a transient unit that rolls back unless confirmed within %s", timeout)}, nil
	}
	before, err := r.readTarget(ctx)
	if err != nil {
		r.Outcome = OutcomeFailed
		r.NextStep = fmt.Sprintf("nothing was changed; check `ssh %s true`, or hand the whole switch to nh/nixos-rebuild without a confirmation (--confirm-timeout 0)", host)
		return Outcome{Detail: "cannot reach " + host}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("the activation on %s must be confirmed over ssh, and ssh cannot read its system: %w", host, err))
	}
	r.System.TargetPrev = before.Running
	if before.Running == "" {
		r.Outcome = OutcomeFailed
		r.NextStep = "nothing was changed; a first installation has nothing to roll back to: use --confirm-timeout 0 for it"
		return Outcome{Detail: host + " runs no system"}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("%s has no /run/current-system to roll back to, so its activation cannot be confirmed", host))
	}
	res, err := r.App.Runner.Run(ctx, cmd)
	if o, stop, done := r.remoteStopped(ctx, res, err); done {
		return o, stop
	}
	if err != nil {
		return r.remoteFailure(res, err)
	}
	after, err := r.readTarget(ctx)
	if err != nil || after.ProfileSystem == "" {
		r.Outcome = OutcomeFailed
		r.NextStep = fmt.Sprintf("%s may boot the new system next; check with `ssh %s readlink /nix/var/nix/profiles/system`", host, host)
		return Outcome{Detail: "target not read after the install"}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("%s's system could not be read after the install: %v", host, err))
	}
	r.System.Toplevel, r.System.Generation = after.ProfileSystem, after.ProfileGen
	if after.ProfileSystem == before.Running && !r.Cmd.ForceSwitch {
		r.Outcome = OutcomeNothingToSwitch
		return Outcome{Detail: "nothing to switch: " + host + " already runs " + after.ProfileSystem}, nil
	}
	return r.activateConfirmed(ctx, before, after, timeout)
}

// activateConfirmed arms the unit on the target and waits for its verdict.
func (r *Run) activateConfirmed(ctx context.Context, before, after remotetarget.TargetState, timeout time.Duration) (Outcome, error) {
	host := r.Target.TargetHost
	id := remotetarget.NewConfirmID(r.App.Now())
	c := &Confirmation{Unit: remotetarget.UnitPrefix + id + ".service", TimeoutS: remotetarget.Seconds(timeout), ActivationExit: -1, PrevGeneration: before.ProfileGen}
	r.System.Confirm = c
	arm := remotetarget.ArmCmd(r.Target, id, after.ProfileSystem, before.Running, before.ProfileGen, timeout)
	arm.Mutates, arm.Timeout = true, time.Minute
	if _, err := r.App.Runner.Run(ctx, arm); err != nil {
		r.Outcome = OutcomeFailed
		r.NextStep = fmt.Sprintf("%s boots generation %d next but runs the old system; activate it with `ssh %s switch-to-configuration` of %s, or put the boot default back with `ssh %s sudo nixos-rebuild boot --rollback`", host, after.ProfileGen, host, after.ProfileSystem, host)
		return Outcome{Detail: "activation not started on " + host}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("starting the activation unit on %s failed: %w", host, err))
	}
	r.IO.Println(fmt.Sprintf("    activating on %s in %s; confirming within %s", host, c.Unit, timeout))
	r.awaitConfirmation(ctx, id, timeout, c)
	c.Confirmed = c.State == remotetarget.StateConfirmed
	return r.confirmOutcome(ctx, c, before)
}

// awaitConfirmation polls the unit over ssh, confirming as soon as it says
// the new system is active. It gives up confirming when the target has not
// answered for the timeout (plus a grace): from then on the unit rolls
// back by itself, and a late confirmation would only race it, so the
// polls only look, for one more timeout, to see the rollback happen.
//
// Only a connection made after this machine saw the new system active may
// confirm: one made before (while it was activating) can outlive a
// configuration that cut the target's network, and confirming over it
// would keep that configuration. So a poll confirms only once an earlier
// poll has seen "activated".
func (r *Run) awaitConfirmation(ctx context.Context, id string, timeout time.Duration, c *Confirmation) {
	lastHeard, canConfirm, seenActive := time.Now(), true, false
	var lookUntil time.Time
	for {
		confirm := canConfirm && seenActive
		poll := remotetarget.PollCmd(r.Target, id, confirm)
		poll.Mutates, poll.Timeout = confirm, 20*time.Second
		res, err := r.App.Runner.Run(ctx, poll)
		if err == nil {
			state, rc := remotetarget.ParsePoll(res.Out())
			if rc >= 0 {
				c.ActivationExit = rc
			}
			if state != "unknown" {
				c.State, lastHeard = state, time.Now()
			}
			if state == remotetarget.StateActivated && !seenActive {
				seenActive = true
				continue // confirm at once, over a new connection
			}
			if remotetarget.Final(state) {
				return
			}
		}
		if ctx.Err() != nil {
			c.State = "unconfirmed"
			return
		}
		if canConfirm && time.Since(lastHeard) > timeout+confirmGrace {
			canConfirm, lookUntil = false, time.Now().Add(max(timeout, rollbackWatch)+5*time.Second)
			r.Warn("%s has not answered for %s: the activation is not confirmed, so it rolls back by itself", r.Target.TargetHost, time.Since(lastHeard).Round(time.Second))
		}
		if !canConfirm && time.Now().After(lookUntil) {
			c.State = "unconfirmed"
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(confirmPoll):
		}
	}
}

// confirmOutcome turns the unit's verdict into the phase's outcome.
func (r *Run) confirmOutcome(ctx context.Context, c *Confirmation, before remotetarget.TargetState) (Outcome, error) {
	host := r.Target.TargetHost
	back := fmt.Sprintf("generation %d", before.ProfileGen)
	switch {
	case ctx.Err() != nil:
		r.Outcome = OutcomeFailed
		r.NextStep = fmt.Sprintf("interrupted before the confirmation: %s rolls back by itself to %s", host, back)
		return Outcome{}, ctx.Err()
	case c.Confirmed && c.ActivationExit == nixsys.ExitUnitsFailed:
		r.Outcome = OutcomeUnitsFailed
		r.Warn("switched %s to %s (confirmed), but some units failed there (see `ssh %s systemctl --failed`)", host, r.System.Toplevel, host)
		return Outcome{Status: ui.Warn, Detail: "switched and confirmed; units failed on " + host}, nil
	case c.Confirmed:
		r.Outcome = OutcomeSuccess
		return Outcome{Detail: fmt.Sprintf("switched %s to generation %d (confirmed within %ds)", host, r.System.Generation, c.TimeoutS)}, nil
	case c.State == remotetarget.StateRollbackFailed:
		r.Outcome = OutcomeFailed
		r.NextStep = fmt.Sprintf("look at %s now: `ssh %s journalctl -u %s`; `ssh %s sudo nixos-rebuild switch --rollback` goes back by hand", host, host, c.Unit, host)
		return Outcome{Detail: "the rollback on " + host + " failed"}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("%s tried to roll back to %s and failed", host, back))
	}
	r.Outcome = OutcomeFailed
	r.System.RolledBack = true
	why := fmt.Sprintf("the activation was not confirmed within %ds", c.TimeoutS)
	if c.ActivationExit > 0 && c.ActivationExit != nixsys.ExitUnitsFailed {
		why = fmt.Sprintf("the activation failed there (switch-to-configuration exit %d)", c.ActivationExit)
	}
	seen := fmt.Sprintf("%s rolled back to %s by itself", host, back)
	if c.State != remotetarget.StateRolledBack {
		seen = fmt.Sprintf("%s did not answer again; it rolls back to %s by itself (check with `ssh %s readlink /run/current-system`)", host, back, host)
	}
	r.NextStep = seen + "; the repository is as it was (nothing committed). Fix the configuration and run rebuild-smart again"
	return Outcome{Detail: why + "; " + seen}, exitcode.Wrap(exitcode.RolledBack, errors.New(why+"; "+seen))
}

// remoteStopped handles what ends a remote switch before its result
// matters, the same way for a confirmed and a plain one: an interrupt, or
// "no" at nh's prompt. done is false otherwise.
func (r *Run) remoteStopped(ctx context.Context, res runner.Result, err error) (o Outcome, stop error, done bool) {
	if ctx.Err() != nil {
		r.Outcome = OutcomeFailed
		return Outcome{}, ctx.Err(), true
	}
	if err != nil && strings.Contains(string(res.Stderr), nhRejected) {
		r.Outcome = OutcomeDeclined
		r.NextStep = r.Target.TargetHost + " was not changed (answered no at nh's prompt)"
		return Outcome{Status: ui.Skipped, Detail: "not activated on " + r.Target.TargetHost + " (answered no)"}, nil, true
	}
	return Outcome{}, nil, false
}

// readTarget reads the target's profile and running system over ssh.
func (r *Run) readTarget(ctx context.Context) (remotetarget.TargetState, error) {
	cmd := remotetarget.ReadStateCmd(r.Target)
	cmd.Timeout = 30 * time.Second
	res, err := r.App.Runner.Run(ctx, cmd)
	if err != nil {
		return remotetarget.TargetState{}, errors.New(brief.First(err.Error()))
	}
	return remotetarget.ParseState(res.Out())
}
