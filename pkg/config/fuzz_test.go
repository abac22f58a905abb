package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
)

// FuzzLoad feeds the configuration reader arbitrary bytes: a file or a
// usage error (exit 2) naming the file, never a panic. Every key of an
// accepted file can be read back.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"chezmoiSync":{"autoCommit":true,"autoPush":false,"hostname":"a;b $(x) c"}}`))
	f.Add([]byte(`{"rebuildSmart":{"hooks":{"preRebuild":[["true"]],"timeout":"5s"},"notify.desktop":true}}`))
	f.Add([]byte(`{"rebuildSmart":{"hooks":{"preRebuild":[]},"hooks.preRebuild":[]}}`))
	f.Add([]byte(`{"chezmoiSync":null}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"nope":{}}`))
	f.Add([]byte(`{"chezmoiSync":{"notify":5}}`))
	f.Add([]byte("{\"chezmoiSync\":{\"autoCommit\":tru"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(fuzzDir(t), "config.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := config.Load(path)
		if err != nil {
			if code := exitcode.FromError(err); code != exitcode.Usage {
				t.Fatalf("config error exits %d, want %d: %v", code, exitcode.Usage, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("config error does not name the file: %v", err)
			}
			return
		}
		for section, keys := range config.Keys {
			for _, k := range keys {
				var v any
				if raw := file.Raw(section, k.Name); raw != nil && !json.Valid(raw) {
					t.Fatalf("%s.%s holds invalid JSON %q", section, k.Name, raw)
				}
				_, _ = file.Decode(section, k.Name, &v)
			}
		}
	})
}

// fuzzDir is a scratch directory on tmpfs when there is one: the state
// writers fsync, and on a disk that limits the fuzzer to a few runs a
// second.
func fuzzDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "nixdots-fuzz-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
