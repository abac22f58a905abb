// Package flake knows what rebuild-smart needs of a NixOS flake: where it is,
// what its flake.lock says (inputs, revisions, ages), which inputs are
// stale, what an update changed (the changelog), and how the installed nix
// spells "update these inputs" (the syntax changed in nix 2.19).
package flake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// ErrNotFlake is wrapped when a directory has no flake.nix.
var ErrNotFlake = errors.New("not a flake")

// Ref is a flake reference split into the local directory and the host
// (the part after '#', if any).
type Ref struct {
	Dir  string
	Host string
}

// ParseRef accepts "DIR", "DIR#HOST", "path:DIR", "git+file://DIR" (query
// strings dropped) and makes DIR absolute relative to cwd.
func ParseRef(s, cwd string) Ref {
	s, host, _ := strings.Cut(s, "#")
	for _, p := range []string{"git+file://", "path:", "git+file:", "file://"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			s = rest
			break
		}
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		s = "."
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(cwd, s)
	}
	return Ref{Dir: filepath.Clean(s), Host: host}
}

// CheckLocal refuses a flake reference that names no local directory
// (github:owner/repo, git+https://..., a registry name with a scheme):
// rebuild-smart commits, pushes and records a repository it works in, so
// the flake must be a clone on this machine. A path that exists is local
// whatever it looks like.
func CheckLocal(s, cwd string) error {
	dir, _, _ := strings.Cut(s, "#")
	for _, p := range []string{"git+file://", "path:", "git+file:", "file://"} {
		if strings.HasPrefix(dir, p) {
			return nil
		}
	}
	scheme, _, ok := strings.Cut(dir, ":")
	if !ok || scheme == "" {
		return nil
	}
	for _, r := range scheme { // github, gitlab, git+https, tarball+https, flake, ...
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
			return nil
		}
	}
	if _, err := os.Lstat(filepath.Join(cwd, dir)); err == nil && !filepath.IsAbs(dir) {
		return nil
	}
	return fmt.Errorf("remote flake references are not supported (%s): clone the repository and pass --flake DIR", s)
}

// Check verifies that dir holds a flake.nix.
func Check(dir string) error {
	st, err := os.Stat(filepath.Join(dir, "flake.nix"))
	if err != nil || st.IsDir() {
		return fmt.Errorf("%s: %w (no flake.nix)", dir, ErrNotFlake)
	}
	return nil
}

// Input is one locked root input of a flake.lock.
type Input struct {
	Name         string    `json:"name"`
	Type         string    `json:"type,omitempty"`
	Rev          string    `json:"rev,omitempty"`
	NarHash      string    `json:"nar_hash,omitempty"`
	LastModified time.Time `json:"last_modified"`
	URL          string    `json:"url,omitempty"`
	Follows      bool      `json:"follows,omitempty"` // the input follows another one; it has no lock of its own
}

// Lock is the parsed flake.lock (root inputs only: those are what
// `--update-input` can name).
type Lock struct {
	Inputs map[string]Input
}

// Names returns the input names in order.
func (l *Lock) Names() []string {
	var out []string
	for n := range l.Inputs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Has reports whether the lock has a root input named name.
func (l *Lock) Has(name string) bool {
	if l == nil {
		return false
	}
	_, ok := l.Inputs[name]
	return ok
}

type rawLock struct {
	Nodes   map[string]rawNode `json:"nodes"`
	Root    string             `json:"root"`
	Version int                `json:"version"`
}

type rawNode struct {
	Inputs map[string]json.RawMessage `json:"inputs"`
	Locked map[string]any             `json:"locked"`
}

// ParseLock parses flake.lock content.
func ParseLock(data []byte) (*Lock, error) {
	var raw rawLock
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("flake.lock: %w", err)
	}
	root, ok := raw.Nodes[raw.Root]
	if !ok {
		return nil, fmt.Errorf("flake.lock: root node %q missing", raw.Root)
	}
	l := &Lock{Inputs: map[string]Input{}}
	for name, ref := range root.Inputs {
		var nodeName string
		if err := json.Unmarshal(ref, &nodeName); err != nil {
			// A list is a "follows" path: the input is locked elsewhere.
			l.Inputs[name] = Input{Name: name, Follows: true}
			continue
		}
		n := raw.Nodes[nodeName]
		in := Input{Name: name}
		if n.Locked != nil {
			in.Type, _ = n.Locked["type"].(string)
			in.Rev, _ = n.Locked["rev"].(string)
			in.NarHash, _ = n.Locked["narHash"].(string)
			// Only times JSON can carry back out (years 0-9999); nix never
			// writes others, and a garbled value must not break --json.
			if f, ok := n.Locked["lastModified"].(float64); ok && f >= minUnix && f <= maxUnix {
				in.LastModified = time.Unix(int64(f), 0).UTC()
			}
			in.URL = describe(n.Locked)
		}
		l.Inputs[name] = in
	}
	return l, nil
}

