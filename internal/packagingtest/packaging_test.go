package packagingtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/stretchr/testify/require"
)

func root() string { return testharness.ModuleRoot() }

// host returns a host with the real tools on PATH (nix set up by BaseEnv).
func host(t *testing.T) *testharness.Host { return testharness.NewHost(t, "alpha") }

// userJustfile is someone's existing justfile: its own `rebuild` recipe and
// the import the docs tell them to add.
func userJustfile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	body := fmt.Sprintf(`# my nix-config
rebuild:
    scripts/rebuild.sh

rebuild-update: && rebuild
    nix flake update

import %q
`, filepath.Join(root(), "just", "rebuild-smart.just"))
	p := filepath.Join(dir, "justfile")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// `just --dry-run` of each importable recipe, with the real just, prints the
// command it would run; the user's own recipes are untouched.
func TestImportedRecipesDryRun(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "just")
	h := host(t)
	jf := userJustfile(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rebuild-smart"}, "rebuild-smart \n"},
		{[]string{"rebuild-smart", "--skip-dotfiles", "--update-input", "nixpkgs"}, "rebuild-smart --skip-dotfiles --update-input nixpkgs\n"},
		{[]string{"rebuild-smart-update"}, "rebuild-smart --update \n"},
		{[]string{"rebuild-smart-update", "--ask"}, "rebuild-smart --update --ask\n"},
		{[]string{"rebuild-smart-offline"}, "rebuild-smart --offline \n"},
		{[]string{"rebuild-smart-dry"}, "rebuild-smart --dry-run \n"},
		{[]string{"rebuild-smart-rollback"}, "rebuild-rollback \n"},
		{[]string{"rebuild-smart-rollback", "--to", "42"}, "rebuild-rollback --to 42\n"},
		{[]string{"rebuild"}, "scripts/rebuild.sh\n"},
		{[]string{"rebuild-update"}, "nix flake update\nscripts/rebuild.sh\n"},
	} {
		r := h.Exec(filepath.Dir(jf), "just", append([]string{"--dry-run", "--justfile", jf}, tc.args...)...)
		require.Equal(t, 0, r.Code, "%v: %s", tc.args, r)
		require.Equal(t, tc.want, r.Stderr, "%v", tc.args)
		require.Empty(t, r.Stdout, "%v: dry run printed on stdout", tc.args)
	}
	// Every recipe the docs promise exists, and nothing else was added.
	r := h.Exec(filepath.Dir(jf), "just", "--justfile", jf, "--summary")
	require.Equal(t, 0, r.Code, r.String())
	got := strings.Fields(r.Stdout)
	sort.Strings(got)
	require.Equal(t, []string{"rebuild", "rebuild-smart", "rebuild-smart-dry", "rebuild-smart-offline",
		"rebuild-smart-rollback", "rebuild-smart-update", "rebuild-update"}, got)
}

// The recipes really run the binaries with the flags given (not only in the
// dry run): NIXDOTS_REBUILD_SMART points them at a recording stand-in.
func TestImportedRecipesPassFlags(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "just")
	h := host(t)
	jf := userJustfile(t)
	log := filepath.Join(h.Root, "argv")
	rec := filepath.Join(h.Root, "record")
	require.NoError(t, os.WriteFile(rec, []byte("#!/bin/sh\nprintf '%s|' \"$0\" \"$@\" >> "+log+"\necho >> "+log+"\n"), 0o755))
	h.Setenv("NIXDOTS_REBUILD_SMART", rec)
	h.Setenv("NIXDOTS_REBUILD_ROLLBACK", rec)
	for _, args := range [][]string{
		{"rebuild-smart-update", "--skip-dotfiles"},
		{"rebuild-smart-offline"},
		{"rebuild-smart-rollback", "--list"},
	} {
		r := h.Exec(filepath.Dir(jf), "just", append([]string{"--justfile", jf}, args...)...)
		require.Equal(t, 0, r.Code, "%v: %s", args, r)
	}
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, rec+"|--update|--skip-dotfiles|\n"+rec+"|--offline|\n"+rec+"|--list|\n", string(data))
}

