package chezmoisync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

type stateRunner struct{ out string }

func (s stateRunner) Run(context.Context, runner.Cmd) (runner.Result, error) {
	return runner.Result{Stdout: []byte(s.out)}, nil
}

// A file re-add did not take (chezmoi's record does not hold the home
// content afterwards) is waiting, never counted as captured.
func TestVerifyCaptureCountsOnlyWhatChezmoiRecorded(t *testing.T) {
	dir := t.TempDir()
	took, missed := filepath.Join(dir, ".took"), filepath.Join(dir, ".missed")
	require.NoError(t, os.WriteFile(took, []byte("new\n"), 0o644))
	require.NoError(t, os.WriteFile(missed, []byte("new\n"), 0o644))
	sum := sha256.Sum256([]byte("new\n"))
	state := `{"` + took + `": {"contentsSHA256": "` + hex.EncodeToString(sum[:]) + `", "type": "file"},
	           "` + missed + `": {"contentsSHA256": "0000", "type": "file"}}`
	r := &run{rec: &syncstate.Record{}, cm: &chezmoi.Client{Runner: stateRunner{state}}}
	got, err := r.verifyCapture(context.Background(), []string{took, missed})
	require.NoError(t, err)
	require.Equal(t, []string{took}, got)
	require.Len(t, r.rec.Waiting, 1)
	require.Equal(t, missed, r.rec.Waiting[0].Path)
	require.Equal(t, "not-captured", r.rec.Waiting[0].Kind)
}
