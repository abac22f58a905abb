package corpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// liblaf/dotfiles keeps its source state under home/ (.chezmoiroot), the
// layout of chezmoi's author's own dotfiles; exact_ directories, modify_,
// symlink_, remove_ entries, .chezmoidata, .chezmoitemplates, externals and
// scripts that install packages on every apply.
func TestLiblaf(t *testing.T) {
	t.Run("PlainEditsArrive", func(t *testing.T) { plainEdits(t, Liblaf, ".config/bat/config", ".config/fish/config.fish") })
	t.Run("DataChangeRerenders", liblafDataChange)
	t.Run("ExactDirNewFileKept", liblafExactNewFile)
	t.Run("ModifyTargetEditNotReverted", liblafModifyTarget)
	t.Run("SymlinkRepointedPublished", liblafSymlink)
	t.Run("ExecutableBitCaptured", liblafExecutable)
	t.Run("PrivateLoosenedWarns", func(t *testing.T) {
		f, _, _ := privateLoosened(t, Liblaf, ".gnupg/gpg.conf", "private_dot_gnupg/gpg.conf")
		f.Check()
	})
	// Template targets, one calling a password manager (rbw), while the
	// template changes upstream.
	t.Run("TemplateEditsNeverOverwritten", func(t *testing.T) {
		templateEditKept(t, Liblaf, "home/dot_config/exact_git/config.tmpl", ".config/git/config", ".ssh/config")
	})
	// A package puts back a file a remove_ entry removes.
	t.Run("RemoveTargetReappears", func(t *testing.T) {
		removalNamed(t, Liblaf, ".config/autostart/org.flameshot.Flameshot.desktop", "[Desktop Entry]\nName=Flameshot\n", ".config/helix/config.toml")
	})
	t.Run("RunOnchangeChangedRunsOnEveryHost", liblafRunOnchange)
	t.Run("FailingRunScriptFailsTheRun", func(t *testing.T) { liblafFailingScript(t, false) })
	t.Run("FailingRunScriptWithSkippedFile", func(t *testing.T) { liblafFailingScript(t, true) })
	t.Run("ExternalsAndRemoteOffline", func(t *testing.T) { liblafExternalsOffline(t, true) })
	t.Run("ExternalsOfflineRemoteUp", func(t *testing.T) { liblafExternalsOffline(t, false) })
	t.Run("ConfigTemplateChangeSurfaced", func(t *testing.T) {
		configTemplateSurfaced(t, Liblaf, "home/.chezmoi.toml.tmpl", Appending("\n[data.corpus]\nmarker = \"TOKEN\""))
	})
	t.Run("ConcurrentEditsParked", liblafConcurrent)
}

// A change to .chezmoidata made in the source directory is published and
// re-renders the templates using it on both hosts.
func liblafDataChange(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	e := a.EditSource("home/.chezmoidata/mirrors.toml", "pypi mirror changed", func(old, tok string) string {
		return strings.Replace(old, `pypi = "https://mirror.example/pypi/web"`, `pypi = "https://`+tok+`.example/pypi/web"`, 1)
	})
	syncAll(t, a, b)
	assert.True(t, e.In(f.Remote, "main"), "the data change is on main")
	for _, h := range []*Host{a, b} {
		assert.Contains(t, h.ReadHome(".config/pip/pip.conf"), "corpus-edit-alpha-1", "[%s] pip.conf re-rendered from the new data", h.Name)
	}
	f.Check()
}

// A file a program adds to an exact_ directory is captured, or kept and
// reported; the apply that brings the other host's edit never deletes it.
func liblafExactNewFile(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	e := a.NewFile(".config/environment.d/corpus.conf", "#", "environment file added to exact_environment.d")
	b.AppendLine(".config/helix/config.toml", "#", "helix option")
	syncAll(t, b, a)
	assert.True(t, e.Kept(), "the new file in the exact_ directory is still in alpha's HOME")
	syncAll(t, b)
	f.Check()
}

// An edit to the target of a modify_ script is never reverted silently by
// the apply that brings the other host's edit.
func liblafModifyTarget(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	require.Contains(t, a.ReadHome(".config/environment.d/pot.conf"), "WEBKIT_DISABLE_DMABUF_RENDERER=1", "modify_pot.conf ran")
	e := a.AppendLine(".config/environment.d/pot.conf", "#", "pot.conf (modify_ target) edited")
	b.AppendLine(".config/helix/config.toml", "#", "helix option")
	syncAll(t, b, a)
	assert.True(t, e.Kept() || e.In(f.Remote, "main"), "alpha's edit of the modify_ target was reverted")
	f.Check()
}

// A re-pointed symlink_ target is captured and published, and arrives.
func liblafSymlink(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	e := a.Repoint(".config/autostart/pot.desktop", "/usr/share/applications", "autostart link re-pointed")
	r := a.Sync()
	assert.True(t, e.In(f.Remote, "main"), "the re-pointed link is published (symlink_pot.desktop on main)\n%s", r)
	b.Sync()
	got, _ := os.Readlink(filepath.Join(b.Home, ".config/autostart/pot.desktop"))
	want, _ := os.Readlink(filepath.Join(a.Home, ".config/autostart/pot.desktop"))
	assert.Equal(t, want, got, "beta's link follows")
	f.Check()
}

