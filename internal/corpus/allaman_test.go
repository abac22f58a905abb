package corpus

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Allaman/dots: a flat source directory with age-encrypted files, a
// templated .chezmoiignore, a .chezmoiremove, private_/readonly_ entries,
// run_once_ scripts and templates reading gopass.
func TestAllaman(t *testing.T) {
	t.Run("PlainEditsArrive", allamanPlainEdits)
	t.Run("EncryptedEditsNeverOverwritten", allamanEncrypted)
	t.Run("IgnoredTargetsStayLocal", allamanIgnored)
	// fzf's installer writes ~/.fzf.bash, which .chezmoiremove lists.
	t.Run("ChezmoiremoveListedFileReappears", func(t *testing.T) {
		removalNamed(t, Allaman, ".fzf.bash", "# Setup fzf\nexport PATH=\"$PATH:$HOME/.fzf/bin\"\n", ".zshrc")
	})
	t.Run("PrivateLoosenedWarns", func(t *testing.T) {
		f, _, _ := privateLoosened(t, Allaman, ".config/k9s/aliases.yaml", "dot_config/k9s/aliases.yaml")
		f.Check()
	})
	// A template target reading gopass, while the template changes upstream.
	t.Run("PasswordManagerTemplateEditKept", func(t *testing.T) {
		templateEditKept(t, Allaman, "dot_config/atuin/config.toml.tmpl", ".config/atuin/config.toml")
	})
}

// The run_once_ script ran exactly once on each host.
func allamanPlainEdits(t *testing.T) {
	_, a, b := plainEdits(t, Allaman, ".config/lazygit/config.yml", ".shell/aliases")
	for _, h := range []*Host{a, b} {
		assert.Equal(t, 1, strings.Count(h.StubCalls(), "atuin login"), "[%s] the run_once_ script ran exactly once", h.Name)
	}
}

// encryptedIn finds tok in the decrypted content of an encrypted source file.
func encryptedIn(h *Host, entry, tok string) func(repo, ref string) bool {
	return func(repo, ref string) bool {
		if !exists(repo) {
			return false
		}
		r := h.Exec(repo, "git", "show", ref+":"+entry)
		if r.Code != 0 {
			return false
		}
		d := h.ExecInput("", []byte(r.Stdout), "chezmoi", "decrypt")
		return d.Code == 0 && strings.Contains(d.Stdout, tok)
	}
}

// Both hosts edit the same encrypted file: each edit is published, parked
// or kept and reported; neither is overwritten.
func allamanEncrypted(t *testing.T) {
	f, a, b := pair(t, Allaman)
	ea := a.AppendLine(".pypirc", "#", "pypirc (encrypted) edited")
	ea.In = encryptedIn(a, "encrypted_dot_pypirc.age", ea.Token)
	eb := b.AppendLine(".pypirc", "#", "pypirc (encrypted) edited")
	eb.In = encryptedIn(b, "encrypted_dot_pypirc.age", eb.Token)
	runs := syncAll(t, a, b, a)
	if rb := runs[1]; rb.Code == 5 {
		// jj merges the armored ciphertext as text: the "conflict markers"
		// sit inside an age file, and a person who edits them there breaks it.
		assert.NotRegexp(t, `conflict markers in [^,]*encrypted_`, rb.Output,
			"the recipe for a conflicted encrypted file cannot be \"fix the conflict markers\" in its ciphertext")
	}
	assert.True(t, ea.Kept() || ea.In(f.Remote, "main"), "alpha's encrypted edit survives")
	assert.True(t, eb.Kept() || eb.In(f.Remote, "main") || eb.In(f.Remote, "sync/beta"), "beta's encrypted edit survives")
	f.Check()
}

// Targets .chezmoiignore leaves out (~/.vimrc on every system, ~/.config/kitty)
// are the host's own: never published, never written on the other host.
func allamanIgnored(t *testing.T) {
	f, a, b := pair(t, Allaman)
	vimrc := "\" alpha's own vimrc\nset number\n"
	a.WriteHome(".vimrc", vimrc)
	a.WriteHome(".config/kitty/kitty.conf", "font_size 11\n")
	e := a.AppendLine(".zshrc", "#", "zshrc edited")
	syncOK(t, a, b)
	main := a.Run(f.Remote, "git", "show", "main:dot_vimrc")
	assert.Equal(t, strings.TrimSpace(Allaman.Files(t)["dot_vimrc"]), main, "the ignored dot_vimrc on main is unchanged")
	assert.Equal(t, vimrc, a.ReadHome(".vimrc"), "alpha's own ~/.vimrc is untouched")
	assert.Empty(t, b.ReadHome(".vimrc"), "an ignored target is never written on beta")
	assert.Empty(t, b.ReadHome(".config/kitty/kitty.conf"), "an ignored target is never written on beta")
	arrived(t, b, e)
	f.Check()
}
