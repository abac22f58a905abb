package secretscan

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretsAreFound(t *testing.T) {
	var s Scanner
	for _, c := range []struct{ path, content, rule string }{
		{"keys/deploy", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDm3mJ8PpT1mR0pB8Wm2t5iVxM9cQ0n3g3v6nq1n3X1gAAAJgAAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "private-key"},
		{"scratch-notes.txt", "remember: api_token = 8f3c2a91d7e44b6a9c0e5f1d2b7a6c3e\n", "generic-api-key"},
		{"hosts/db.nix", "{ services.db.password = \"hunter2!\"; }\n", "password-assignment"},
		{"deploy.sh", "export DB_PASSWORD=s3cr3tP4ss\n", "password-assignment"},
		{"notes.md", "the key is Zq8xT4mLw9Rk2Vb7Nc5Hy3Jd6Fg1Ps0Ae\n", "high-entropy"},
		{".env", "FOO=bar\n", "env-file"},
		{"prod.env", "FOO=bar\n", "env-file"},
		{"secrets/id_ed25519", "whatever\n", "key-file"},
		{"tls/server.key", "whatever\n", "key-file"},
		// Binary keystores: the content scan skips binary files, so only
		// the name tells.
		{"certs/client.p12", "0\x82\x0a\x1d\x02\x01\x030\x82\x09\xd7\x06\x09*\x86H\x86\xf7\x0d\x01\x07\x01\x00", "key-file"},
		{"android/release.jks", "\xfe\xed\xfe\xed\x00\x00\x00\x02", "key-file"},
	} {
		f, found := s.ScanBytes(c.path, []byte(c.content))
		require.True(t, found, c.path)
		require.Equal(t, c.rule, f.Rule, c.path)
		require.Equal(t, c.path, f.Path)
	}
}

// Configuration files a person adds to a flake are not secrets: nix
// hashes, store paths, revisions, references to secret files.
func TestConfigurationIsNotASecret(t *testing.T) {
	var s Scanner
	for _, c := range []struct{ path, content string }{
		{"hosts/extra.nix", "{ config, pkgs, ... }: { services.nginx.enable = true; networking.hostName = \"alpha\"; }\n"},
		{"pkgs/foo.nix", "{ fetchFromGitHub }: fetchFromGitHub { owner = \"o\"; repo = \"r\"; rev = \"40f2a0c3e1d6b7a8c9d0e1f2a3b4c5d6e7f8a9b0\"; hash = \"sha256-AkpnrOaCGN4pNubffyJAL1jetqywJv60aRZJ0RD4RqA=\"; }\n"},
		{"secrets.nix", "{ sops.secrets.db.path = \"/run/secrets/db\"; users.users.me.passwordFile = config.sops.secrets.pw.path; }\n"},
		{"store.txt", "/nix/store/570rlfqqsrf6pgsrrdxlzfc48kyk88xg-nixos-system-alpha\n"},
		{".env.example", "PASSWORD=\n"},
		{"wallpaper.png", "\x89PNG\x00\x00binary"},
		{"flake.lock", `{"nodes": {"lib": {"locked": {"narHash": "sha256-AkpnrOaCGN4pNubffyJAL1jetqywJv60aRZJ0RD4RqA=", "url": "file:///tmp/TestStaleOnlyUpdateChangelog732557074/001"}}}}`},
		{"notes.txt", "see /tmp/TestStaleOnlyUpdateChangelog732557074/001 and ConfigureNetworkInterfaces2024Edition\n"},
	} {
		f, found := s.ScanBytes(c.path, []byte(c.content))
		require.False(t, found, "%s flagged: %v", c.path, f)
	}
}
