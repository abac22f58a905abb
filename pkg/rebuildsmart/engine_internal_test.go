package rebuildsmart

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/ui"
)

// fakePhase sleeps d, then returns its outcome and error.
type fakePhase struct {
	name string
	skip string
	d    time.Duration
	out  Outcome
	err  error
	ran  *atomic.Int32
	// meet, when set, makes the phase wait until every phase sharing it has
	// started: phases that do not run side by side never finish.
	meet *sync.WaitGroup
}

func (f fakePhase) Name() string     { return f.name }
func (f fakePhase) Skip(*Run) string { return f.skip }
func (f fakePhase) Run(ctx context.Context, _ *Run) (Outcome, error) {
	if f.ran != nil {
		f.ran.Add(1)
	}
	if f.meet != nil {
		f.meet.Done()
		met := make(chan struct{})
		go func() { f.meet.Wait(); close(met) }()
		select {
		case <-met:
		case <-time.After(10 * time.Second):
			return Outcome{}, errors.New(f.name + ": its stage partners never started: not run in parallel")
		}
	}
	select {
	case <-time.After(f.d):
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
	return f.out, f.err
}

type recHooks struct {
	before, after []string
	veto          string
}

func (h *recHooks) BeforePhase(_ context.Context, _ *Run, p Phase) error {
	h.before = append(h.before, p.Name())
	if p.Name() == h.veto {
		return errors.New("vetoed by hook")
	}
	return nil
}
func (h *recHooks) AfterPhase(_ context.Context, _ *Run, p Phase, res PhaseResult) {
	h.after = append(h.after, p.Name()+"="+res.Status)
}
func (h *recHooks) Finish(context.Context, *Run, *Report) {}

func TestEngineParallelSkipFatal(t *testing.T) {
	var ran atomic.Int32
	var out bytes.Buffer
	eng := &Engine{IO: ui.New(&out, &out, ui.Options{})}
	var meet sync.WaitGroup
	meet.Add(2)
	stages := []Stage{
		{fakePhase{name: "a", d: 10 * time.Millisecond}},
		{fakePhase{name: "b", d: 10 * time.Millisecond, meet: &meet}, fakePhase{name: "c", d: 10 * time.Millisecond, meet: &meet, out: Outcome{Status: ui.Warn, Detail: "meh"}}},
		{fakePhase{name: "d", skip: "not wanted", ran: &ran}},
		{fakePhase{name: "e", err: errors.New("boom")}},
		{fakePhase{name: "f", ran: &ran}},
	}
	res, err := eng.Execute(context.Background(), &Run{}, stages)
	if err == nil || err.Error() != "boom" {
		t.Fatalf("fatal error %v", err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Name+"="+r.Status)
	}
	if !slices.Equal(got, []string{"a=ok", "b=ok", "c=warn", "d=skipped", "e=failed", "f=not-run"}) {
		t.Fatalf("results %v", got)
	}
	if ran.Load() != 0 {
		t.Fatal("a skipped or not-run phase ran")
	}
	if res[1].Number != 2 || res[2].Number != 3 || res[5].Number != 6 {
		t.Fatalf("numbers %+v", res)
	}
	for _, want := range []string{"[ok] Phase 1: a", "[warn] Phase 3: c", ": meh", "[skipped] Phase 4: d: not wanted", "[failed] Phase 5: e", "boom"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEngineHooksVeto(t *testing.T) {
	h := &recHooks{veto: "b"}
	eng := &Engine{Hooks: h}
	res, err := eng.Execute(context.Background(), &Run{}, []Stage{{fakePhase{name: "a"}}, {fakePhase{name: "b"}}, {fakePhase{name: "c"}}})
	if err == nil || !strings.Contains(err.Error(), "vetoed") {
		t.Fatalf("veto not fatal: %v", err)
	}
	if !slices.Equal(h.before, []string{"a", "b"}) || !slices.Equal(h.after, []string{"a=ok"}) {
		t.Fatalf("hooks before %v after %v", h.before, h.after)
	}
	if res[1].Status != ui.Failed || res[2].Status != StatusNotRun {
		t.Fatalf("results %+v", res)
	}
}

func TestEngineCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := (&Engine{}).Execute(ctx, &Run{}, []Stage{{fakePhase{name: "slow", d: 5 * time.Second}}, {fakePhase{name: "next"}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestParseFailedUnits(t *testing.T) {
	cases := map[string][]string{
		"":                                       nil,
		"foo.service loaded failed failed Foo\n": {"foo.service"},
		"● a.service loaded failed failed A\n● b.mount loaded failed failed B\n":                           {"a.service", "b.mount"},
		"  UNIT LOAD ACTIVE SUB DESCRIPTION\nx.service loaded failed failed X\n\n1 loaded units listed.\n": {"x.service"},
	}
	for in, want := range cases {
		if got := ParseFailedUnits(in); !slices.Equal(got, want) {
			t.Errorf("ParseFailedUnits(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "1.5d": 36 * time.Hour, "0": 0, "": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"soon", "-1d", "d", "3x", "107000d", "1e300d", "NaNd", "Infw", "-Infd"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}
