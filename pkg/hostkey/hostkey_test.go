package hostkey

import "testing"

func TestSanitize(t *testing.T) {
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
		if got := Sanitize(tc.in); got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParkBookmark(t *testing.T) {
	if got := ParkBookmark("my laptop"); got != "sync/my-laptop" {
		t.Errorf("ParkBookmark = %q", got)
	}
}

// Numbered's names read back through SplitNumbered: the counter orders
// the runs of one second.
func TestNumbered(t *testing.T) {
	for i, want := range map[int]string{1: "20261130T000727Z", 2: "20261130T000727Z-2", 12: "20261130T000727Z-12"} {
		if got := Numbered("20261130T000727Z", i); got != want {
			t.Errorf("Numbered(%d) = %q, want %q", i, got, want)
		}
		if base, n := SplitNumbered(want); base != "20261130T000727Z" || n != i {
			t.Errorf("SplitNumbered(%q) = %q, %d", want, base, n)
		}
	}
	if _, n := SplitNumbered("20261130T000727Z-x"); n != 0 {
		t.Errorf("a suffix that is not a counter: %d", n)
	}
}