func describe(locked map[string]any) string {
	for _, k := range []string{"url", "path"} {
		if s, ok := locked[k].(string); ok {
			return s
		}
	}
	owner, _ := locked["owner"].(string)
	repo, _ := locked["repo"].(string)
	if owner != "" {
		return fmt.Sprintf("%s:%s/%s", locked["type"], owner, repo)
	}
	return ""
}

// ReadLock reads dir/flake.lock; a missing lock yields an empty Lock.
func ReadLock(dir string) (*Lock, []byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, "flake.lock"))
	if errors.Is(err, fs.ErrNotExist) {
		return &Lock{Inputs: map[string]Input{}}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	l, err := ParseLock(data)
	return l, data, err
}

// Hash is the sha256 of flake.lock content ("" for none), for the history.
func Hash(data []byte) string {
	if data == nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Bounds of lastModified values kept: 0000-01-01 and 9999-12-31 (UTC).
const (
	minUnix = -62167219200
	maxUnix = 253402300799
)

// Stale returns the inputs whose lastModified is older than olderThan at
// now, sorted. Follows-inputs and inputs without a date are never stale.
func (l *Lock) Stale(now time.Time, olderThan time.Duration) []Input {
	var out []Input
	for _, n := range l.Names() {
		in := l.Inputs[n]
		if in.Follows || in.LastModified.IsZero() {
			continue
		}
		if now.Sub(in.LastModified) > olderThan {
			out = append(out, in)
		}
	}
	return out
}

// Change is one line of the changelog.
type Change struct {
	Input   string    `json:"input"`
	OldRev  string    `json:"old_rev,omitempty"`
	NewRev  string    `json:"new_rev,omitempty"`
	OldDate time.Time `json:"old_date,omitempty"`
	NewDate time.Time `json:"new_date,omitempty"`
	Added   bool      `json:"added,omitempty"`
	Removed bool      `json:"removed,omitempty"`
}

func (c Change) String() string {
	switch {
	case c.Added:
		return fmt.Sprintf("%s: added at %s (%s)", c.Input, short(c.NewRev), day(c.NewDate))
	case c.Removed:
		return fmt.Sprintf("%s: removed (was %s)", c.Input, short(c.OldRev))
	}
	return fmt.Sprintf("%s: %s (%s) → %s (%s)", c.Input, short(c.OldRev), day(c.OldDate), short(c.NewRev), day(c.NewDate))
}

func short(rev string) string {
	if rev == "" {
		return "unversioned"
	}
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func day(t time.Time) string {
	if t.IsZero() {
		return "no date"
	}
	return t.UTC().Format("2006-01-02")
}

// Changelog lists the inputs whose lock changed from old to new.
func Changelog(old, new *Lock) []Change {
	var out []Change
	names := map[string]bool{}
	for n := range old.Inputs {
		names[n] = true
	}
	for n := range new.Inputs {
		names[n] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		o, hadOld := old.Inputs[n]
		w, hasNew := new.Inputs[n]
		switch {
		case !hadOld:
			out = append(out, Change{Input: n, NewRev: w.Rev, NewDate: w.LastModified, Added: true})
		case !hasNew:
			out = append(out, Change{Input: n, OldRev: o.Rev, OldDate: o.LastModified, Removed: true})
		case o.Rev != w.Rev || o.NarHash != w.NarHash:
			out = append(out, Change{Input: n, OldRev: o.Rev, NewRev: w.Rev, OldDate: o.LastModified, NewDate: w.LastModified})
		}
	}
	return out
}

// Version is a nix version.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast compares versions.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// ParseVersion reads `nix --version` output ("nix (Nix) 2.8.0",
// "nix (Nix) 2.24.10", "nix (Lix, like Nix) 2.91.1").
func ParseVersion(out string) (Version, error) {
	fields := strings.Fields(strings.TrimSpace(out))
	if len(fields) == 0 {
		return Version{}, fmt.Errorf("cannot parse nix version from %q", out)
	}
	s := fields[len(fields)-1]
	parts := strings.SplitN(s, ".", 3)
	var nums [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		digits := parts[i]
		if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			digits = digits[:j]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			if i == 0 {
				return Version{}, fmt.Errorf("cannot parse nix version from %q", out)
			}
			break
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// UpdateArgs returns the nix arguments updating inputs (all when empty) in
// the syntax the installed nix understands: `nix flake update A B` since
// 2.19, `nix flake lock --update-input A --update-input B` before (where
// `nix flake update A` is an error).
func UpdateArgs(v Version, inputs []string) []string {
	if len(inputs) == 0 {
		return []string{"flake", "update"}
	}
	if v.AtLeast(2, 19) {
		return append([]string{"flake", "update"}, inputs...)
	}
	args := []string{"flake", "lock"}
	for _, in := range inputs {
		args = append(args, "--update-input", in)
	}
	return args
}

// Nix runs nix subcommands for one flake directory.
type Nix struct {
	Runner runner.Runner
	Dir    string
	Env    []string
}

// Version runs `nix --version`.
func (n *Nix) Version(ctx context.Context) (Version, error) {
	res, err := n.Runner.Run(ctx, runner.Cmd{Name: "nix", Args: []string{"--version"}, Env: n.Env, Timeout: 30 * time.Second})
	if err != nil {
		return Version{}, err
	}
	return ParseVersion(res.Out())
}

// Hosts lists nixosConfigurations' attribute names. Evaluation never
// writes flake.lock (a query must not change the repository).
func (n *Nix) Hosts(ctx context.Context) ([]string, error) {
	return n.hosts(ctx, nil, 0)
}

// HostsWithoutBuilding is Hosts for a shell completion, which runs on a
// TAB in whatever directory the shell is in: import-from-derivation is
// off (an evaluation that needs a build fails instead of building),
// flake.lock is never written, and it gives up after timeout.
func (n *Nix) HostsWithoutBuilding(ctx context.Context, timeout time.Duration) ([]string, error) {
	return n.hosts(ctx, []string{"--option", "allow-import-from-derivation", "false"}, timeout)
}

func (n *Nix) hosts(ctx context.Context, opts []string, timeout time.Duration) ([]string, error) {
	args := append([]string{"eval", "--no-write-lock-file"}, opts...)
	res, err := n.Runner.Run(ctx, runner.Cmd{Name: "nix", Dir: n.Dir, Env: n.Env, Timeout: timeout,
		Args: append(args, "--json", n.Dir+"#nixosConfigurations", "--apply", "builtins.attrNames")})
	if err != nil {
		return nil, EvalError(res, err)
	}
	var hosts []string
	if err := json.Unmarshal(res.Stdout, &hosts); err != nil {
		return nil, fmt.Errorf("nix eval nixosConfigurations: %w", err)
	}
	return hosts, nil
}

// Toplevel evaluates (does not build) host's system toplevel store path.
func (n *Nix) Toplevel(ctx context.Context, host string) (string, error) {
	res, err := n.Runner.Run(ctx, runner.Cmd{Name: "nix", Dir: n.Dir, Env: n.Env,
		Args: []string{"eval", "--no-write-lock-file", "--raw", n.Dir + "#nixosConfigurations." + host + ".config.system.build.toplevel.outPath"}})
	if err != nil {
		return "", EvalError(res, err)
	}
	return res.Out(), nil
}

// EvalError turns a failed nix command into an error that leads with nix's
// own "error: ..." line and the source position ("at FILE:LINE:COL"),
// which the last lines of stderr (what runner keeps) often lack. It wraps
// err, so exit codes and cancellation still show through.
func EvalError(res runner.Result, err error) error {
	var msg, at string
	for _, l := range strings.Split(string(res.Stderr), "\n") {
		l = strings.TrimSpace(l)
		if msg == "" && strings.HasPrefix(l, "error:") {
			msg = l
		}
		if at == "" && strings.HasPrefix(l, "at /") {
			at = strings.TrimSuffix(l, ":")
		}
	}
	if msg == "" {
		return err
	}
	if at != "" {
		msg += " (" + at + ")"
	}
	return &evalError{msg: msg, err: err}
}

type evalError struct {
	msg string
	err error
}

func (e *evalError) Error() string { return e.msg }
func (e *evalError) Unwrap() error { return e.err }

// UpdateCmd is the command updating inputs (all when empty).
func (n *Nix) UpdateCmd(v Version, inputs []string, timeout time.Duration) runner.Cmd {
	return runner.Cmd{Name: "nix", Dir: n.Dir, Env: n.Env, Args: UpdateArgs(v, inputs), Mutates: true, Timeout: timeout}
}