// chmod +x is captured: executable_ on main, one source entry (chezmoi
// still reads the source state on the other host), the mode arrives.
func liblafExecutable(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	x := a.Chmod(".config/fish/functions/gr.fish", 0o755, "dot_config/fish/functions/executable_gr.fish", "fish function made executable")
	r := a.Sync()
	assert.True(t, x.In(f.Remote, "main"), "the executable bit is captured\n%s", r)
	b.Sync()
	assertChezmoiWorks(t, b)
	assertMode(t, b, ".config/fish/functions/gr.fish", 0o755)
	f.Check()
}

// A run_onchange_ script changed on one host runs there and on the other; a
// change to a .chezmoitemplates file a script includes reruns that script.
func liblafRunOnchange(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	composeUps := func(h *Host) int { return strings.Count(h.StubCalls(), "docker compose up") }
	before := map[string]int{"alpha": composeUps(a), "beta": composeUps(b)}
	a.EditSource("home/.chezmoiscripts/after/50-regular/run_onchange_after_fonts.sh", "fonts script changed",
		Appending("fc-cache --really-force TOKEN"))
	a.EditSource("home/.chezmoitemplates/service.sh", "service template changed", Appending("# TOKEN"))
	syncAll(t, a, b)
	for _, h := range []*Host{a, b} {
		assert.Contains(t, h.StubCalls(), "fc-cache --really-force corpus-edit-alpha-1", "[%s] the changed run_onchange_ script ran", h.Name)
		assert.Greater(t, composeUps(h), before[h.Name], "[%s] the script including the changed .chezmoitemplates file ran again", h.Name)
	}
	f.Check()
}

const sudoNoTTY = "sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper"

// A run_ script that fails (sudo cannot ask for a password) fails the run
// with exit 1 naming the script and its error line, also when a file was
// skipped; the rest of what came in is applied.
func liblafFailingScript(t *testing.T, skipped bool) {
	f, a, b := pair(t, Liblaf)
	// run_after_reload.sh runs `sudo systemctl daemon-reload` on every
	// apply; unattended, sudo has no terminal to ask for the password.
	b.FailStub("sudo", sudoNoTTY)
	e := a.AppendLine(".config/bat/config", "#", "bat option")
	if skipped {
		b.AppendLine(".config/git/config", "#", "git config (template) edited")
	}
	syncAll(t, a)
	r := b.Sync()
	assert.Equal(t, 1, r.Code, "a failing run_ script fails the run\n%s", r)
	assert.Contains(t, r.Output, "reload.sh", "the failing script is named")
	assert.Contains(t, r.Output, sudoNoTTY, "the script's own error line is shown")
	assert.NotEqual(t, "success", r.Status())
	arrived(t, b, e)
	f.Check()
}

// Externals cannot be downloaded (their cache was wiped, the network is
// down): the home edit is still committed, the external is named, and the
// run degrades like an offline run; once back online everything is published.
func liblafExternalsOffline(t *testing.T, remoteDown bool) {
	f, a, _ := pair(t, Liblaf)
	must(t, os.RemoveAll(filepath.Join(a.Home, ".cache", "chezmoi"))) // e.g. ~/.cache on tmpfs
	e := a.AppendLine(".config/bat/config", "#", "bat option made while offline")
	f.ExternalsOffline(true)
	restore := func() {}
	if remoteDown {
		restore = f.RemoteOffline()
	}
	r := a.Sync()
	assert.Equal(t, 0, r.Code, "an offline run exits 0 without --exit-code\n%s", r)
	assert.True(t, e.In(a.Tree(), "HEAD") || e.In(f.Remote, "main"), "the home edit is committed although externals are unreachable\n%s", r)
	assertNamesExternal(t, f, r)
	if remoteDown {
		assert.Equal(t, "fetch-failed", r.Status(), "like any offline run")
	}
	restore()
	f.ExternalsOffline(false)
	r = a.Sync()
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.True(t, e.In(f.Remote, "main"), "published once online")
	f.Check()
}

// Both hosts append to the same file: the second parks its commit on
// sync/<host>; nothing is lost and no markers reach a HOME.
func liblafConcurrent(t *testing.T) {
	f, a, b := pair(t, Liblaf)
	a.AppendLine(".config/bat/config", "#", "bat option from alpha")
	e := b.AppendLine(".config/bat/config", "#", "bat option from beta")
	syncAll(t, a)
	r := b.Sync()
	assert.Equal(t, 5, r.Code, "the conflict is parked\n%s", r)
	assert.True(t, e.In(f.Remote, "sync/beta"), "beta's edit is parked on sync/beta")
	assert.True(t, e.Kept(), "beta keeps its version in HOME")
	f.Check()
}
