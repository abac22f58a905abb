package chezmoi

import (
	"os"
	"path/filepath"
	"strings"
)

// HasConfigFile reports whether chezmoi would read a config file: any
// chezmoi.* in $XDG_CONFIG_HOME/chezmoi (default ~/.config/chezmoi) or in
// one of $XDG_CONFIG_DIRS/chezmoi (default /etc/xdg/chezmoi). Without one,
// chezmoi's source directory is its default, $XDG_DATA_HOME/chezmoi
// (~/.local/share/chezmoi), and asking `chezmoi source-path` — a process on
// every sync's no-op path — can be skipped.
func HasConfigFile(getenv func(string) string) bool {
	var dirs []string
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		dirs = append(dirs, d)
	} else if h := getenv("HOME"); h != "" {
		dirs = append(dirs, filepath.Join(h, ".config"))
	} else {
		return true // cannot tell: ask chezmoi
	}
	sys := getenv("XDG_CONFIG_DIRS")
	if sys == "" {
		sys = "/etc/xdg"
	}
	dirs = append(dirs, strings.Split(sys, ":")...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		matches, err := filepath.Glob(filepath.Join(d, "chezmoi", "chezmoi.*"))
		if err != nil || len(matches) > 0 {
			return true
		}
		if _, err := os.Stat(filepath.Join(d, "chezmoi")); err != nil && !os.IsNotExist(err) {
			return true // unreadable: let chezmoi decide
		}
	}
	return false
}

// DefaultSourceDir is chezmoi's source directory when it has no config
// file: $XDG_DATA_HOME/chezmoi, else ~/.local/share/chezmoi. ok is false
// when a config file exists (ask `chezmoi source-path`) or HOME is unknown.
func DefaultSourceDir(getenv func(string) string) (dir string, ok bool) {
	if HasConfigFile(getenv) {
		return "", false
	}
	dir = XDGSourceDir(getenv)
	return dir, dir != ""
}

// XDGSourceDir is chezmoi's built-in default source directory,
// $XDG_DATA_HOME/chezmoi, else ~/.local/share/chezmoi ("" without HOME),
// whatever a config file may say.
func XDGSourceDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "chezmoi")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "chezmoi")
	}
	return ""
}

// ConfigFiles lists the chezmoi config files chezmoi may read (any
// chezmoi.* in $XDG_CONFIG_HOME/chezmoi, default ~/.config/chezmoi, and in
// each of $XDG_CONFIG_DIRS/chezmoi, default /etc/xdg/chezmoi), sorted.
func ConfigFiles(getenv func(string) string) []string {
	var dirs []string
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		dirs = append(dirs, d)
	} else if h := getenv("HOME"); h != "" {
		dirs = append(dirs, filepath.Join(h, ".config"))
	}
	sys := getenv("XDG_CONFIG_DIRS")
	if sys == "" {
		sys = "/etc/xdg"
	}
	dirs = append(dirs, strings.Split(sys, ":")...)
	var out []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(d, "chezmoi", "chezmoi.*"))
		out = append(out, matches...)
	}
	return out
}

// WorkTree is the repository holding the source directory dir: dir
// itself when it holds .git or .jj, else the ancestor whose .chezmoiroot
// names dir (chezmoi's author keeps his source in home/ that way, and
// `chezmoi source-path` then prints the directory inside the repository).
func WorkTree(dir string) string {
	if isRepo(dir) {
		return dir
	}
	for p := filepath.Dir(dir); p != filepath.Dir(p); p = filepath.Dir(p) {
		data, err := os.ReadFile(filepath.Join(p, ".chezmoiroot"))
		if err != nil {
			continue
		}
		if filepath.Clean(filepath.Join(p, strings.TrimSpace(string(data)))) == filepath.Clean(dir) && isRepo(p) {
			return p
		}
	}
	return dir
}

func isRepo(dir string) bool {
	for _, d := range []string{".jj", ".git"} {
		if _, err := os.Lstat(filepath.Join(dir, d)); err == nil {
			return true
		}
	}
	return false
}
