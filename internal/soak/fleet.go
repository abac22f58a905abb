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
	"slices"
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

// Resolve rewrites a conflicted fleet file the way docs/chezmoi-sync.md
// ("Reading jj's conflict markers") tells a person who wants both hosts'
// edits to: in each conflict, the lines either side added stay, a line a
// side removed stays removed, the markers go (KeepBothSides); then the
// file is written in its usual layout. It knows the three file kinds;
// anything else it refuses.
func Resolve(rel string, names []string, conflicted string) (string, error) {
	merged, err := KeepBothSides(conflicted)
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	toks := Tokens(merged)
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

// KeepBothSides resolves every conflict in text written with jj's markers
// (jj 0.46's default "diff" style, and the "snapshot" and git styles): a
// "%%%%%%%" section is a diff from a base to one side (" " both, "-" the
// base only, "+" the side only), a "+++++++" section one side as it is, a
// "-------" or "|||||||" section a base, "=======" starts the second side
// of a git-style conflict. The result holds, in order, every line of a
// side except the base lines some side removed; lines outside conflicts
// stay. A token a side removed is not brought back: a revert inside a
// conflict stays visible as a loss.
func KeepBothSides(text string) (string, error) {
	var out []string
	var sides, bases [][]string
	cur := -1       // index into sides or bases
	inBase := false // cur indexes bases
	diff := false   // in a %%%%%%% section: cur is the side, the base is bases[len-1]
	inConflict := false
	for _, l := range strings.SplitAfter(text, "\n") {
		line := strings.TrimSuffix(l, "\n")
		switch m := markerOf(line); {
		case !inConflict && m == '<':
			inConflict, sides, bases, cur, diff = true, nil, nil, -1, false
		case !inConflict:
			if l != "" {
				out = append(out, line)
			}
		case m == '%':
			sides, bases = append(sides, nil), append(bases, nil)
			cur, inBase, diff = len(sides)-1, false, true
		case m == '\\':
			// the "to:" label of a %%%%%%% section
		case m == '+' || m == '=':
			sides = append(sides, nil)
			cur, inBase, diff = len(sides)-1, false, false
		case m == '-' || m == '|':
			bases = append(bases, nil)
			cur, inBase, diff = len(bases)-1, true, false
		case m == '>':
			out = append(out, mergeSides(sides, bases)...)
			inConflict = false
		case cur < 0 && !diff:
			// git style: the first side starts right after <<<<<<<
			sides = append(sides, []string{line})
			cur = 0
		case diff:
			switch {
			case strings.HasPrefix(line, "+"):
				sides[cur] = append(sides[cur], line[1:])
			case strings.HasPrefix(line, "-"):
				bases[len(bases)-1] = append(bases[len(bases)-1], line[1:])
			default:
				ctx := strings.TrimPrefix(line, " ")
				sides[cur] = append(sides[cur], ctx)
				bases[len(bases)-1] = append(bases[len(bases)-1], ctx)
			}
		case inBase:
			bases[cur] = append(bases[cur], line)
		default:
			sides[cur] = append(sides[cur], line)
		}
	}
	if inConflict {
		return "", errors.New("a conflict without its end marker")
	}
	return strings.Join(append(out, ""), "\n"), nil
}

// markerOf returns the character of a conflict marker line (seven or more
// of it, then a space or the end), or 0.
func markerOf(line string) byte {
	if len(line) < 7 || !strings.ContainsRune("<>%+-|=\\", rune(line[0])) {
		return 0
	}
	n := 0
	for n < len(line) && line[n] == line[0] {
		n++
	}
	if n < 7 || (n < len(line) && line[n] != ' ') {
		return 0
	}
	return line[0]
}

// mergeSides keeps every line of every side, once, except a base line
// that some side no longer has (that side removed it).
func mergeSides(sides, bases [][]string) []string {
	removed := map[string]bool{}
	for _, b := range bases {
		for _, l := range b {
			for _, s := range sides {
				if !slices.Contains(s, l) {
					removed[l] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range sides {
		for _, l := range s {
			if !removed[l] && !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
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

// HandRecipe is the merge by hand chezmoi-sync printed for h's parked
// conflict: the commands after "or by hand:" in the next step of its last
// record (showconflicts.RecipeLine), one per element.
func HandRecipe(h *testharness.Host) ([]string, error) {
	rec, err := syncstate.Load(h.StateDir())
	if err != nil {
		return nil, fmt.Errorf("[%s] no record to read the recipe from: %w", h.Name, err)
	}
	_, hand, ok := strings.Cut(rec.NextStep, "or by hand: ")
	if !ok {
		return nil, fmt.Errorf("[%s] the record's next step holds no hand recipe: %q", h.Name, rec.NextStep)
	}
	return strings.Split(hand, " && "), nil
}

// ResolveParked follows the printed hand recipe (HandRecipe) up to its
// last command: cd into the source directory, run the jj command it names
// (the conflicts appear in the files), and edit the files it names the
// way the docs say (Resolve). It returns the files it resolved and the
// commands left (chezmoi-sync --continue); a command it does not know
// fails the soak: the recipe changed and the simulated user must learn it.
func (f *Fleet) ResolveParked(h *testharness.Host) (resolved, rest []string, err error) {
	steps, err := HandRecipe(h)
	if err != nil {
		return nil, nil, err
	}
	dir := ""
	for i, step := range steps {
		words := strings.Fields(step)
		switch {
		case len(words) == 2 && words[0] == "cd":
			dir = unquote(words[1])
		case len(words) > 1 && words[0] == "jj":
			if r := h.Exec(dir, "jj", words[1:]...); r.Code != 0 {
				return nil, nil, fmt.Errorf("[%s] %s: exit %d\n%s%s", h.Name, step, r.Code, r.Stdout, r.Stderr)
			}
		case len(words) > 1 && words[0] == "${EDITOR:-vi}":
			var files []string
			for _, w := range words[1:] {
				files = append(files, unquote(w))
			}
			done, err := f.editFiles(h, dir, files)
			if err != nil {
				return nil, nil, err
			}
			resolved = append(resolved, done...)
		case strings.HasPrefix(step, "chezmoi-sync"):
			return resolved, steps[i:], nil
		default:
			return nil, nil, fmt.Errorf("[%s] the printed recipe has a step the simulated user does not know: %q", h.Name, step)
		}
	}
	return resolved, nil, nil
}

func unquote(w string) string {
	if len(w) >= 2 && w[0] == '\'' && w[len(w)-1] == '\'' {
		return w[1 : len(w)-1]
	}
	return w
}

// ResolveByRecipe is the whole hand recipe: ResolveParked, then between
// (the user edits something before the next sync, or nothing), then the
// recipe's chezmoi-sync --continue; while that names files still
// conflicted (exit 5: the rebase brought more), the user edits them the
// same way and runs it again, as its output says.
func (f *Fleet) ResolveByRecipe(ctx context.Context, h *testharness.Host, between func()) (SyncResult, error) {
	_, rest, err := f.ResolveParked(h)
	if err != nil {
		return SyncResult{}, err
	}
	if len(rest) != 1 || strings.Fields(rest[0])[0] != "chezmoi-sync" || !slices.Contains(strings.Fields(rest[0]), "--continue") {
		return SyncResult{}, fmt.Errorf("[%s] the printed recipe does not end with chezmoi-sync --continue: %q", h.Name, rest)
	}
	if between != nil {
		between()
	}
	r := Sync(ctx, h, "--continue")
	for try := 0; try < 3 && r.Code == 5 && r.Record != nil && r.Record.Status == syncstate.ConflictsPreserved; try++ {
		if _, err := f.editConflicts(h); err != nil {
			return r, err
		}
		r = Sync(ctx, h, "--continue")
	}
	return r, nil
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
// commit, to prove it). between, when not nil, is the user editing a
// dotfile after resolving by hand and before the next chezmoi-sync.
func (f *Fleet) ResolveWith(ctx context.Context, h *testharness.Host, method string, between func()) (SyncResult, []string, error) {
	switch method {
	case ByHand:
		r, err := f.ResolveByRecipe(ctx, h, between)
		return r, nil, err
	case ByContinue:
		r := Sync(ctx, h, "--continue")
		if r.Code != 5 || r.Record == nil || r.Record.Status != syncstate.ConflictsPreserved {
			return r, nil, nil // resolved without asking, or failed: the caller judges
		}
		if _, err := f.editConflicts(h); err != nil {
			return r, nil, err
		}
		if between != nil {
			between()
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

// editConflicts edits every file jj reports conflicted in h's working
// copy (what chezmoi-sync --continue names when files are still
// conflicted) the way the docs say (Resolve).
func (f *Fleet) editConflicts(h *testharness.Host) ([]string, error) {
	src := h.SourceDir()
	r := h.Exec(src, "jj", "resolve", "--list")
	if r.Code != 0 {
		if strings.Contains(r.Stderr, "No conflicts found") {
			return nil, nil
		}
		return nil, fmt.Errorf("[%s] jj resolve --list: %s", h.Name, r)
	}
	var paths []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if path := strings.TrimSpace(strings.SplitN(line, "  ", 2)[0]); path != "" {
			paths = append(paths, path)
		}
	}
	return f.editFiles(h, src, paths)
}

// editFiles is the user in an editor on files (relative to dir): each
// one holding conflict markers is resolved (Resolve), one without any
// (the replay merged it) is left as it is.
func (f *Fleet) editFiles(h *testharness.Host, dir string, files []string) ([]string, error) {
	var resolved []string
	for _, path := range files {
		data, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			return nil, err
		}
		if !strings.Contains(string(data), "<<<<<<<") {
			continue
		}
		rel := homeRel(path)
		fixed, err := Resolve(rel, f.Names, string(data))
		if err != nil {
			return nil, fmt.Errorf("[%s] %w:\n%s", h.Name, err, data)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(fixed), 0o644); err != nil {
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
