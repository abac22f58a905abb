package chezmoi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTargetName(t *testing.T) {
	for src, want := range map[string]string{
		"dot_bashrc":                          ".bashrc",
		"dot_config/app/config.toml":          ".config/app/config.toml",
		"private_dot_ssh/config":              ".ssh/config",
		"dot_gitconfig.tmpl":                  ".gitconfig",
		"encrypted_private_dot_pypirc.age":    ".pypirc",
		"exact_dot_vim/executable_run.sh":     ".vim/run.sh",
		"symlink_dot_vimrc":                   ".vimrc",
		"literal_dot_x.tmpl.literal":          "dot_x.tmpl",
		"readonly_empty_dot_hushlogin":        ".hushlogin",
		"dot_config/private_readonly_dot_key": ".config/.key",
		"modify_dot_profile":                  ".profile",
		"create_dot_motd":                     ".motd",
	} {
		got, ok := TargetName(src)
		require.True(t, ok, src)
		require.Equal(t, want, got, src)
	}
	for _, src := range []string{".chezmoiignore", ".chezmoidata/x.toml", "run_once_setup.sh", ".chezmoiscripts/x.sh", "dot_config/run_onchange_y.sh", ""} {
		_, ok := TargetName(src)
		require.False(t, ok, src)
	}
}
