package rebuildsmart

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/ui"
)

// progress summarises nix's own build output on the live line: the time
// since the build started and what nix is building or fetching now. It is
// an io.Writer for runner.Cmd.Stream. On a non-TTY (systemd, a pipe) it
// shows nothing: the finished-phase lines stay as they were.
type progress struct {
	io      *ui.Streams
	start   time.Time
	mu      sync.Mutex
	current string
	partial []byte
	done    chan struct{}
	once    sync.Once
}

func (r *Run) progress() *progress {
	p := &progress{io: r.IO, start: time.Now(), done: make(chan struct{})}
	if r.IO.TTY {
		go p.tick()
	}
	return p
}

func (p *progress) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	what := p.current
	p.mu.Unlock()
	text := ui.FormatDuration(time.Since(p.start).Round(time.Second))
	if what != "" {
		text += ", " + what
	}
	p.io.Detail(text)
}

func (p *progress) stop() {
	p.once.Do(func() {
		close(p.done)
		p.io.Detail("")
	})
}

// Write takes nix's stderr and keeps the last activity line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		if what := Activity(string(p.partial[:i])); what != "" {
			p.current = what
		}
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

var (
	buildingRe = regexp.MustCompile(`building '(/nix/store/[^']+)'`)
	copyingRe  = regexp.MustCompile(`copying path '(/nix/store/[^']+)' from '([^']+)'`)
	storeName  = regexp.MustCompile(`^[0-9a-z]{32}-(.+?)(\.drv)?$`)
)

// Activity turns one line of nix's build output into what it says nix is
// doing ("building hello-2.12", "fetching glibc-2.39 from cache.nixos.org");
// "" for other lines.
func Activity(line string) string {
	if m := buildingRe.FindStringSubmatch(line); m != nil {
		return "building " + pkgName(m[1])
	}
	if m := copyingRe.FindStringSubmatch(line); m != nil {
		host := m[2]
		if i := strings.Index(host, "://"); i >= 0 {
			host = strings.TrimSuffix(host[i+3:], "/")
		}
		return fmt.Sprintf("fetching %s from %s", pkgName(m[1]), host)
	}
	if strings.HasPrefix(line, "evaluating") || strings.Contains(line, "evaluating derivation") {
		return "evaluating"
	}
	return ""
}

func pkgName(storePath string) string {
	base := filepath.Base(storePath)
	if m := storeName.FindStringSubmatch(base); m != nil {
		return m[1]
	}
	return base
}

// nomBuild is cmd through nix-output-monitor (`nom build ...`, the same
// arguments) when nom is installed and a person watches a terminal: nom
// draws its own tree of builds, so the live line steps aside.
func (r *Run) nomBuild(cmd runner.Cmd) (runner.Cmd, func(), bool) {
	if !r.IO.TTY || !has(r, "nom") || len(cmd.Args) == 0 || cmd.Args[0] != "build" {
		return cmd, nil, false
	}
	cmd.Name = "nom"
	cmd.Stream = r.IO.Err
	return cmd, r.IO.Pause(), true
}

func has(r *Run, tool string) bool {
	_, err := runner.LookPath(tool, r.App.Environ)
	return err == nil
}
