package rebuildsmart

import "testing"

func TestActivity(t *testing.T) {
	for line, want := range map[string]string{
		"building '/nix/store/cmksx3mm43imc34xi1y9fnrak659c10d-hello-1.0.drv'...":                                 "building hello-1.0",
		"copying path '/nix/store/0c1v8k2mqv1v2jr1xqhqfhqcfh8hb8n6-glibc-2.39' from 'https://cache.nixos.org'...": "fetching glibc-2.39 from cache.nixos.org",
		"evaluating derivation 'git+file:///etc/nixos#nixosConfigurations.alpha.config.system.build.toplevel'...": "evaluating",
		"warning: Git tree '/etc/nixos' is dirty":                                                                 "",
		"these 3 derivations will be built:":                                                                      "",
	} {
		if got := Activity(line); got != want {
			t.Errorf("Activity(%q) = %q, want %q", line, got, want)
		}
	}
}

// The progress writer keeps the last activity across partial writes.
func TestProgressWriter(t *testing.T) {
	p := &progress{done: make(chan struct{})}
	for _, chunk := range []string{"warning: dirty\nbuil", "ding '/nix/store/cmksx3mm43imc34xi1y9fnrak659c10d-hello-1.0.drv'...\n", "some log line\n"} {
		if _, err := p.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if p.current != "building hello-1.0" {
		t.Fatalf("current %q", p.current)
	}
}
