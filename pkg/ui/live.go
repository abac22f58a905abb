package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
)

// Spinner frames; plain ASCII would do, but every terminal the suite runs in
// (a NixOS console, a terminal emulator) renders these braille cells.
var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// The live line is only ever drawn when Streams.TTY is set: under systemd,
// in a pipe or a log file, progress stays plain finished-step lines.

// Running marks label as in progress (shown on the live line) or, with
// on=false, as finished.
func (s *Streams) Running(label string, on bool) {
	if !s.TTY {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.running = append(s.running, label)
	} else {
		for i, l := range s.running {
			if l == label {
				s.running = append(s.running[:i], s.running[i+1:]...)
				break
			}
		}
	}
	s.drawLocked()
}

// StartSpinner animates the live line until the returned stop is called;
// stop clears the line. On a non-TTY both are no-ops.
func (s *Streams) StartSpinner() (stop func()) {
	if !s.TTY {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(120 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.mu.Lock()
				s.frame++
				s.drawLocked()
				s.mu.Unlock()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		s.mu.Lock()
		s.running = nil
		s.clearLocked()
		s.mu.Unlock()
	}
}

// drawLocked redraws the live line (caller holds mu).
func (s *Streams) drawLocked() {
	s.clearLocked()
	if len(s.running) == 0 {
		return
	}
	if s.paused {
		return
	}
	line := frames[s.frame%len(frames)] + " " + strings.Join(s.running, ", ")
	if s.detail != "" {
		line += ": " + s.detail
	}
	fmt.Fprint(s.Human, line)
	s.drawn = true
}

// clearLocked erases the live line so a finished step's line replaces it.
func (s *Streams) clearLocked() {
	if s.drawn {
		fmt.Fprint(s.Human, "\r\033[K")
		s.drawn = false
	}
}

// Detail sets what the live line says after the running phases' names
// (a long build: "1m12s, building firefox-121.0"); "" clears it.
func (s *Streams) Detail(text string) {
	if !s.TTY {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.detail = brief.Safe(text)
	s.drawLocked()
}

// Pause clears the live line and keeps it away until resume is called:
// while a prompt is on the terminal, or a child draws there itself.
func (s *Streams) Pause() (resume func()) {
	s.mu.Lock()
	s.clearLocked()
	s.paused = true
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.paused = false
		s.mu.Unlock()
	}
}
