package rebuildsmart

import (
	"fmt"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
)

// The environment variables kong reads --flake and --host from (their env
// tags, in kong's order: the first one set wins).
var (
	flakeEnvs = []string{"REBUILD_SMART_FLAKE", "NH_OS_FLAKE", "NH_FLAKE"}
	hostEnvs  = []string{"REBUILD_SMART_HOST"}
)

// A source is where a setting came from, strongest first.
type source int

const (
	fromFlag source = iota
	fromEnv
	fromConfig
	fromDefault
)

// setting is one of --flake and --host with where its value came from.
type setting struct {
	value string
	from  source
	name  string // how to name it in a message: "--host", "REBUILD_SMART_HOST", "rebuildSmart.host"
}

// resolveHost picks the nixosConfigurations attribute to build. The host has
// two spellings, --host NAME and the NAME of --flake DIR#NAME, and the
// precedence flag > environment > config file > this machine's name applies
// to the host as a whole: a host named inside a --flake flag is a flag, one
// inside $NH_OS_FLAKE an environment setting. So `--flake DIR#beta` beats
// REBUILD_SMART_HOST=alpha and a config file's host, while the two
// spellings at the same level must agree (exit 2 otherwise): building one
// host's configuration for another machine is never a guess to make.
// fromDefault reports that neither named one.
func (r *Run) resolveHost(ref flake.Ref) (host string, fromDefault bool, err error) {
	fl := r.settingOf("flake", r.Cmd.Flake, flakeEnvs)
	h := r.settingOf("host", r.Cmd.Host, hostEnvs)
	fl.value = ref.Host
	switch {
	case fl.value != "" && h.value != "" && fl.from == h.from && fl.value != h.value:
		return "", false, exitcode.UsageError(fmt.Errorf("%s names host %q but %s names %q: give one of them",
			fl.name, fl.value, h.name, h.value))
	case fl.value != "" && (h.value == "" || fl.from <= h.from):
		return fl.value, false, nil
	case h.value != "":
		return h.value, false, nil
	}
	return r.App.Hostname(), true, nil
}

// settingOf says where the value kong gave the flag name came from.
func (r *Run) settingOf(name, value string, envs []string) setting {
	if value == "" {
		return setting{from: fromDefault}
	}
	if r.App.Given(name) {
		return setting{value: value, from: fromFlag, name: "--" + name}
	}
	// The config file fills a flag only when none of its variables is set
	// to something (config.File.Resolver); kong's env handling is first.
	for _, e := range envs {
		if r.App.Getenv(e) != "" {
			return setting{value: value, from: fromEnv, name: e}
		}
	}
	return setting{value: value, from: fromConfig, name: "config " + Spec.Section + "." + name}
}
