package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// The fleet's dotfiles. Each kind of edit only ever adds a token line, so
// "no edit lost" is checkable: every token made must be found again.
//   - Own: host-<name>.conf, edited by its host only (per-host dotfiles).
//   - Shared: shared.conf, one section per host, each host appends inside
//     its own section; concurrent edits merge without conflict.
//   - Hot: hot.conf, every host appends at its end; concurrent appends
//     conflict and get parked on sync/<host>.
const (
	FleetDir   = ".config/fleet"
	SharedFile = FleetDir + "/shared.conf"
	HotFile    = FleetDir + "/hot.conf"
)

// OwnFile is the per-host dotfile of host.
func OwnFile(host string) string { return FleetDir + "/host-" + host + ".conf" }

// SourcePath is the chezmoi source path of a home-relative dotfile.
func SourcePath(rel string) string {
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ".") {
			parts[i] = "dot_" + p[1:]
		}
	}
	return strings.Join(parts, "/")
}

// TokenRe matches the token of one edit.
var TokenRe = regexp.MustCompile(`tok-r\d+-[A-Za-z0-9]+-\d+`)

// Fleet is N simulated hosts sharing one bare remote.
type Fleet struct {
	t      testing.TB
	Remote string
	Hosts  []*testharness.Host
	Names  []string
}

// NewFleet creates the remote with the fleet's dotfiles and n hosts that
// cloned it the way `chezmoi init --apply` does.
func NewFleet(t testing.TB, n int) *Fleet {
	t.Helper()
	f := &Fleet{t: t}
	for i := 0; i < n; i++ {
		f.Names = append(f.Names, fmt.Sprintf("host%d", i))
	}
	files := testharness.DefaultDotfiles()
	files[SourcePath(SharedFile)] = RenderShared(f.Names, nil)
	files[SourcePath(HotFile)] = RenderHot(nil)
	for _, name := range f.Names {
		files[SourcePath(OwnFile(name))] = RenderOwn(name, nil)
	}
	f.Remote = testharness.NewRemote(t, files)
	for _, name := range f.Names {
		h := testharness.NewHost(t, name).WithBinaries()
		h.CloneDotfiles(f.Remote)
		f.Hosts = append(f.Hosts, h)
	}
	return f
}

// RenderShared writes shared.conf from the tokens of each host's section.
func RenderShared(names []string, tokens map[string][]string) string {
	var b strings.Builder
	b.WriteString("# shared by every host; each appends inside its own section\n")
	for _, n := range names {
		fmt.Fprintf(&b, "[section %s]\n", n)
		for _, tok := range tokens[n] {
			b.WriteString(tok + "\n")
		}
		fmt.Fprintf(&b, "[end %s]\n\n", n)
	}
	return b.String()
}

// RenderHot writes hot.conf.
func RenderHot(tokens []string) string {
	return "# every host appends here: concurrent edits conflict\n" + strings.Join(append(tokens, ""), "\n")
}

// RenderOwn writes host-<name>.conf.
func RenderOwn(name string, tokens []string) string {
	return "# edited by " + name + " only\n" + strings.Join(append(tokens, ""), "\n")
}

// Tokens lists the distinct tokens in text, in order of appearance.
func Tokens(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, tok := range TokenRe.FindAllString(text, -1) {
		if !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
		}
	}
	return out
}

// HostOf is the host that made a token.
func HostOf(tok string) string { return strings.Split(tok, "-")[2] }

// Resolve rewrites a conflicted fleet file the way a person who wants to
// keep every side would: all tokens of every side, markers gone. It knows
// the three file kinds; anything else it refuses.
func Resolve(rel string, names []string, conflicted string) (string, error) {
	toks := Tokens(conflicted)
	switch {
	case rel == SharedFile:
		byHost := map[string][]string{}
		for _, tok := range toks {
			byHost[HostOf(tok)] = append(byHost[HostOf(tok)], tok)
		}
		return RenderShared(names, byHost), nil
	case rel == HotFile:
		return RenderHot(toks), nil
	case strings.HasPrefix(rel, FleetDir+"/host-"):
		name := strings.TrimSuffix(strings.TrimPrefix(rel, FleetDir+"/host-"), ".conf")
		return RenderOwn(name, toks), nil
	}
	return "", fmt.Errorf("no resolution rule for %s", rel)
}

// SyncResult is one chezmoi-sync run of a host.
type SyncResult struct {
	Host     string
	Code     int
	Output   string
	Record   *syncstate.Record // nil when unreadable
	Duration time.Duration
}

// Sync runs chezmoi-sync on h (safe to call from several goroutines for
// different hosts).
func Sync(ctx context.Context, h *testharness.Host, args ...string) SyncResult {
	cmd := h.Command(ctx, "", "chezmoi-sync", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	res := SyncResult{Host: h.Name, Output: out.String(), Duration: time.Since(t0)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		res.Code = -1
		res.Output += "\n" + err.Error()
	}
	if rec, err := syncstate.Load(h.StateDir()); err == nil {
		res.Record = rec
	}
	return res
}

// RemoteTree reads the fleet files (and the default dotfiles) of a ref of
// the remote: home-relative path -> content.
func (f *Fleet) RemoteTree(ref string) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	for _, rel := range f.Files() {
		out[rel] = testharness.RemoteFile(f.t, f.Remote, ref, SourcePath(rel))
	}
	return out
}

// Files are every home-relative dotfile of the fleet.
func (f *Fleet) Files() []string {
	files := []string{SharedFile, HotFile, ".bashrc", ".gitconfig", ".config/app/config.toml"}
	for _, n := range f.Names {
		files = append(files, OwnFile(n))
	}
	return files
}

