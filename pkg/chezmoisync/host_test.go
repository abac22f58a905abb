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
