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
