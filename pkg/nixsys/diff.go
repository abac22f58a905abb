package nixsys

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// What changes between two systems, read before one is activated: the
// packages added, removed, upgraded and downgraded (from `nix store
// diff-closures`, which every nix has) and the closure sizes (`nix
// path-info -S`).

// Kinds of package change.
const (
	ChangeAdded      = "added"
	ChangeRemoved    = "removed"
	ChangeUpgraded   = "upgraded"
	ChangeDowngraded = "downgraded"
	ChangeChanged    = "changed" // same version, other content or size
)

// PackageChange is one line of the closure diff.
type PackageChange struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Old            []string `json:"old,omitempty"` // versions before ("" for unversioned)
	New            []string `json:"new,omitempty"`
	SizeDeltaBytes int64    `json:"size_delta_bytes"`
}

// DiffCounts is a closure diff in numbers (what the history keeps).
type DiffCounts struct {
	Added             int   `json:"added"`
	Removed           int   `json:"removed"`
	Upgraded          int   `json:"upgraded"`
	Downgraded        int   `json:"downgraded"`
	Changed           int   `json:"changed"`
	ClosureSizeBefore int64 `json:"closure_size_before"`
	ClosureSizeAfter  int64 `json:"closure_size_after"`
}

// ClosureDiff is what changes from one system to another.
type ClosureDiff struct {
	From string `json:"from"`
	To   string `json:"to"`
	DiffCounts
	Changes []PackageChange `json:"changes"`
}

// Summary is the diff in one line, for the prompt, the phase line and
// notifications: "2 added, 1 removed, 3 upgraded, 0 downgraded; closure
// 1.2 GiB -> 1.3 GiB (+81.0 MiB)".
func (d DiffCounts) Summary() string {
	s := fmt.Sprintf("%d added, %d removed, %d upgraded, %d downgraded", d.Added, d.Removed, d.Upgraded, d.Downgraded)
	if d.Changed > 0 {
		s += fmt.Sprintf(", %d changed", d.Changed)
	}
	if d.ClosureSizeBefore > 0 || d.ClosureSizeAfter > 0 {
		delta := d.ClosureSizeAfter - d.ClosureSizeBefore
		sign := "+"
		if delta < 0 {
			sign, delta = "-", -delta
		}
		s += fmt.Sprintf("; closure %s -> %s (%s%s)", HumanBytes(d.ClosureSizeBefore), HumanBytes(d.ClosureSizeAfter), sign, HumanBytes(delta))
	}
	return s
}

// Lines renders the changes one per line ("firefox: 120.0 -> 121.0
// (upgraded, +1.2 MiB)"), at most max lines plus a "... N more" line.
func (d ClosureDiff) Lines(max int) []string {
	var out []string
	for i, c := range d.Changes {
		if i == max {
			out = append(out, fmt.Sprintf("... %d more", len(d.Changes)-max))
			break
		}
		size := ""
		if c.SizeDeltaBytes != 0 {
			sign := "+"
			n := c.SizeDeltaBytes
			if n < 0 {
				sign, n = "-", -n
			}
			size = ", " + sign + HumanBytes(n)
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s (%s%s)", c.Name, versions(c.Old), versions(c.New), c.Kind, size))
	}
	return out
}

func versions(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	for i, s := range v {
		if s == "" {
			v[i] = "unversioned"
		}
	}
	return strings.Join(v, ", ")
}

// HumanBytes renders a size in KiB, MiB or GiB with one decimal.
func HumanBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1024
	}
	return ""
}

// diffLine is "name: old → new, +12.3 KiB" or "name: +12.3 KiB".
var (
	diffLine = regexp.MustCompile(`^(.+?): (.*)$`)
	sizePart = regexp.MustCompile(`^([+-]\d+(?:\.\d+)?) KiB$`)
	ansi     = regexp.MustCompile("\x1b\\[[0-9;]*m")
)

// ParseDiffClosures reads `nix store diff-closures` output. Lines it does
// not understand are skipped: the diff informs, it never decides.
func ParseDiffClosures(out string) []PackageChange {
	var changes []PackageChange
	for _, l := range strings.Split(ansi.ReplaceAllString(out, ""), "\n") {
		m := diffLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		c := PackageChange{Name: m[1]}
		rest := m[2]
		vers, size, _ := strings.Cut(rest, ", +")
		if size != "" {
			size = "+" + size
		} else if v, s, ok := strings.Cut(rest, ", -"); ok {
			vers, size = v, "-"+s
		}
		if sizePart.MatchString(vers) && size == "" {
			vers, size = "", vers
		}
		if sm := sizePart.FindStringSubmatch(size); sm != nil {
			kib, _ := strconv.ParseFloat(sm[1], 64)
			c.SizeDeltaBytes = int64(kib * 1024)
		}
		if old, nw, ok := strings.Cut(vers, " → "); ok {
			c.Old, c.New = splitVersions(old), splitVersions(nw)
		}
		c.Kind = classify(c)
		changes = append(changes, c)
	}
	return changes
}

