package ui

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPlainWhenNotATerminal(t *testing.T) {
	var out, errb bytes.Buffer
	s := New(&out, &errb, Options{Getenv: env(nil)})
	require.False(t, s.Color)
	require.False(t, s.TTY)
	s.Step(OK, "fetch", "2 new commits", 1500*time.Millisecond)
	require.Equal(t, "[ok] fetch (1.5s): 2 new commits\n", out.String())
	require.Empty(t, errb.String())
}

func TestJSONModeSendsHumanTextToStderr(t *testing.T) {
	var out, errb bytes.Buffer
	s := New(&out, &errb, Options{JSON: true, Getenv: env(nil)})
	s.Println("progress")
	require.NoError(t, s.WriteJSON(map[string]int{"a": 1}))
	require.Equal(t, "progress\n", errb.String())
	require.JSONEq(t, `{"a":1}`, out.String())
}

// A real pseudo-terminal is not available in CI; /dev/tty-less checks use
// the decision inputs directly: NO_COLOR, --no-color and systemd all force
// plain output even where stdout would be a terminal.
func TestColourSuppressors(t *testing.T) {
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer f.Close()
	for name, o := range map[string]Options{
		"no-color flag": {NoColor: true, Getenv: env(nil)},
		"NO_COLOR":      {Getenv: env(map[string]string{"NO_COLOR": "1"})},
		"systemd":       {Getenv: env(map[string]string{"JOURNAL_STREAM": "8:1234"})},
	} {
		s := New(f, f, o)
		require.False(t, s.Color, name)
		require.Equal(t, "[warn]", s.Mark(Warn), name)
	}
}

func TestFormatDurationAndAgo(t *testing.T) {
	require.Equal(t, "850ms", FormatDuration(850*time.Millisecond))
	require.Equal(t, "2m05s", FormatDuration(125*time.Second))
	require.Equal(t, "1h01m", FormatDuration(61*time.Minute))
	now := time.Now()
	require.Equal(t, "never", Ago(now, time.Time{}))
	require.Equal(t, "5.0s ago", Ago(now, now.Add(-5*time.Second)))
}

func TestWarningsNameTheProgram(t *testing.T) {
	var out, errb bytes.Buffer
	s := New(&out, &errb, Options{Getenv: env(nil)})
	s.Prefix = "chezmoi-status"
	s.Warnf("state file %s is unreadable", "/x")
	require.Equal(t, "chezmoi-status: warning: state file /x is unreadable\n", errb.String())
}

// On a TTY the live line shows what runs and is erased before every
// finished line; off a TTY nothing but the finished lines is written.
func TestLiveLine(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, &out, Options{Getenv: env(nil)})
	s.TTY = true
	stop := s.StartSpinner()
	s.Running("Phase 2: Upstream sync", true)
	s.Running("Phase 3: Dotfiles", true)
	require.Contains(t, out.String(), "Phase 2: Upstream sync, Phase 3: Dotfiles")
	s.Running("Phase 2: Upstream sync", false)
	s.Step(OK, "Phase 2: Upstream sync", "", 0)
	stop()
	got := out.String()
	require.Contains(t, got, "\r\033[K[ok] Phase 2: Upstream sync\n")
	require.True(t, len(got) > 0 && got[len(got)-1] != ' ')
	require.True(t, bytes.HasSuffix(out.Bytes(), []byte("\r\033[K")), "stop clears the live line: %q", got)

	out.Reset()
	s = New(&out, &out, Options{Getenv: env(nil)})
	stop = s.StartSpinner()
	s.Running("Phase 2: Upstream sync", true)
	s.Step(OK, "Phase 2: Upstream sync", "", 0)
	stop()
	require.Equal(t, "[ok] Phase 2: Upstream sync\n", out.String())
}