// The repository's own justfile: developer recipes call the scripts.
func TestDeveloperRecipes(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "just")
	h := host(t)
	jf := filepath.Join(root(), "justfile")
	for recipe, want := range map[string]string{
		"test":          "scripts/test",
		"demo":          "scripts/demo",
		"build":         "go build -o bin/",
		"completions":   "go run ./cmd/nixdots-gendocs -out . -only completions",
		"man":           "go run ./cmd/nixdots-gendocs -out . -only man",
		"docs":          "go run ./cmd/nixdots-gendocs -out .",
		"bench":         "scripts/bench",
		"mutate":        "scripts/mutate",
		"vendor-hash":   "go mod vendor",
		"rebuild-smart": "rebuild-smart",
	} {
		r := h.Exec(root(), "just", "--dry-run", "--justfile", jf, recipe)
		require.Equal(t, 0, r.Code, "%s: %s", recipe, r)
		require.Contains(t, r.Stderr, want, recipe)
	}
	r := h.Exec(root(), "just", "--dry-run", "--justfile", jf, "test", "-run", "TestX", "./pkg/x")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "scripts/test -run TestX ./pkg/x\n", r.Stderr)
}

// nixFiles lists every .nix file of the repository.
func nixFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root(), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".jj" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".nix") {
			out = append(out, p)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// Every .nix file parses with Debian's nix; a broken one is caught.
func TestNixFilesParse(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "nix-instantiate")
	h := host(t)
	files := nixFiles(t)
	for _, want := range []string{"flake.nix", "nix/module.nix", "nix/package.nix", "nix/config-json.nix"} {
		require.Contains(t, files, filepath.Join(root(), want))
	}
	for _, f := range files {
		r := h.Exec(root(), "nix-instantiate", "--parse", f)
		require.Equal(t, 0, r.Code, "%s: %s", f, r.Stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.nix")
	require.NoError(t, os.WriteFile(bad, []byte("{ a = 1; "), 0o644))
	require.NotEqual(t, 0, h.Exec("", "nix-instantiate", "--parse", bad).Code)
}

// moduleOnly are the options that configure the NixOS side (services,
// timers, users) rather than a binary; they are not config keys.
var moduleOnly = map[string][]string{
	config.SectionSync:    {"enable", "user", "users", "interval", "syncBeforeUpdate"},
	config.SectionRebuild: {"enable", "user", "schedule", "cleanSchedule"},
}

var optionLineRe = regexp.MustCompile(`(?m)^    ([A-Za-z0-9_]+) = mk(?:Option|EnableOption)\b`)

// handWritten parses the option names declared by hand in nix/module.nix for
// section, between its "# options: <section> begin/end" markers.
func handWritten(t *testing.T, module, section string) []string {
	t.Helper()
	begin := "# options: " + section + " begin"
	end := "# options: " + section + " end"
	i, j := strings.Index(module, begin), strings.Index(module, end)
	require.True(t, i >= 0 && j > i, "markers %q/%q missing in nix/module.nix", begin, end)
	var names []string
	for _, m := range optionLineRe.FindAllStringSubmatch(module[i:j], -1) {
		names = append(names, m[1])
	}
	require.NotEmpty(t, names)
	return names
}

// Every hand-written module option is a config key or a documented
// module-only option; every config key has an option (hand-written or
// generated from nix/config-keys.json, which must list exactly config.Keys).
func TestModuleOptionsMatchConfigKeys(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(root(), "nix", "module.nix"))
	require.NoError(t, err)
	module := string(data)

	var generated map[string][]struct{ Name, Type, Help string }
	raw, err := os.ReadFile(filepath.Join(root(), "nix", "config-keys.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &generated))

	require.Len(t, generated, len(config.Keys))
	for section, keys := range config.Keys {
		known := map[string]bool{}
		var jsonNames []string
		for _, k := range generated[section] {
			jsonNames = append(jsonNames, k.Name)
		}
		var keyNames []string
		for _, k := range keys {
			known[k.Name] = true
			keyNames = append(keyNames, k.Name)
		}
		require.Equal(t, keyNames, jsonNames, "nix/config-keys.json is stale for %s: run go run ./cmd/nixdots-gendocs -out .", section)

		only := map[string]bool{}
		for _, o := range moduleOnly[section] {
			only[o] = true
		}
		for _, opt := range handWritten(t, module, section) {
			require.True(t, known[opt] || only[opt],
				"module option %s.%s is neither a config key (pkg/config/config.go) nor module-only", section, opt)
			require.False(t, known[opt] && only[opt], "%s is both", opt)
		}
		// The seed's option names are all there, by hand, with their defaults.
		seed := map[string][]string{
			config.SectionSync:    {"enable", "repoUrl", "syncBeforeUpdate", "autoCommit", "autoPush", "user", "interval"},
			config.SectionRebuild: {"enable", "autoCommit", "autoPush", "updateBeforeRebuild", "syncDotfiles", "offlineMode"},
		}[section]
		require.Subset(t, handWritten(t, module, section), seed)
	}
	// The module writes the sections by the names the binaries read.
	for _, s := range []string{config.SectionSync, config.SectionRebuild} {
		require.Contains(t, module, s+" = lib.optionalAttrs")
		require.Contains(t, module, `section "`+s+`"`)
	}
	require.Contains(t, module, `environment.etc."nixdots/config.json"`)
}

// The Nix code that turns option values into the config file, evaluated
// with the real nix, produces a file the binaries' config loader accepts,
// with every key set to the option's value; null options are left out.
func TestModuleConfigFileLoads(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "nix-instantiate")
	h := host(t)
	sample := func(typ string, i int) any {
		switch typ {
		case "bool":
			return i%2 == 0
		case "int":
			return i + 1
		case "duration":
			return fmt.Sprintf("%dm", i+1)
		case "list":
			return []any{[]any{"echo", fmt.Sprint(i)}}
		case "object":
			return map[string]any{"k": fmt.Sprint(i)}
		default:
			return fmt.Sprintf("value-%d", i)
		}
	}
	// cfg: the module's option tree for each section (dotted keys nested),
	// plus module-only options and one null key that must not be written.
	want := map[string]map[string]any{}
	cfgs := map[string]map[string]any{}
	for section, keys := range config.Keys {
		cfg := map[string]any{"enable": true, "user": "alice"}
		want[section] = map[string]any{}
		for i, k := range keys {
			v := sample(k.Type, i)
			if i == len(keys)-1 {
				v = nil // null option: the binary's default
			} else {
				want[section][k.Name] = v
			}
			setPath(cfg, strings.Split(k.Name, "."), v)
		}
		cfgs[section] = cfg
	}
	cfgJSON, err := json.Marshal(cfgs)
	require.NoError(t, err)
	cfgFile := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfgFile, cfgJSON, 0o644))
	expr := fmt.Sprintf(`let
  keys = builtins.fromJSON (builtins.readFile %q);
  cfgs = builtins.fromJSON (builtins.readFile %q);
  section = name: import (/. + %q) { keys = keys.${name}; cfg = cfgs.${name}; };
in { chezmoiSync = section "chezmoiSync"; rebuildSmart = section "rebuildSmart"; }`,
		filepath.Join(root(), "nix", "config-keys.json"), cfgFile, filepath.Join(root(), "nix", "config-json.nix"))
	r := h.Exec("", "nix-instantiate", "--eval", "--strict", "--json", "--expr", expr)
	require.Equal(t, 0, r.Code, r.String())

	out := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(out, []byte(r.Stdout), 0o644))
	f, err := config.Load(out)
	require.NoError(t, err, "the loader rejects what the module writes:\n%s", r.Stdout)
	for section, keys := range config.Keys {
		for _, k := range keys {
			var got any
			ok, err := f.Decode(section, k.Name, &got)
			require.NoError(t, err)
			w, set := want[section][k.Name]
			require.Equal(t, set, ok, "%s.%s written: %v", section, k.Name, ok)
			if set {
				wj, _ := json.Marshal(w)
				gj, _ := json.Marshal(got)
				require.JSONEq(t, string(wj), string(gj), "%s.%s", section, k.Name)
			}
		}
	}
	// Module-only options never reach the file (the loader rejects unknown keys).
	require.NotContains(t, r.Stdout, `"enable"`)
	require.NotContains(t, r.Stdout, `"user"`)
}

func setPath(m map[string]any, path []string, v any) {
	if len(path) == 1 {
		m[path[0]] = v
		return
	}
	sub, ok := m[path[0]].(map[string]any)
	if !ok {
		sub = map[string]any{}
		m[path[0]] = sub
	}
	setPath(sub, path[1:], v)
}

var vendorHashRe = regexp.MustCompile(`vendorHash = "(sha256-[A-Za-z0-9+/=]+)";`)

// nix/package.nix's vendorHash is the NAR hash of `go mod vendor` for the
// current go.mod/go.sum (what buildGoModule's goModules derivation outputs).
// When it fails: `just vendor-hash` prints the right value.
func TestVendorHashIsCurrent(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "nix")
	data, err := os.ReadFile(filepath.Join(root(), "nix", "package.nix"))
	require.NoError(t, err)
	m := vendorHashRe.FindStringSubmatch(string(data))
	require.NotNil(t, m, "no vendorHash in nix/package.nix")

	vendor := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command("go", "mod", "vendor", "-o", vendor)
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	h := host(t)
	r := h.Exec("", "nix", "hash", "path", vendor)
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, strings.TrimSpace(r.Stdout), m[1], "vendorHash in nix/package.nix is stale: run `just vendor-hash`")
}
