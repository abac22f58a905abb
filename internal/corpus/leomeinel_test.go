package corpus

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// leomeinel/dot-files: .chezmoiroot "./home" with package lists outside the
// root, a config template holding the data every template reads (and
// chezmoi's own git.autoCommit on), run_ and run_onchange_ scripts that
// source ~/.bash_profile.
func TestLeomeinel(t *testing.T) {
	t.Run("PlainEditsArrive", func(t *testing.T) { plainEdits(t, Leomeinel, ".config/alacritty/alacritty.toml", ".bash_aliases") })
	t.Run("RunOnchangeAndFilesOutsideRoot", leomeinelRunOnchange)
	// The config template holds the data of every template.
	t.Run("ConfigTemplateChangeSurfaced", func(t *testing.T) {
		configTemplateSurfaced(t, Leomeinel, "home/.chezmoi.toml.tmpl", func(old, tok string) string {
			return replaceOnce(t, old, `keylayout = "de"`, `keylayout = "us" # `+tok)
		})
	})
	t.Run("TemplateEditKept", func(t *testing.T) { templateEditKept(t, Leomeinel, "", ".config/git/config") })
}

// A package added to pkgs-go.txt (outside the chezmoi root) and a changed
// run_onchange_ script are published; the script runs on both hosts and
// installs the new package.
func leomeinelRunOnchange(t *testing.T) {
	f, a, b := pair(t, Leomeinel)
	pkgs := a.EditSource("pkgs-go.txt", "go package added (outside the root)", Appending("example.com/TOKEN@latest"))
	a.EditSource("home/run_onchange_after_packages.sh", "packages script changed", Appending("# TOKEN"))
	syncAll(t, a, b)
	assert.True(t, pkgs.In(f.Remote, "main"), "the file outside the chezmoi root is published")
	for _, h := range []*Host{a, b} {
		assert.Contains(t, h.StubCalls(), "go install example.com/"+pkgs.Token+"@latest", "[%s] the changed run_onchange_ script ran with the new list", h.Name)
	}
	f.Check()
}
