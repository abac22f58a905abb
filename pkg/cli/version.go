package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version is set at link time by packagers
// (-ldflags "-X github.com/nixdots/nixdots/pkg/cli.Version=..."; the Nix
// package passes the flake's revision). Empty, or the placeholder "dev",
// means: ask the build information Go stamped into the binary.
var Version = ""

// VersionString is what --version prints after the program's name: the
// linked version, else the module version Go recorded (a tag, or a
// pseudo-version carrying the commit), else the VCS revision, else
// "(devel)" with the reason.
func VersionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return versionOf(Version, info)
}

// versionOf is VersionString on explicit inputs, for table tests.
func versionOf(linked string, info *debug.BuildInfo) string {
	if linked != "" && linked != "dev" {
		return linked
	}
	if info == nil {
		return "(devel, no build information)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return "(devel, built without version control information)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	var extra []string
	if t := settings["vcs.time"]; t != "" {
		extra = append(extra, t)
	}
	if settings["vcs.modified"] == "true" {
		extra = append(extra, "modified")
	}
	out := "(devel) " + settings["vcs"] + " " + rev
	if len(extra) > 0 {
		out += fmt.Sprintf(" (%s)", strings.Join(extra, ", "))
	}
	return strings.Join(strings.Fields(out), " ")
}
