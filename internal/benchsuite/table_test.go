package benchsuite

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/nixdots/nixdots/pkg/chezmoisync
cpu: Intel(R) Xeon(R) CPU @ 2.20GHz
BenchmarkNoOpSync/source-path-2         	      10	 310000000 ns/op	         1.04 x-vs-raw	       5.000 subprocs	       310.0 sync-ms	       298.0 raw-ms
BenchmarkNoOpSync/state-tmpfs-2         	      10	 300000000 ns/op	         1.21 x-vs-raw	       4.000 subprocs
PASS
ok  	github.com/nixdots/nixdots/pkg/chezmoisync	12.3s
pkg: github.com/nixdots/nixdots/pkg/rebuildsmart
BenchmarkParallelUpstreamDotfiles-2   	      50	  80000000 ns/op	         1.63 sequential/parallel
BenchmarkBroken-2 garbage
pkg: github.com/nixdots/nixdots/pkg/metrics
BenchmarkWriteFileAtomic-2   	     100	   1500000 ns/op
BenchmarkWriteFilePlain-2    	     100	   1000000 ns/op
`

func TestParseAndRender(t *testing.T) {
	ms, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 12 {
		t.Fatalf("got %d metrics: %+v", len(ms), ms)
	}
	if ms[1].Package != "pkg/chezmoisync" || ms[1].Bench != "NoOpSync/source-path" || ms[1].Unit != "x-vs-raw" || ms[1].Value != 1.04 {
		t.Fatalf("metric 1: %+v", ms[1])
	}
	var b bytes.Buffer
	Render(&b, ms, true)
	out := b.String()
	for _, want := range []string{"x-vs-raw", "1.04", "<= 1.10 met", "1.21", "<= 1.10 MISSED", "sequential/parallel", "1.63", "subprocs", "atomic/plain", "1.50"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	ratios := strings.SplitN(out, "\n\n", 2)[0]
	if strings.Contains(ratios, "subprocs") || strings.Contains(ratios, "ns/op") {
		t.Fatalf("non-ratio in the ratio table:\n%s", ratios)
	}
}
