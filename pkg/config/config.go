// Package config reads the suite's configuration file, the one the NixOS
// module writes from its options. Keys match the module options exactly;
// Keys below is the single list of them, used by the flag resolver, the docs
// and the test that checks the module against the binaries.
//
// Precedence for every option is flag > environment > config file > default:
// kong applies the command line and the flags' env tags; the resolver here
// fills a flag from the file only when neither was given.
package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/state"
)

// Sections of the file, one per tool family.
const (
	SectionSync    = "chezmoiSync"
	SectionRebuild = "rebuildSmart"
)

// Key is one configuration key.
type Key struct {
	Name string // JSON key, identical to the NixOS module option name
	Type string // bool, string, duration, int, list, object
	Help string
}

// Keys lists every key each section accepts. The NixOS module (nix/module.nix)
// writes exactly these; a test checks both directions.
var Keys = map[string][]Key{
	SectionSync: {
		{"repoUrl", "string", "clone URL used when the chezmoi source directory is missing"},
		{"autoCommit", "bool", "commit captured edits as chore(<host>): sync dotfiles - <time>"},
		{"autoPush", "bool", "push the branch after a successful rebase"},
		{"remote", "string", "git remote name"},
		{"branch", "string", "branch shared by all hosts"},
		{"hostname", "string", "host name used in commit messages and sync/<host> bookmarks"},
		{"sourceDir", "string", "chezmoi source directory (default: chezmoi source-path)"},
		{"pushRetries", "int", "how often to fetch, rebase and push again when another host pushed first (0-20)"},
		{"maxNewFileSize", "int", "largest new file jj may snapshot, in bytes; a bigger one fails the run, naming the file"},
		// Notifications and metrics (issue 9; docs/fleet.md). Dotted names are
		// nested objects in the file ({"notify": {"desktop": true}}) or flat
		// keys ({"notify.desktop": true}); Load accepts both.
		{"notify.desktop", "bool", "desktop notification (notify-send) when conflicts are parked or a sync fails"},
		{"notify.webhookUrl", "string", "URL that receives an HTTP POST of the run's JSON record"},
		{"notify.webhookTimeout", "duration", "total time budget of the webhook, retries included"},
		{"notify.webhookRetries", "int", "retries after a failed webhook attempt, within the timeout"},
		{"metricsFile", "string", "Prometheus textfile written after every run (node_exporter textfile collector)"},
	},
	SectionRebuild: {
		{"autoCommit", "bool", "commit the tree the build used (tracked changes, added files, flake.lock; never a secret-looking file)"},
		{"autoPush", "bool", "push that commit"},
		{"updateBeforeRebuild", "bool", "update flake inputs before every rebuild"},
		{"syncDotfiles", "bool", "run chezmoi-sync as part of the rebuild"},
		{"offlineMode", "bool", "skip every network phase"},
		{"flake", "string", "path of the flake repository"},
		{"host", "string", "nixosConfigurations attribute to build"},
		{"secretsInput", "string", "flake input holding secrets, updated on every rebuild"},
		{"staleAfter", "duration", "default for --stale"},
		{"secretsTimeout", "duration", "time limit of the secrets input update"},
		{"secretsPath", "string", "where sops-nix puts decrypted secrets (checked after the switch)"},
		{"tag", "bool", "tag each built commit rebuild/<host>/<generation>"},
		{"rollbackOnFailure", "bool", "when the activation or the post-checks (failed units, missing secrets, a health check) fail after a switch, go back to the previous generation (exit 13)"},
		{"confirmTimeout", "duration", "a remote target rolls back by itself unless this machine confirms the activation within this time (0: no confirmation)"},
		// rebuild-rollback --clean (issue 16; docs/rebuild-rollback.md).
		{"clean.keep", "int", "rebuild-rollback --clean keeps the N newest generations"},
		{"clean.keepSince", "duration", "rebuild-rollback --clean also keeps every generation made within this (e.g. 30d)"},
		{"clean.keepPinned", "bool", "rebuild-rollback --clean keeps the builds of remote branch tips and tags"},
		{"clean.gc", "bool", "rebuild-rollback --clean collects the store garbage afterwards"},
		// Fleet and unattended use (issue 9; docs/fleet.md).
		{"hooks.preRebuild", "list", "argv arrays run before anything changes; a failing one vetoes the rebuild"},
		{"hooks.postRebuild", "list", "argv arrays run after a successful rebuild"},
		{"hooks.onFailure", "list", "argv arrays run after a failed rebuild"},
		{"hooks.healthCheck", "list", "argv arrays run after a switch as post-checks; one that exits non-zero fails the checks"},
		{"hooks.timeout", "duration", "time limit of each hook"},
		{"notify.desktop", "bool", "desktop notification (notify-send) on success and failure"},
		{"notify.webhookUrl", "string", "URL that receives an HTTP POST of the run's JSON record"},
		{"notify.webhookTimeout", "duration", "total time budget of the webhook, retries included"},
		{"notify.webhookRetries", "int", "retries after a failed webhook attempt, within the timeout"},
		{"unattended.boot", "bool", "in --unattended mode, activate with boot instead of switch"},
		{"unattended.randomizedDelay", "duration", "in --unattended mode, sleep a random time up to this first"},
		{"metricsFile", "string", "Prometheus textfile written after every run (node_exporter textfile collector)"},
	},
}

