package chezmoisync

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

// What a run does besides a plain sync (docs/chezmoi-sync.md, "Resolving a
// parked conflict" and "Undo"). Each is a program of the same steps
// (program.go); the record's action field names it.
const (
	modeSync     = ""         // a sync (--publish: also publishes a held undo)
	modeResolve  = "resolve"  // --keep-local / --take-remote
	modeContinue = "continue" // --continue
	modeAbort    = "abort"    // --abort
	modeUndo     = "undo"     // --undo [N], --undo-to COMMIT
	modeList     = "undo-list"
	modePublish  = "publish" // --publish alone
)

// PathArgs is a flag followed by any number of paths: --keep-local
// ~/.bashrc ~/.gitconfig. Given without a path it means every conflicted
// path (or, next to the other flag with paths, every other one).
type PathArgs struct {
	Given bool
	Paths []string
}

// Decode implements kong.MapperValue: it takes the values after the flag
// (chezmoi-sync has no positional arguments) and --flag=PATH.
func (p *PathArgs) Decode(ctx *kong.DecodeContext) error {
	p.Given = true
	if ctx.Scan.Peek().Type == kong.FlagValueToken {
		p.Paths = append(p.Paths, fmt.Sprint(ctx.Scan.Pop().Value))
	}
	for _, t := range ctx.Scan.PopWhile(func(t kong.Token) bool { return t.IsValue() }) {
		p.Paths = append(p.Paths, fmt.Sprint(t.Value))
	}
	return nil
}

// IsBool implements kong.BoolMapperValue: the paths are optional.
func (p *PathArgs) IsBool() bool { return true }

// CommitArg is --undo-to's commit. An empty value is bad input, never
// "no flag": a script's empty variable (--undo-to "$COMMIT") would
// otherwise run a plain sync, capturing and publishing home edits.
type CommitArg string

// Decode implements kong.MapperValue.
func (c *CommitArg) Decode(ctx *kong.DecodeContext) error {
	var s string
	if err := ctx.Scan.PopValueInto("commit", &s); err != nil {
		return err
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("an empty value names no commit (give a commit id, a change id or a bookmark name)")
	}
	*c = CommitArg(s)
	return nil
}

// UndoArg is --undo with an optional count: --undo, --undo 3.
type UndoArg struct {
	Given bool
	N     int
}

// Decode implements kong.MapperValue.
func (u *UndoArg) Decode(ctx *kong.DecodeContext) error {
	u.Given, u.N = true, 1
	t := ctx.Scan.Peek()
	if !t.IsValue() {
		return nil
	}
	n, err := strconv.Atoi(fmt.Sprint(t.Value))
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s: more syncs to undo than there can be", fmt.Sprint(t.Value))
		}
		if t.Type == kong.FlagValueToken {
			return fmt.Errorf("%q is not a number of syncs", fmt.Sprint(t.Value))
		}
		return nil // not ours: kong reports it as an unexpected argument
	}
	ctx.Scan.Pop()
	if n < 1 {
		return fmt.Errorf("%d: the number of syncs to undo starts at 1", n)
	}
	u.N = n
	return nil
}

// IsBool implements kong.BoolMapperValue: the count is optional.
func (u *UndoArg) IsBool() bool { return true }

// mode is what this run does, from the flags (checked by validateMode).
func (c *Command) mode() string {
	switch {
	case c.KeepLocal.Given || c.TakeRemote.Given:
		return modeResolve
	case c.Continue:
		return modeContinue
	case c.Abort:
		return modeAbort
	case c.Undo.Given && c.List:
		return modeList
	case c.Undo.Given || c.UndoTo != "":
		return modeUndo
	case c.Publish:
		return modePublish
	}
	return modeSync
}

// validateMode refuses flags that do not go together (exit 2).
func (c *Command) validateMode() error {
	set := func(name string, on bool) string {
		if on {
			return name
		}
		return ""
	}
	var given []string
	for _, n := range []string{
		set("--keep-local/--take-remote", c.KeepLocal.Given || c.TakeRemote.Given),
		set("--continue", c.Continue), set("--abort", c.Abort), set("--undo", c.Undo.Given), set("--undo-to", c.UndoTo != ""),
	} {
		if n != "" {
			given = append(given, n)
		}
	}
	switch {
	case len(given) > 1:
		return usage("%s and %s cannot be combined", given[0], given[1])
	case c.List && !c.Undo.Given:
		return usage("--list goes with --undo: chezmoi-sync --undo --list")
	case c.List && (c.Undo.N != 1 || c.Publish):
		return usage("--undo --list lists the syncs that can be undone: it takes no count and no --publish")
	case c.Publish && len(given) > 0 && !c.Undo.Given && c.UndoTo == "":
		return usage("--publish publishes a held undo: use it alone or with --undo/--undo-to")
	case c.KeepLocal.Given && c.TakeRemote.Given && len(c.KeepLocal.Paths) == 0 && len(c.TakeRemote.Paths) == 0:
		return usage("--keep-local and --take-remote cannot both mean every conflicted file: name the files for one of them")
	}
	return nil
}

func usage(format string, a ...any) error {
	return exitcode.UsageError(fmt.Errorf(format, a...))
}

// errNothing is the usage error of a conflict command with no conflict.
var errNothing = errors.New("no parked or half-resolved conflict")
