package chezmoisync

import "testing"

func TestBookmarkHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alpha", "alpha"},
		{"web-01.example.org", "web-01.example.org"},
		{"my laptop", "my-laptop"},
		{"a;rm -rf /", "a-rm-rf"},
		{"$(whoami)`id`", "whoami-id"},
		{"host@home/x", "host-home-x"},
		{"..weird..name..", "weird.name"},
		{"name.lock", "name"},
		{"x--y", "x-y"},
		{"ünï", "n"},
		{"", "host"},
		{"   ", "host"},
		{"-", "host"},
		{"averyveryveryveryveryveryveryveryveryveryveryveryveryverylonghostname", "averyveryveryveryveryveryveryveryveryveryveryveryveryverylongho"},
	} {
		if got := BookmarkHost(tc.in); got != tc.want {
			t.Errorf("BookmarkHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
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
