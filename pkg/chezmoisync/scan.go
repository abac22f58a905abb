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

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/statindex"
	"github.com/nixdots/nixdots/pkg/syncstate"
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
	if r.scanErr != nil {
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

// scanHome runs chezmoi status and managed (and reads chezmoi's record of
// what it wrote when something differs) and classifies the result.
func (r *run) scanHome(ctx context.Context) error {
	managed, err := r.managedTargets(ctx)
	if err != nil {
		return err
	}
	// Before status reads the files: the index then describes what was
	// read, and an edit made while this run goes on is seen by the next.
	r.snap = statindex.Snapshot(r.indexPaths(managed), nil)
	changes, warnings, err := r.status(ctx)
	if err != nil {
		return err
	}
	var written map[string]string
	if len(changes) > 0 {
		if written, err = r.cm.LastWritten(ctx); err != nil {
			return fmt.Errorf("cannot read what chezmoi last wrote (chezmoi state): %w", err)
		}
	}
	r.changes, r.managed, r.written, r.warnings = changes, managed, written, warnings
	r.cls = chezmoi.Classify(chezmoi.Input{Changes: changes, Managed: managed, Written: written, Lstat: os.Lstat, Hash: hashFile})
	return nil
}

// managedTargets is `chezmoi managed`; like status, without externals
// when they cannot be fetched.
func (r *run) managedTargets(ctx context.Context) (map[string]chezmoi.Managed, error) {
	managed, err := r.cm.Managed(ctx)
	if err == nil || ctx.Err() != nil {
		return managed, err
	}
	without := *r.cm
	without.NoExternals = true
	if m, err2 := without.Managed(ctx); err2 == nil {
		r.cm.NoExternals = true
		r.rec.Externals = append(r.rec.Externals, chezmoi.Cause(err))
		return m, nil
	}
	return nil, fmt.Errorf("chezmoi managed: %w", err)
}

// status is `chezmoi status`; when it fails because an external
// (.chezmoiexternal.*) cannot be fetched, it is asked again without
// externals and the run goes on offline-style: edits are still captured
// and committed, the external is named.
func (r *run) status(ctx context.Context) ([]chezmoi.Change, []string, error) {
	changes, warnings, err := r.cm.Status(ctx)
	if err == nil || ctx.Err() != nil {
		return changes, warnings, err
	}
	without := *r.cm
	without.NoExternals = true
	changes2, warnings2, err2 := without.Status(ctx)
	if err2 != nil {
		return nil, warnings, fmt.Errorf("chezmoi status: %w", err)
	}
	r.cm.NoExternals = true
	r.rec.Externals = uniq(append(r.rec.Externals, chezmoi.Cause(err)))
	return changes2, warnings2, nil
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
