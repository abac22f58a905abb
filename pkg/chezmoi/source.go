package chezmoi

import (
	"path"
	"strings"
)

// Attrs are the source-state attributes chezmoi reads from the name of a
// source file or directory (its last path component), as documented in
// chezmoi's reference ("Source state attributes"): prefixes such as
// private_, exact_, symlink_, run_onchange_ and suffixes such as .tmpl.
type Attrs struct {
	Template   bool // .tmpl: the target is rendered, re-add cannot capture it
	Encrypted  bool // encrypted_: re-add would need the key
	Private    bool // private_: group and world permissions removed
	Readonly   bool // readonly_
	Executable bool // executable_
	Exact      bool // exact_ (directories): files chezmoi does not know are removed
	Empty      bool // empty_: an empty target is kept instead of removed
	Symlink    bool // symlink_: the content is the link's target
	Modify     bool // modify_: a script that rewrites the current target
	Create     bool // create_: written only when the target is missing
	Remove     bool // remove_: the target is removed
	Script     string
	// Script is "" for non-scripts, else "always" (run_), "once"
	// (run_once_) or "onchange" (run_onchange_).
}

// attrPrefixes are the prefixes chezmoi strips from a source name, in any
// order they may appear (chezmoi fixes the order; stripping in a loop also
// reads names written in another order, which chezmoi would not manage).
var attrPrefixes = []string{
	"after_", "before_", "create_", "empty_", "encrypted_", "exact_", "executable_",
	"external_", "modify_", "once_", "onchange_", "private_", "readonly_", "remove_", "run_", "symlink_",
}

// ParseSourceName reads the attributes of a source path (relative or
// absolute; only the last component counts, and a path inside
// .chezmoiscripts/ is a script whatever its prefixes).
func ParseSourceName(p string) Attrs {
	var a Attrs
	name := path.Base(strings.ReplaceAll(p, "\\", "/"))
	if strings.HasSuffix(name, ".literal") {
		name = strings.TrimSuffix(name, ".literal")
	} else if strings.HasSuffix(name, ".tmpl") {
		a.Template = true
		name = strings.TrimSuffix(name, ".tmpl")
	}
	if strings.HasSuffix(name, ".age") || strings.HasSuffix(name, ".asc") {
		a.Encrypted = true
	}
	seen := map[string]bool{}
	for {
		if strings.HasPrefix(name, "literal_") || strings.HasPrefix(name, "dot_") {
			break // what follows is the target name
		}
		hit := ""
		for _, pre := range attrPrefixes {
			if strings.HasPrefix(name, pre) {
				hit = pre
				break
			}
		}
		if hit == "" {
			break
		}
		seen[hit] = true
		name = strings.TrimPrefix(name, hit)
	}
	a.Encrypted = a.Encrypted || seen["encrypted_"]
	a.Private, a.Readonly, a.Executable = seen["private_"], seen["readonly_"], seen["executable_"]
	a.Exact, a.Empty, a.Symlink = seen["exact_"], seen["empty_"], seen["symlink_"]
	a.Modify, a.Create, a.Remove = seen["modify_"], seen["create_"], seen["remove_"]
	switch {
	case seen["run_"] && seen["once_"]:
		a.Script = "once"
	case seen["run_"] && seen["onchange_"]:
		a.Script = "onchange"
	case seen["run_"]:
		a.Script = "always"
	}
	return a
}

// PlainCopy reports whether a source file's content is its target's
// content byte for byte: templates, encrypted files, symlinks, modify and
// run scripts are not (their target content needs `chezmoi cat`); dot_,
// private_, executable_, readonly_, empty_, exact_, create_, literal_ only
// change names and modes.
func PlainCopy(sourceFile string) bool {
	a := ParseSourceName(sourceFile)
	return !a.Template && !a.Encrypted && !a.Symlink && !a.Modify && a.Script == ""
}

// TargetName is the target path (relative to the destination directory,
// slash-separated) of a source path relative to the source root, as
// chezmoi names it: attribute prefixes and the .tmpl, .literal and
// encryption suffixes dropped, dot_ turned into a leading dot. ok is
// false for source files that have no target of their own: chezmoi's
// special files (.chezmoi*), scripts, and ignored dot-files.
func TargetName(sourceRel string) (string, bool) {
	parts := strings.Split(strings.ReplaceAll(sourceRel, "\\", "/"), "/")
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		if p == "" || strings.HasPrefix(p, ".") {
			return "", false // .chezmoi* files and directories, .git: no target
		}
		a := ParseSourceName(p)
		if a.Script != "" {
			return "", false
		}
		name := p
		if i == len(parts)-1 {
			if n, ok := strings.CutSuffix(name, ".literal"); ok {
				name = n
			} else {
				name = strings.TrimSuffix(name, ".tmpl")
			}
			if a.Encrypted {
				name = strings.TrimSuffix(strings.TrimSuffix(name, ".age"), ".asc")
			}
		}
		out = append(out, targetComponent(name))
	}
	return strings.Join(out, "/"), true
}

// targetComponent strips the attribute prefixes of one name component.
func targetComponent(name string) string {
	for {
		if rest, ok := strings.CutPrefix(name, "literal_"); ok {
			return rest
		}
		if rest, ok := strings.CutPrefix(name, "dot_"); ok {
			return "." + rest
		}
		hit := ""
		for _, pre := range attrPrefixes {
			if strings.HasPrefix(name, pre) {
				hit = pre
				break
			}
		}
		if hit == "" {
			return name
		}
		name = strings.TrimPrefix(name, hit)
	}
}
