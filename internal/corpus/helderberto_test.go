package corpus

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// helderberto/dotfiles: a flat source directory cloned to ~/.dotfiles and
// named by the config's sourceDir, empty_ and create_ entries, run_once_
// scripts that install packages.
func TestHelderberto(t *testing.T) {
	t.Run("PlainEditsArrive", func(t *testing.T) { plainEdits(t, Helderberto, ".aliases", ".tmux.conf") })
	t.Run("EmptyFileGetsContent", helderbertoEmpty)
	t.Run("CreateTargetEditKept", helderbertoCreate)
	t.Run("DeletedManagedFile", helderbertoDeleted)
}

// ~/.hushlogin (empty_) gets content: captured as one source entry, and it
// arrives.
func helderbertoEmpty(t *testing.T) {
	f, a, b := pair(t, Helderberto)
	e := a.AppendLine(".hushlogin", "#", "hushlogin given content")
	syncOK(t, a, b)
	arrived(t, b, e)
	assertChezmoiWorks(t, b)
	f.Check()
}

// asdf rewrites ~/.tool-versions (create_): chezmoi only creates it, so the
// host's version stays, whatever comes in.
func helderbertoCreate(t *testing.T) {
	f, a, b := pair(t, Helderberto)
	e := a.AppendLine(".tool-versions", "#", "tool version added")
	e.ByDesign = true
	b.EditSource("create_dot_tool-versions", "default tool versions changed", Appending("# TOKEN"))
	syncAll(t, b, a)
	assert.True(t, e.Kept(), "alpha's ~/.tool-versions was overwritten")
	f.Check()
}

// A managed file deleted at home is captured (gone from main) or stays
// deleted and is reported; the apply that brings the other host's edit does
// not silently bring it back.
func helderbertoDeleted(t *testing.T) {
	f, a, b := pair(t, Helderberto)
	a.Remove(".editorconfig", "dot_editorconfig", "editorconfig deleted")
	b.AppendLine(".tmux.conf", "#", "tmux option")
	syncAll(t, b, a)
	f.Check()
}
