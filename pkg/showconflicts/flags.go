package showconflicts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
)

// SyncFlags are the options chezmoi-sync, chezmoi-status and
// chezmoi-show-conflicts share, with the same flags, environment variables
// and config keys, so the read-only commands look exactly where the sync
// works.
type SyncFlags struct {
	SourceDir string `name:"source-dir" group:"repo" placeholder:"DIR" env:"CHEZMOI_SYNC_SOURCE_DIR" config:"sourceDir" help:"chezmoi source directory (default: chezmoi's, from its config)."`
	Remote    string `name:"remote" group:"repo" default:"origin" env:"CHEZMOI_SYNC_REMOTE" config:"remote" help:"git remote name."`
	Branch    string `name:"branch" group:"repo" default:"main" env:"CHEZMOI_SYNC_BRANCH" config:"branch" help:"Branch shared by all hosts."`
	Hostname  string `name:"hostname" group:"repo" placeholder:"NAME" env:"CHEZMOI_SYNC_HOSTNAME" config:"hostname" help:"Host name used in sync/<host> bookmarks (default: the system host name)."`
}

// Location is where the sync works, resolved.
type Location struct {
	SourceDir string
	Remote    string
	Branch    string
	Host      string
	// SourceErr is set when the source directory could not be determined
	// or does not exist; SourceDir then holds the best guess.
	SourceErr error
}

// Resolve fills in the defaults: the host name, and the source directory
// (chezmoi's default when it has no config file, else the one its config
// names, from `chezmoi dump-config`) when not given; as chezmoi-sync does,
// a source directory inside a repository (.chezmoiroot) becomes the
// repository.
func (f *SyncFlags) Resolve(ctx context.Context, app *cli.App) (Location, error) {
	loc := Location{SourceDir: f.SourceDir, Remote: f.Remote, Branch: f.Branch, Host: f.Hostname}
	if loc.Host == "" {
		loc.Host = app.Hostname()
	}
	if loc.Remote == "" || loc.Branch == "" {
		return loc, exitcode.UsageError(fmt.Errorf("--remote and --branch must not be empty"))
	}
	if loc.SourceDir == "" {
		loc.SourceDir, _ = chezmoi.DefaultSourceDir(app.Getenv) // no chezmoi config file: its default
	}
	if loc.SourceDir == "" {
		q := &chezmoi.Client{Runner: app.Exec, Timeout: 20 * time.Second}
		cfg, err := q.DumpConfig(ctx)
		dir := cfg.SourceDir
		if err == nil && dir == "" {
			err = fmt.Errorf("chezmoi dump-config names no source directory")
		}
		if err != nil {
			loc.SourceErr = fmt.Errorf("cannot ask chezmoi for its source directory (%v); give --source-dir", err)
			if home := app.Getenv("HOME"); home != "" {
				loc.SourceDir = filepath.Join(home, ".local", "share", "chezmoi")
			}
			return loc, nil
		}
		loc.SourceDir = dir
	}
	if abs, err := filepath.Abs(loc.SourceDir); err == nil {
		loc.SourceDir = abs
	}
	loc.SourceDir = chezmoi.WorkTree(loc.SourceDir)
	if st, err := os.Stat(loc.SourceDir); err != nil {
		loc.SourceErr = fmt.Errorf("source directory %s does not exist (run chezmoi init, or give --source-dir)", loc.SourceDir)
	} else if !st.IsDir() {
		loc.SourceErr = fmt.Errorf("source directory %s is not a directory", loc.SourceDir)
	}
	return loc, nil
}