// ParkedRefs lists the sync/<host> branches of the remote.
func (f *Fleet) ParkedRefs() []string {
	var out []string
	for _, r := range testharness.RemoteRefs(f.t, f.Remote) {
		if strings.HasPrefix(r, hostkey.ParkPrefix) {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// ResolveParked resolves h's parked conflict the way docs/chezmoi-sync.md
// tells a user to: replay the local commits onto the remote branch (the
// conflict appears), fold them into the working copy, edit the conflicted
// files, and let the next chezmoi-sync publish it. It returns the files it
// resolved.
func (f *Fleet) ResolveParked(h *testharness.Host) ([]string, error) {
	src := h.SourceDir()
	jj := func(args ...string) (string, error) {
		r := h.Exec(src, "jj", args...)
		if r.Code != 0 {
			return "", fmt.Errorf("[%s] jj %s: exit %d\n%s%s", h.Name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout, nil
	}
	if _, err := jj("rebase", "-b", "@", "-d", "main@origin"); err != nil {
		return nil, err
	}
	// Several local commits may each conflict; fold them into the working
	// copy so one edit resolves them all.
	local, err := jj("log", "--no-graph", "-r", "main@origin..@-", "-T", `commit_id ++ "\n"`)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(local) != "" {
		if _, err := jj("squash", "--from", "main@origin..@-", "--into", "@", "-m", "chore("+h.Name+"): resolve parked sync conflict"); err != nil {
			return nil, err
		}
	}
	resolved, err := f.editConflicts(h)
	if err != nil {
		return nil, err
	}
	if r := h.Exec(src, "jj", "resolve", "--list"); r.Code == 0 {
		return nil, fmt.Errorf("[%s] conflicts left after resolving: %s", h.Name, r.Stdout)
	}
	return resolved, nil
}

// How a simulated user finishes a parked conflict (docs/chezmoi-sync.md,
// "Resolving a parked conflict"): the hand recipe (ResolveParked, then a
// plain sync), chezmoi-sync --continue around an edit of the files, or one
// command that takes a side (--keep-local, --take-remote).
const (
	ByHand     = "hand"
	ByContinue = "continue"
	KeepLocal  = "keep-local"
	TakeRemote = "take-remote"
)

// ResolveMethods are the ways, for a random pick.
var ResolveMethods = []string{ByHand, ByContinue, KeepLocal, TakeRemote}

// ResolveWith finishes h's parked conflict the given way and returns the
// last chezmoi-sync run and the tokens a side taken gave up: they are not
// lost, the commit the record names holds them (read here, from that
// commit, to prove it).
func (f *Fleet) ResolveWith(ctx context.Context, h *testharness.Host, method string) (SyncResult, []string, error) {
	switch method {
	case ByHand:
		if _, err := f.ResolveParked(h); err != nil {
			return SyncResult{}, nil, err
		}
		return Sync(ctx, h), nil, nil
	case ByContinue:
		r := Sync(ctx, h, "--continue")
		if r.Code != 5 || r.Record == nil || r.Record.Status != syncstate.ConflictsPreserved {
			return r, nil, nil // resolved without asking, or failed: the caller judges
		}
		if _, err := f.editConflicts(h); err != nil {
			return r, nil, err
		}
		return Sync(ctx, h, "--continue"), nil, nil
	}
	r := Sync(ctx, h, "--"+method)
	var kept []string
	if r.Record != nil {
		for _, res := range r.Record.Resolutions {
			if res.DiscardedCommit == "" {
				continue
			}
			side := h.Exec(h.SourceDir(), "jj", "--ignore-working-copy", "file", "show", "-r", res.DiscardedCommit, res.Path)
			if side.Code != 0 {
				return r, nil, fmt.Errorf("[%s] the side not taken of %s is not in %s: %s", h.Name, res.Path, res.DiscardedCommit, side.Stderr)
			}
			kept = append(kept, Tokens(side.Stdout)...)
		}
	}
	return r, kept, nil
}

// editConflicts rewrites every file jj reports conflicted in h's working
// copy, keeping every token of every side (Resolve).
func (f *Fleet) editConflicts(h *testharness.Host) ([]string, error) {
	src := h.SourceDir()
	r := h.Exec(src, "jj", "resolve", "--list")
	if r.Code != 0 {
		if strings.Contains(r.Stderr, "No conflicts found") {
			return nil, nil
		}
		return nil, fmt.Errorf("[%s] jj resolve --list: %s", h.Name, r)
	}
	var resolved []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		path := strings.TrimSpace(strings.SplitN(line, "  ", 2)[0])
		if path == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, path))
		if err != nil {
			return nil, err
		}
		rel := homeRel(path)
		fixed, err := Resolve(rel, f.Names, string(data))
		if err != nil {
			return nil, fmt.Errorf("[%s] %w:\n%s", h.Name, err, data)
		}
		if err := os.WriteFile(filepath.Join(src, path), []byte(fixed), 0o644); err != nil {
			return nil, err
		}
		resolved = append(resolved, rel)
	}
	return resolved, nil
}

// homeRel turns a chezmoi source path back into a home-relative path.
func homeRel(source string) string {
	parts := strings.Split(source, "/")
	for i, p := range parts {
		if rest, ok := strings.CutPrefix(p, "dot_"); ok {
			parts[i] = "." + rest
		}
	}
	return strings.Join(parts, "/")
}

// Verify reports whether h's home directory matches its source state
// (`chezmoi verify`: exit 0 when applying would change nothing).
func Verify(h *testharness.Host) error {
	r := h.Exec("", "chezmoi", "verify")
	if r.Code != 0 {
		st := h.Exec("", "chezmoi", "status")
		return fmt.Errorf("[%s] home differs from the source state:\n%s", h.Name, st.Stdout)
	}
	return nil
}

// JSON is a small helper for printing summaries.
func JSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
