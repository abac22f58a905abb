package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

var t0 = time.Date(2026, 11, 22, 1, 0, 0, 500_000_000, time.UTC)

// t0s is t0 in Unix seconds, worked out independently of the code under test.
var t0s = float64(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC).Unix()) + 0.5

func parseBytes(t *testing.T, data []byte) []Family {
	t.Helper()
	fams, err := Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	return fams
}

func mustLookup(t *testing.T, fams []Family, name string, labels ...string) float64 {
	t.Helper()
	v, ok := Lookup(fams, name, labels...)
	if !ok {
		t.Fatalf("series %s%v missing", name, labels)
	}
	return v
}

func TestSyncMetricsRoundTrip(t *testing.T) {
	t.Parallel()
	rec := &syncstate.Record{
		Status: syncstate.ConflictsPreserved, Start: t0, DurationMS: 4250, Host: "alpha",
		PendingPush: 2, Incoming: 3, LastSuccess: t0.Add(-time.Hour),
		Conflicts: []syncstate.Conflict{{ChangeID: "a"}, {ChangeID: "b"}},
		Skipped:   []string{".bashrc"},
	}
	data, err := Render(SyncFamilies(FromSyncRecord(rec, "alice")))
	if err != nil {
		t.Fatal(err)
	}
	fams := parseBytes(t, data)
	hu := []string{"host", "alpha", "user", "alice"}
	checks := map[string]float64{
		SyncLastRun:      t0s,
		SyncLastSuccess:  t0s - 3600,
		SyncDuration:     4.25,
		SyncConflicts:    2,
		SyncPendingPush:  2,
		SyncIncoming:     3,
		SyncSkippedFiles: 1,
	}
	for name, want := range checks {
		if got := mustLookup(t, fams, name, hu...); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, s := range SyncStatuses {
		want := 0.0
		if s == syncstate.ConflictsPreserved {
			want = 1
		}
		if got := mustLookup(t, fams, SyncOutcome, append(hu, "status", s)...); got != want {
			t.Errorf("outcome{status=%q} = %v, want %v", s, got, want)
		}
	}
	for _, f := range fams {
		if f.Type != "gauge" || f.Help == "" {
			t.Errorf("%s: type %q help %q", f.Name, f.Type, f.Help)
		}
	}
	if len(fams) != 8 {
		t.Errorf("families = %d, want 8", len(fams))
	}
	// Plain decimals, not 1.7953956005e+09: people read these files.
	if !strings.Contains(string(data), fmt.Sprintf(`nixdots_sync_last_run_timestamp_seconds{host="alpha",user="alice"} %d.5`+"\n", int64(t0s))) {
		t.Errorf("timestamp not rendered as a plain decimal:\n%s", data)
	}
}

func TestSyncNeverSucceededIsZero(t *testing.T) {
	t.Parallel()
	data, err := Render(SyncFamilies(SyncRun{Host: "h", User: "u", Start: t0, Status: syncstate.FetchFailed}))
	if err != nil {
		t.Fatal(err)
	}
	fams := parseBytes(t, data)
	if v := mustLookup(t, fams, SyncLastSuccess, "host", "h", "user", "u"); v != 0 {
		t.Fatalf("last success = %v, want 0", v)
	}
	if v := mustLookup(t, fams, SyncOutcome, "host", "h", "user", "u", "status", "fetch-failed"); v != 1 {
		t.Fatalf("fetch-failed = %v", v)
	}
}

func TestRebuildMetricsRoundTrip(t *testing.T) {
	t.Parallel()
	run := RebuildRun{Host: "alpha", Start: t0, Duration: 95 * time.Second, Outcome: "units-failed",
		LastSuccess: t0, Generation: 42, UnitsFailed: 2, HooksFailed: 1, BootPending: true}
	fams := parseBytes(t, mustRender(t, RebuildFamilies(run)))
	h := []string{"host", "alpha"}
	for name, want := range map[string]float64{
		RebuildLastRun: t0s, RebuildLastSuccess: t0s, RebuildDuration: 95,
		RebuildGeneration: 42, RebuildUnitsFailed: 2, RebuildHooksFailed: 1, RebuildBootPending: 1,
	} {
		if got := mustLookup(t, fams, name, h...); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	var ones int
	for _, o := range RebuildOutcomes {
		ones += int(mustLookup(t, fams, RebuildOutcome, "host", "alpha", "status", o))
	}
	if ones != 1 || mustLookup(t, fams, RebuildOutcome, "host", "alpha", "status", "units-failed") != 1 {
		t.Errorf("outcome state set wrong: %d ones", ones)
	}
	// Generation unknown (a failed build): the series is omitted, not 0.
	fams = parseBytes(t, mustRender(t, RebuildFamilies(RebuildRun{Host: "alpha", Outcome: "failed"})))
	if _, ok := Lookup(fams, RebuildGeneration, h...); ok {
		t.Error("generation 0 was written")
	}
}

// An outcome word this package does not know is kept, not dropped.
func TestUnknownOutcomeIsAdded(t *testing.T) {
	t.Parallel()
	fams := parseBytes(t, mustRender(t, RebuildFamilies(RebuildRun{Host: "h", Outcome: "rolled-back"})))
	if v := mustLookup(t, fams, RebuildOutcome, "host", "h", "status", "rolled-back"); v != 1 {
		t.Fatalf("rolled-back = %v", v)
	}
	if v := mustLookup(t, fams, RebuildOutcome, "host", "h", "status", "success"); v != 0 {
		t.Fatalf("success = %v", v)
	}
}

func mustRender(t *testing.T, fams []Family) []byte {
	t.Helper()
	data, err := Render(fams)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRenderEscapesAndSpecialValues(t *testing.T) {
	t.Parallel()
	fams := []Family{{
		Name: "x_total", Help: "line one\nback\\slash", Type: "counter",
		Samples: []Sample{
			{Labels: []Label{{"path", `C:\dir "quoted"` + "\nnext"}}, Value: math.Inf(1)},
			{Labels: []Label{{"path", "b"}}, Value: math.NaN()},
			{Labels: []Label{{"path", "c"}}, Value: -1.5e-7},
		},
	}}
	data := mustRender(t, fams)
	want := "# HELP x_total line one\\nback\\\\slash\n# TYPE x_total counter\n" +
		`x_total{path="C:\\dir \"quoted\"\nnext"} +Inf` + "\n" +
		`x_total{path="b"} NaN` + "\n" +
		`x_total{path="c"} -0.00000015` + "\n"
	if string(data) != want {
		t.Fatalf("render:\n%s\nwant:\n%s", data, want)
	}
	back := parseBytes(t, data)
	if back[0].Help != fams[0].Help || back[0].Samples[0].Labels[0].Value != fams[0].Samples[0].Labels[0].Value ||
		!math.IsInf(back[0].Samples[0].Value, 1) || !math.IsNaN(back[0].Samples[1].Value) || back[0].Samples[2].Value != -1.5e-7 {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestRenderRejectsWhatNodeExporterRejects(t *testing.T) {
	t.Parallel()
	one := func(v float64, ls ...Label) Sample { return Sample{Labels: ls, Value: v} }
	for name, fams := range map[string][]Family{
		"bad metric name":  {{Name: "9lives", Samples: []Sample{one(1)}}},
		"bad label name":   {{Name: "a", Samples: []Sample{one(1, Label{"bad-label", "x"})}}},
		"reserved label":   {{Name: "a", Samples: []Sample{one(1, Label{"__name__", "x"})}}},
		"duplicate family": {{Name: "a"}, {Name: "a"}},
		"duplicate series": {{Name: "a", Samples: []Sample{one(1, Label{"h", "x"}), one(2, Label{"h", "x"})}}},
		"label twice":      {{Name: "a", Samples: []Sample{one(1, Label{"h", "x"}, Label{"h", "y"})}}},
	} {
		if _, err := Render(fams); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"no value":            "a{h=\"x\"}\n",
		"unquoted label":      "a{h=x} 1\n",
		"unterminated label":  "a{h=\"x} 1\n",
		"bad value":           "a 1.2.3\n",
		"duplicate series":    "a{h=\"x\"} 1\na{h=\"x\"} 2\n",
		"duplicate reordered": "a{h=\"x\",u=\"y\"} 1\na{u=\"y\",h=\"x\"} 2\n",
		"type after samples":  "a 1\n# TYPE a gauge\n",
		"second type":         "# TYPE a gauge\n# TYPE a counter\na 1\n",
		"not contiguous":      "a 1\nb 1\na{x=\"1\"} 2\n",
		"unknown type":        "# TYPE a thing\na 1\n",
		"bad escape":          "a{h=\"\\t\"} 1\n",
	} {
		if fams, err := Parse(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parsed %+v", name, fams)
		}
	}
	fams, err := Parse(strings.NewReader("# a plain comment\n\n# HELP a h\n# TYPE a gauge\na 1 1700000000000\n"))
	if err != nil || len(fams) != 1 || fams[0].Samples[0].Value != 1 {
		t.Fatalf("valid text: %+v, %v", fams, err)
	}
}

func TestWriteFileModeAndDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "textfile", "chezmoi-sync-alice.prom")
	if err := WriteFile(path, SyncFamilies(SyncRun{Host: "h", User: "alice", Status: "success"})); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("file mode = %v, want 0644 (node_exporter runs as its own user)", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o755 {
		t.Errorf("created directory mode = %v, want 0755", dst.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	parseBytes(t, data)
	// A render error leaves the previous file untouched.
	if err := WriteFile(path, []Family{{Name: "bad name"}}); err == nil {
		t.Fatal("invalid family written")
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, data) {
		t.Fatal("a failed write changed the file")
	}
}

// Readers (node_exporter) must only ever see a whole file: write two
// versions of different sizes over and over while reading in a loop.
func TestWriteFileIsAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rebuild-smart.prom")
	small := RebuildFamilies(RebuildRun{Host: "h", Outcome: "success", Generation: 1})
	large := RebuildFamilies(RebuildRun{Host: "h", Outcome: "failed", Generation: 2})
	// Pad the large one to many KiB so a torn write would be visible.
	pad := Family{Name: "nixdots_test_padding", Help: "padding", Type: "gauge"}
	for i := 0; i < 2000; i++ {
		pad.Samples = append(pad.Samples, Sample{Labels: []Label{{"i", fmt.Sprint(i)}}, Value: float64(i)})
	}
	large = append(large, pad)
	want := map[string]bool{string(mustRender(t, small)): true, string(mustRender(t, large)): true}
	if err := WriteFile(path, small); err != nil {
		t.Fatal(err)
	}
	// Write and read until each side has done enough of its part while
	// the other ran (a fixed 3 s window could end, on a loaded machine,
	// before 10 slow fsyncs); a minute is a hang.
	const enough = 20
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var writes, reads atomic.Int64
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel() // stop the reader when the writer is done
		for i := 0; ctx.Err() == nil && (writes.Load() < enough || reads.Load() < enough); i++ {
			fams := small
			if i%2 == 0 {
				fams = large
			}
			if err := WriteFile(path, fams); err != nil {
				werr = err
				return
			}
			writes.Add(1)
		}
	}()
	for ctx.Err() == nil {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %d: %v", reads.Load(), err)
		}
		if !want[string(data)] {
			t.Fatalf("read %d saw a partial or foreign file (%d bytes)", reads.Load(), len(data))
		}
		reads.Add(1)
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	if writes.Load() < enough || reads.Load() < enough {
		t.Fatalf("too little overlap in a minute to mean anything: %d writes, %d reads", writes.Load(), reads.Load())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestLastRebuildSuccess(t *testing.T) {
	t.Parallel()
	entries := []history.Entry{
		{Time: t0.Add(-3 * time.Hour), Host: "alpha", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"},
		{Time: t0.Add(-2 * time.Hour), Host: "alpha", Outcome: history.OutcomeUnitsFailed, Source: "rebuild-smart"},
		{Time: t0.Add(-1 * time.Hour), Host: "alpha", Outcome: history.OutcomeFailed, Source: "rebuild-smart"},
		{Time: t0, Host: "beta", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"},
		{Time: t0, Host: "alpha", Outcome: history.OutcomeRolledBack, Source: "rebuild-rollback"},
	}
	if got := LastRebuildSuccess(entries, "alpha"); !got.Equal(t0.Add(-2 * time.Hour)) {
		t.Fatalf("last success = %v", got)
	}
	if got := LastRebuildSuccess(entries, "gamma"); !got.IsZero() {
		t.Fatalf("unknown host: %v", got)
	}
}

// Only a regular file is ever replaced: a FIFO at the path is refused at
// once (no hang) and stays a FIFO; a link's target stays as it was.
func TestWriteFileRefusesNonRegularFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.prom")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.prom")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	fams := SyncFamilies(SyncRun{Host: "h", User: "alice", Status: "success"})
	for path, want := range map[string]string{fifo: "named pipe", link: "symbolic link"} {
		err := WriteFile(path, fams)
		var ue *state.UnsafeError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want a refusal naming it (%s), got %v", path, want, err)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("the FIFO was replaced: %v %v", st, err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
		t.Errorf("the link's target was written: %q", data)
	}
}
