package rebuildsmart

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/ui"
)

// nhRejected is what nh prints when its --ask prompt is answered no
// (nh-nixos, activate_rebuilt_config: bail!("User rejected the new config")),
// exiting 1.
const nhRejected = "User rejected the new config"

// remoteRebuild hands a --target-host rebuild to nh or nixos-rebuild: they
// evaluate (once), copy the closure and activate over ssh. "Nothing to
// switch" compares with the target's running system when ssh can read it:
// that needs the toplevel first, so it is only checked with --force-eval
// off... and nh or nixos-rebuild evaluate anyway: the comparison is made
// after, from what the target runs.
func (r *Run) remoteRebuild(ctx context.Context) (Outcome, error) {
	if head, err := r.VCS.Repo.Head(ctx); err == nil {
		r.VCS.BuiltCommit = head
	}
	if r.confirmed() {
		return r.confirmedRemoteSwitch(ctx)
	}
	cmd := r.switchCommandFor(r.Mode)
	r.System.ActivateCmd = cmd.String()
	if r.App.DryRun {
		_, _ = r.App.Runner.Run(ctx, cmd)
		return Outcome{Detail: "would build and " + r.Mode + " on " + r.Target.TargetHost + " with: " + cmd.String()}, nil
	}
	r.readTargetSystem(ctx)
	res, err := r.App.Runner.Run(ctx, cmd)
	if o, stop, done := r.remoteStopped(ctx, res, err); done {
		return o, stop
	}
	if r.Mode != ModeBuild {
		r.System.Toplevel = r.targetSystem(ctx)
	}
	if err != nil {
		return r.remoteFailure(res, err)
	}
	r.Outcome = OutcomeSuccess
	return Outcome{Detail: r.builtDetail()}, nil
}

// switchCommandFor is `nh os <mode> <flake> -H <host>` (never -u: updates are
// phase 5's; -R as root, which nh otherwise refuses) or `nixos-rebuild
// <mode> --flake <flake>#<host>`, with the remote flags each understands
// and the arguments after `--`.
func (r *Run) switchCommandFor(mode string) runner.Cmd {
	c := runner.Cmd{Mutates: true, Dir: r.Flake.Ref.Dir}
	if has(r, "nh") {
		c.Name = "nh"
		c.Args = []string{"os", mode, r.Flake.Ref.Dir, "-H", r.Host}
		if os.Geteuid() == 0 {
			c.Args = append(c.Args, "--bypass-root-check")
		}
		if r.Cmd.Ask && mode != ModeBuild {
			// nh asks itself: it reads the terminal, so it gets it.
			c.Args = append(c.Args, "--ask")
			c.Stdin, c.Interactive, c.Stream = r.App.Stdin, true, r.IO.Err
		}
	} else {
		c.Name, c.Args = "nixos-rebuild", []string{mode, "--flake", r.Flake.Ref.Dir + "#" + r.Host}
		if mode == ModeBuild {
			c.Dir = os.TempDir() // build leaves ./result: keep it out of the repository
		}
	}
	if r.Cmd.Verbose {
		c.Stream = r.IO.Human
	}
	c = remotetarget.Apply(c, r.Target, remotetarget.Options{})
	if len(r.Cmd.NixArgs) > 0 {
		if c.Name == "nh" {
			c.Args = append(append(c.Args, "--"), r.Cmd.NixArgs...)
		} else {
			c.Args = append(c.Args, r.Cmd.NixArgs...)
		}
	}
	return c
}

// readTargetSystem reads the remote target's running system over ssh
// before the switch (for REBUILD_SMART_PREVIOUS_SYSTEM and the record).
// Unreadable: the line says why and the switch runs.
func (r *Run) readTargetSystem(ctx context.Context) {
	if r.System.TargetPrev != "" {
		return
	}
	r.System.TargetPrev = r.targetSystem(ctx)
}

func (r *Run) targetSystem(ctx context.Context) string {
	cmd := remotetarget.CurrentSystemCmd(r.Target)
	cmd.Timeout = 20 * time.Second
	res, err := r.App.Runner.Run(ctx, cmd)
	if err != nil {
		r.IO.Println(fmt.Sprintf("    %s's running system not read (%s)", r.Target.TargetHost, brief.First(err.Error())))
		return ""
	}
	return res.Out()
}

// remoteFailure reports a failed switch on a remote target. This
// machine's system was not touched, so no local rollback is offered or
// run (--rollback-on-failure would roll back the wrong machine).
func (r *Run) remoteFailure(res runner.Result, runErr error) (Outcome, error) {
	h := r.Target.TargetHost
	if nixsys.IsUnitsFailed(runErr) {
		r.Outcome = OutcomeUnitsFailed
		r.Warn("switched %s to %s, but some units failed there (see `ssh %s systemctl --failed`)", h, r.System.Toplevel, h)
		return Outcome{Status: ui.Warn, Detail: "switched; units failed on " + h}, nil
	}
	r.Outcome = OutcomeFailed
	r.showTail(res)
	r.NextStep = fmt.Sprintf("this machine and the repository are unchanged; check %s with `ssh %s readlink /run/current-system`, go back there with `ssh %s sudo nixos-rebuild switch --rollback` if it changed", h, h, h)
	return Outcome{Detail: "failed on " + h + ": " + brief.First(runErr.Error())}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("%s on %s failed (repository left as it was): %w", r.Mode, h, runErr))
}
