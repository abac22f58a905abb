package packagingtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// scripts/install-tools.sh takes the Debian archive from the machine's apt
// sources (one-line and deb822, as apt reads them), never from a host name
// of its own: the release's suite wins over -security, -updates, disabled
// entries, other files' third-party repositories and source-only lines.
func TestInstallToolsReadsTheMirrorFromAptSources(t *testing.T) {
	const bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"
	cases := []struct {
		name      string
		osRelease string
		files     map[string]string // relative to the apt directory
		env       string
		want      string // "" : no mirror found
	}{
		{"deb822, security stanza first", bookworm, map[string]string{
			"sources.list.d/debian.sources": `Types: deb
# a comment
URIs: http://security.mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
			"sources.list.d/nodesource.sources":                "Types: deb\nURIs: http://node.example/node_20.x\nSuites: nodistro\nComponents: main\n",
			"sources.list.d/other.sources.disabled-by-someone": "Types: deb\nURIs: http://wrong.example/debian\nSuites: bookworm\n",
			"sources.list.d/cloud.list":                        "deb https://cloud.example/apt cloud-sdk-bookworm main\n",
			"sources.list.d/zz-debian-disabled.sources":        "Enabled: no\nTypes: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\n",
			"sources.list.d/continued.sources.dpkg-old":        "",
		}, "", "http://mirror.example/debian"},
		{"one-line with options, deb-src and comments first", bookworm, map[string]string{
			"sources.list": `# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://ftp.example/debian/ bookworm main contrib # trailing
`,
		}, "", "https://ftp.example/debian"},
		{"deb822 continuation lines", bookworm, map[string]string{
			"sources.list.d/debian.sources": "Types: deb-src\n deb\nURIs:\n http://cont.example/debian\nSuites: bookworm-updates\n bookworm\n",
		}, "", "http://cont.example/debian"},
		{"no os-release: any Debian release name", "", map[string]string{
			"sources.list": "deb http://third.example/apt stable-extras main\ndeb http://any.example/debian trixie main\n",
		}, "", "http://any.example/debian"},
		{"the environment overrides", bookworm, map[string]string{
			"sources.list": "deb http://mirror.example/debian bookworm main\n",
		}, "http://override.example/debian", "http://override.example/debian"},
		{"nothing usable", bookworm, map[string]string{
			"sources.list": "deb http://mirror.example/debian trixie main\n",
		}, "", ""},
	}
	script := filepath.Join(root(), "scripts", "install-tools.sh")
	for _, tc := range cases {
		dir := t.TempDir()
		apt := filepath.Join(dir, "apt")
		require.NoError(t, os.MkdirAll(filepath.Join(apt, "sources.list.d"), 0o755))
		for rel, content := range tc.files {
			require.NoError(t, os.WriteFile(filepath.Join(apt, rel), []byte(content), 0o644))
		}
		osRelease := filepath.Join(dir, "os-release")
		if tc.osRelease != "" {
			require.NoError(t, os.WriteFile(osRelease, []byte(tc.osRelease), 0o644))
		}
		cmd := exec.Command("bash", script, "--print-mirror")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NIXDOTS_APT_ETC=" + apt, "NIXDOTS_OS_RELEASE=" + osRelease}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, "NIXDOTS_DEBIAN_MIRROR="+tc.env)
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if tc.want == "" {
			require.Error(t, err, tc.name)
			require.Empty(t, stdout.String(), tc.name)
			require.Contains(t, stderr.String(), "set NIXDOTS_DEBIAN_MIRROR", tc.name)
			continue
		}
		require.NoError(t, err, "%s: %s", tc.name, stderr.String())
		require.Equal(t, tc.want+"\n", stdout.String(), tc.name)
	}
}
