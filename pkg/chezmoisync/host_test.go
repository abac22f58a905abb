package chezmoisync

import "testing"

func TestParkBookmark(t *testing.T) {
	if got := ParkBookmark("my laptop"); got != "sync/my-laptop" {
		t.Errorf("ParkBookmark = %q", got)
	}
}

func TestBackoffGrowsAndDiffersPerHost(t *testing.T) {
	if !(backoff(0, "a") < backoff(1, "a") && backoff(1, "a") < backoff(2, "a")) {
		t.Fatalf("backoff does not grow: %v %v %v", backoff(0, "a"), backoff(1, "a"), backoff(2, "a"))
	}
	if backoff(0, "alpha") == backoff(0, "beta") {
		t.Fatalf("two hosts back off in step")
	}
}

func TestLocalRepoPath(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ url, want string }{
		{dir, dir},
		{"file://" + dir, dir},
		{"git@github.com:me/dotfiles.git", ""},
		{"ssh://host/srv/dotfiles.git", ""},
		{"https://example.test/dotfiles.git", ""},
		{dir + "/missing", ""},
	} {
		if got := localRepoPath(tc.url, "/"); got != tc.want {
			t.Errorf("localRepoPath(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