// File is a parsed configuration file.
type File struct {
	Path     string
	sections map[string]map[string]json.RawMessage
}

// Locate returns the configuration file to read: explicit (--config or
// $NIXDOTS_CONFIG), else $XDG_CONFIG_HOME/nixdots/config.json, else each of
// $XDG_CONFIG_DIRS, else /etc/nixdots/config.json. "" means none exists.
func Locate(explicit string, getenv func(string) string) string {
	if explicit != "" {
		return explicit
	}
	if p := getenv("NIXDOTS_CONFIG"); p != "" {
		return p
	}
	var candidates []string
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		candidates = append(candidates, filepath.Join(d, state.SuiteName, "config.json"))
	} else if h := getenv("HOME"); h != "" {
		candidates = append(candidates, filepath.Join(h, ".config", state.SuiteName, "config.json"))
	}
	dirs := getenv("XDG_CONFIG_DIRS")
	if dirs == "" {
		dirs = "/etc/xdg"
	}
	for _, d := range strings.Split(dirs, ":") {
		if d != "" {
			candidates = append(candidates, filepath.Join(d, state.SuiteName, "config.json"))
		}
	}
	candidates = append(candidates, filepath.Join("/etc", state.SuiteName, "config.json"))
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// Load parses path. "" yields an empty File. A file that cannot be read or
// parsed, or holds a key not in Keys, is a usage error naming the file.
func Load(path string) (*File, error) {
	f := &File{Path: path, sections: map[string]map[string]json.RawMessage{}}
	if path == "" {
		return f, nil
	}
	data, err := readConfig(path)
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f.sections); err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("config file %s is not valid JSON: %w", path, err))
	}
	for section, values := range f.sections {
		known, ok := Keys[section]
		if !ok {
			return nil, exitcode.UsageError(fmt.Errorf("config file %s: unknown section %q (known: %s)", path, section, strings.Join(sectionNames(), ", ")))
		}
		if err := flatten(known, values); err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("config file %s: %s.%w", path, section, err))
		}
		for k := range values {
			if !hasKey(known, k) {
				return nil, exitcode.UsageError(fmt.Errorf("config file %s: unknown key %s.%s", path, section, k))
			}
		}
	}
	return f, nil
}

// MaxSize bounds a config file: the module's is a few KiB.
const MaxSize = 1 << 20