func splitVersions(s string) []string {
	s = strings.TrimSpace(s)
	if s == "∅" || s == "" {
		return nil
	}
	var out []string
	for _, v := range strings.Split(s, ", ") {
		if v == "ε" {
			v = "" // nix's mark for a path without a version
		}
		out = append(out, v)
	}
	return out
}

func classify(c PackageChange) string {
	switch {
	case len(c.Old) == 0 && len(c.New) > 0:
		return ChangeAdded
	case len(c.New) == 0 && len(c.Old) > 0:
		return ChangeRemoved
	case len(c.Old) == 0 && len(c.New) == 0:
		return ChangeChanged
	}
	switch cmp := CompareVersions(c.Old[len(c.Old)-1], c.New[len(c.New)-1]); {
	case cmp < 0:
		return ChangeUpgraded
	case cmp > 0:
		return ChangeDowngraded
	}
	return ChangeChanged
}

// CompareVersions orders versions the way nix does (builtins.compareVersions):
// components split at "." and "-", numbers numerically, a number above a
// word, "pre" below everything, a missing component below any present one.
func CompareVersions(a, b string) int {
	as, bs := components(a), components(b)
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := compareComponent(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func components(v string) []string {
	var out []string
	cur := ""
	kind := 0 // 1 digits, 2 other
	flush := func() {
		if cur != "" {
			out = append(out, cur)
		}
		cur, kind = "", 0
	}
	for _, r := range v {
		switch {
		case r == '.' || r == '-':
			flush()
		case r >= '0' && r <= '9':
			if kind == 2 {
				flush()
			}
			cur, kind = cur+string(r), 1
		default:
			if kind == 1 {
				flush()
			}
			cur, kind = cur+string(r), 2
		}
	}
	flush()
	return out
}

func compareComponent(x, y string) int {
	xn, xerr := strconv.ParseUint(x, 10, 64)
	yn, yerr := strconv.ParseUint(y, 10, 64)
	switch {
	case x == y:
		return 0
	case xerr == nil && yerr == nil:
		if xn < yn {
			return -1
		}
		return 1
	case x == "" && yerr == nil, x == "pre" && y != "pre":
		return -1
	case y == "" && xerr == nil, y == "pre":
		return 1
	case xerr == nil:
		return 1
	case yerr == nil:
		return -1
	case x < y:
		return -1
	}
	return 1
}

// Diff computes the closure diff from one system to another with nix.
// nixEnv is extra environment for nix (NIX_CONFIG in tests).
func Diff(ctx context.Context, r runner.Runner, from, to string, nixEnv []string) (*ClosureDiff, error) {
	// Closure sizes in parallel with the diff: two processes, one wait.
	var info runner.Result
	var infoErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		info, infoErr = r.Run(ctx, runner.Cmd{Name: "nix", Args: []string{"path-info", "--json", "-S", from, to}, Env: nixEnv, Timeout: time.Minute})
	}()
	res, err := r.Run(ctx, runner.Cmd{Name: "nix", Args: []string{"store", "diff-closures", from, to}, Env: nixEnv, Timeout: 2 * time.Minute})
	<-done
	if err != nil {
		return nil, err
	}
	d := &ClosureDiff{From: from, To: to, Changes: ParseDiffClosures(string(res.Stdout))}
	if d.Changes == nil {
		d.Changes = []PackageChange{}
	}
	for _, c := range d.Changes {
		switch c.Kind {
		case ChangeAdded:
			d.Added++
		case ChangeRemoved:
			d.Removed++
		case ChangeUpgraded:
			d.Upgraded++
		case ChangeDowngraded:
			d.Downgraded++
		default:
			d.Changed++
		}
	}
	if infoErr == nil {
		var paths []struct {
			Path        string `json:"path"`
			ClosureSize int64  `json:"closureSize"`
		}
		if json.Unmarshal(info.Stdout, &paths) == nil {
			for _, p := range paths {
				switch p.Path {
				case from:
					d.ClosureSizeBefore = p.ClosureSize
				case to:
					d.ClosureSizeAfter = p.ClosureSize
				}
			}
		}
	}
	return d, nil
}
