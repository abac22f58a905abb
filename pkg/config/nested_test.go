package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The module writes nested objects, people may write dotted keys: both must
// read back through Decode under the dotted name.
func TestLoadNestedAndDottedKeys(t *testing.T) {
	for name, body := range map[string]string{
		"nested": `{"rebuildSmart": {"hooks": {"preRebuild": [["true"]], "timeout": "5s"}, "notify": {"webhookUrl": "http://x"}}}`,
		"dotted": `{"rebuildSmart": {"hooks.preRebuild": [["true"]], "hooks.timeout": "5s", "notify.webhookUrl": "http://x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Load(writeConfig(t, body))
			if err != nil {
				t.Fatal(err)
			}
			var pre [][]string
			ok, err := f.Decode(SectionRebuild, "hooks.preRebuild", &pre)
			if err != nil || !ok || len(pre) != 1 || pre[0][0] != "true" {
				t.Fatalf("hooks.preRebuild = %v, %v, %v", pre, ok, err)
			}
			var url string
			if ok, _ := f.Decode(SectionRebuild, "notify.webhookUrl", &url); !ok || url != "http://x" {
				t.Fatalf("notify.webhookUrl = %q", url)
			}
		})
	}
}

func TestLoadRejectsBadNestedKeys(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"unknown sub-key":  {`{"rebuildSmart": {"hooks": {"bogus": 1}}}`, "unknown key rebuildSmart.hooks.bogus"},
		"not an object":    {`{"rebuildSmart": {"hooks": [1]}}`, "rebuildSmart.hooks: expected an object"},
		"set twice":        {`{"rebuildSmart": {"hooks": {"timeout": "1s"}, "hooks.timeout": "2s"}}`, "set twice"},
		"unknown top key":  {`{"chezmoiSync": {"unattended": {"boot": true}}}`, "unknown key chezmoiSync.unattended"},
		"sync notify only": {`{"chezmoiSync": {"notify": {"webhookRetries": 2, "nope": 1}}}`, "unknown key chezmoiSync.notify.nope"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