// readConfig reads path, a regular file of at most MaxSize bytes. It opens
// without blocking (a FIFO would wait forever for a writer) and checks what
// it opened before reading (/dev/zero never ends).
func readConfig(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist", path)
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("config file %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("config file %s is not a regular file (%s)", path, kindOf(st.Mode()))
	case st.Size() > MaxSize:
		return nil, fmt.Errorf("config file %s is %d bytes, more than a config file holds (%d KiB at most)", path, st.Size(), MaxSize>>10)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err == nil && len(data) > MaxSize {
		err = fmt.Errorf("more than %d KiB", MaxSize>>10)
	}
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return data, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

func sectionNames() []string {
	var out []string
	for s := range Keys {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// flatten rewrites nested objects of dotted keys in place: the NixOS module
// writes {"hooks": {"preRebuild": [...]}} (toJSON of nested options), people
// may write {"hooks.preRebuild": [...]}; both become "hooks.preRebuild", so
// Raw, Decode and the flag resolver read one form. Only objects whose name is
// the prefix of a dotted key are opened; any other key is left as it is.
func flatten(keys []Key, values map[string]json.RawMessage) error {
	for name, raw := range values {
		if hasKey(keys, name) || !isPrefix(keys, name) {
			continue
		}
		var sub map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sub); err != nil {
			return fmt.Errorf("%s: expected an object (%w)", name, err)
		}
		delete(values, name)
		for k, v := range sub {
			full := name + "." + k
			if _, dup := values[full]; dup {
				return fmt.Errorf("%s is set twice (nested and dotted)", full)
			}
			values[full] = v
		}
		// Deeper nesting ({"a": {"b": {"c": 1}}} for "a.b.c").
		if err := flatten(keys, values); err != nil {
			return err
		}
		return nil
	}
	return nil
}

// isPrefix reports whether some dotted key starts with name + ".".
func isPrefix(keys []Key, name string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k.Name, name+".") {
			return true
		}
	}
	return false
}

func hasKey(keys []Key, name string) bool {
	for _, k := range keys {
		if k.Name == name || strings.HasPrefix(name, k.Name+".") {
			return true
		}
	}
	return false
}

// Raw returns the raw JSON of section.key, or nil.
func (f *File) Raw(section, key string) json.RawMessage {
	if f == nil {
		return nil
	}
	return f.sections[section][key]
}

// Decode unmarshals section.key into v; it reports whether the key was set.
func (f *File) Decode(section, key string, v any) (bool, error) {
	raw := f.Raw(section, key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, exitcode.UsageError(fmt.Errorf("config file %s: %s.%s: %w", f.Path, section, key, err))
	}
	return true, nil
}

// Resolver fills flags tagged `config:"key"` from section of the file, but
// only when the flag's environment variable is unset: kong's own env handling
// then wins over the file, giving flag > env > config > default.
func (f *File) Resolver(section string, getenv func(string) string) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		key := flag.Tag.Get("config")
		if key == "" {
			return nil, nil
		}
		for _, e := range flag.Envs {
			if getenv(e) != "" {
				return nil, nil
			}
		}
		raw := f.Raw(section, key)
		if raw == nil {
			return nil, nil
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("config file %s: %s.%s: %w", f.Path, section, key, err))
		}
		if err := checkType(flag.Value.Target, v); err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("config file %s: %s.%s %w", f.Path, section, key, err))
		}
		if n, ok := v.(float64); ok && n == float64(int64(n)) {
			return fmt.Sprint(int64(n)), nil
		}
		return v, nil
	})
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkType rejects a config value of the wrong JSON type here, so the
// error names the file and key instead of kong's flag name.
func checkType(target reflect.Value, v any) error {
	if !target.IsValid() {
		return nil
	}
	// Types that parse their own text (custom durations, enums) accept a
	// string and say themselves what is wrong with it.
	if target.CanAddr() {
		if _, ok := target.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if _, isString := v.(string); !isString {
				return fmt.Errorf("must be a string, not %s", jsonKind(v))
			}
			return nil
		}
	}
	if _, ok := target.Interface().(kong.MapperValue); ok {
		return nil
	}
	switch {
	case target.Type() == durationType:
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a duration string such as \"90s\" or \"1h\", not %s", jsonKind(v))
		}
		if _, err := time.ParseDuration(str); err != nil {
			return fmt.Errorf("is not a duration: %q", str)
		}
	case target.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("must be true or false, not %s", jsonKind(v))
		}
	case target.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("must be a string, not %s", jsonKind(v))
		}
	case target.Kind() >= reflect.Int && target.Kind() <= reflect.Uint64:
		if n, ok := v.(float64); !ok || n != float64(int64(n)) {
			return fmt.Errorf("must be a whole number, not %s", jsonKind(v))
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(v)
	case float64:
		return fmt.Sprint(v)
	case string:
		return fmt.Sprintf("%q", v)
	case []any:
		return "a list"
	default:
		return "an object"
	}
}
