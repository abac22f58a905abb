package chezmoisync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/statindex"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// scanStep asks chezmoi what changed in the home directory (`chezmoi
// status`, which renders templates) and sorts every line by chezmoi's
// source-state rules (chezmoi.Classify): what capture re-adds, what apply
// writes, what it must not touch, and what waits for the user. It is
// skipped when the stat index says no managed file changed and the
// working copy holds no change.
type scanStep struct{}

func (scanStep) name() string { return "scan" }

func (scanStep) plan(_ context.Context, r *run) (plan, error) {
	if r.indexDirty == "" && !r.resolving {
		return plan{skip: "no managed file changed since the last sync (stat index)", quiet: true}, nil
	}
	return plan{does: "read what changed in the home directory"}, nil
}

func (scanStep) run(ctx context.Context, r *run) (outcome, error) {
	r.startScan(ctx)
	<-r.scanDone
	if r.scanErr != nil && resolves(r.mode) && strings.Contains(r.scanErr.Error(), "inconsistent state") {
		// Mid-resolution the source can hold two files of one target (a
		// mode change renamed it on one side: dot_x, executable_dot_x),
		// which chezmoi refuses to read. The resolution (or the abort)
		// removes one; home edits wait for the next sync, and apply
		// reads the source again once it is consistent.
		r.warn("chezmoi cannot read the source while the conflict is unresolved (%s): home edits are captured by the next sync", brief.Line(r.scanErr.Error()))
		return outcome{status: ui.Warn, detail: "the source is mid-resolution: two source files of one target"}, nil
	}
	if r.scanErr != nil {
		if strings.Contains(r.scanErr.Error(), "inconsistent state") {
			return outcome{}, r.inconsistent(r.scanErr)
		}
		return outcome{}, r.scanErr
	}
	r.scanned = true
	r.noteWaiting(r.cls.Waiting)
	r.noteWarnings(r.warnings)
	return outcome{}, nil
}

// startScan runs the scan in the background (inspect starts it beside
// jj's query when the stat index is dirty); scanDone closes when it ends.
func (r *run) startScan(ctx context.Context) {
	if r.scanDone != nil {
		return
	}
	r.scanDone = make(chan struct{})
	go func() {
		defer close(r.scanDone)
		r.scanErr = r.scanHome(ctx)
	}()
}

// scanHome runs chezmoi managed and status (and reads chezmoi's record
// of what it wrote when something differs) and classifies the result.
// Externals that cannot be fetched degrade the run (shadow.go).
func (r *run) scanHome(ctx context.Context) error {
	var managed map[string]chezmoi.Managed
	err := r.chezmoiReadable(ctx, func(c *chezmoi.Client) (err error) {
		managed, err = c.Managed(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("chezmoi managed: %w", err)
	}
	// Before status reads the files: the index then describes what was
	// read, and an edit made while this run goes on is seen by the next.
	r.snap = statindex.Snapshot(r.indexPaths(managed), nil)
	var changes []chezmoi.Change
	var warnings []string
	err = r.chezmoiReadable(ctx, func(c *chezmoi.Client) (err error) {
		changes, warnings, err = c.Status(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("chezmoi status: %w", err)
	}
	var written map[string]string
	if len(changes) > 0 {
		if written, err = r.cm.LastWritten(ctx); err != nil {
			return fmt.Errorf("cannot read what chezmoi last wrote (chezmoi state): %w", err)
		}
	}
	r.changes, r.managed, r.written, r.warnings = changes, managed, written, warnings
	r.cls = r.withoutStray(chezmoi.Classify(chezmoi.Input{Changes: changes, Managed: managed, Written: written, Lstat: os.Lstat, Hash: hashFile,
		ReadDir: os.ReadDir, Readlink: os.Readlink,
		Externals: externalTargets(changes, managed)}))
	return nil
}

// noteWaiting records edits left for the user (once per path).
func (r *run) noteWaiting(ws []chezmoi.Waiting) {
	have := map[string]bool{}
	for _, w := range r.rec.Waiting {
		have[w.Path] = true
	}
	for _, w := range ws {
		if have[w.Path] {
			continue
		}
		have[w.Path] = true
		r.rec.Waiting = append(r.rec.Waiting, syncstate.Waiting{Path: w.Path, Kind: w.Kind, Next: w.Next})
		if w.Kind == chezmoi.WaitTemplate {
			r.rec.Templates = append(r.rec.Templates, w.Path)
		}
	}
}

// noteWarnings records chezmoi's warnings; a changed config template
// becomes the next step (chezmoi keeps using the old config until then).
func (r *run) noteWarnings(ws []string) {
	for _, w := range uniq(ws) {
		msg := "chezmoi: " + w
		if slices.Contains(r.rec.Warnings, msg) {
			continue
		}
		r.warn("%s", msg)
		if strings.Contains(w, "config file template has changed") && r.rec.NextStep == "" {
			r.rec.NextStep = "the config file template changed: run chezmoi init to regenerate your chezmoi config"
		}
	}
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// inconsistent is chezmoi refusing a source directory that gives one
// target two source entries (split.go): a conflict to resolve by keeping
// one of them, never a bare failure.
func (r *run) inconsistent(err error) error {
	return &refusal{word: syncstate.ConflictsPreserved, code: exitcode.Conflicts,
		msg:  fmt.Sprintf("the source directory gives one target two source entries (%s): nothing was changed", brief.Line(err.Error())),
		next: fmt.Sprintf("keep one source entry per target: cd %s && rm the one(s) you do not want (chezmoi chattr sets the attributes you want afterwards), then chezmoi-sync --continue (or chezmoi-sync when no conflict is parked)", r.workTree)}
}

// externalTargets are the changed targets whose source is no file of the
// source directory: chezmoi names a synthetic source (create_empty_) for
// the targets of .chezmoiexternal entries.
func externalTargets(changes []chezmoi.Change, managed map[string]chezmoi.Managed) map[string]bool {
	out := map[string]bool{}
	for _, c := range changes {
		m, ok := managed[c.Path]
		if !ok || m.Source == "" {
			continue
		}
		if _, err := os.Lstat(m.Source); os.IsNotExist(err) {
			out[c.Path] = true
		}
	}
	return out
}
