// Package benchsuite holds the suite-wide benchmarks nobody else owns
// (syncs with 1, 10 and 100 changed files; the 5,000-file, 10,000-commit
// no-op sync against the 50-file one; each binary's start-up time) and the
// reader behind scripts/bench, which runs every benchmark of the suite and
// prints their ratios as one table.
package benchsuite

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Metric is one value a benchmark reported (b.ReportMetric or ns/op).
type Metric struct {
	Package string
	Bench   string // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	Unit    string
	Value   float64
}

// IsRatio reports whether a unit is a dimensionless ratio: the figures the
// suite promises are ratios, because absolute times depend on the machine.
func (m Metric) IsRatio() bool {
	u := m.Unit
	switch {
	case strings.HasSuffix(u, "/op"), strings.HasSuffix(u, "-ms"), strings.HasPrefix(u, "ms/"),
		u == "subprocs", u == "subprocesses", u == "commands", strings.HasSuffix(u, "-count"):
		return false
	}
	return strings.Contains(u, "/") || strings.HasPrefix(u, "x-") || strings.Contains(u, "ratio")
}

// Parse reads `go test -bench` output (several packages in a row). Lines
// other than benchmark results are skipped; "pkg:" lines set the package.
func Parse(r io.Reader) ([]Metric, error) {
	var out []Metric
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		// name, iterations, then value/unit pairs
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			out = append(out, Metric{Package: shortPkg(pkg), Bench: name, Unit: f[i+1], Value: v})
		}
	}
	return out, sc.Err()
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/nixdots/nixdots/")
}

// Targets are the limits the issues set, by unit; a row with a target
// says whether it is met.
var Targets = map[string]struct {
	Max  float64
	Text string
}{
	"x-vs-raw": {1.1, "<= 1.10"},
}

// Pairs are benchmarks that report plain ns/op side by side (the thing and
// its baseline); the table shows their quotient as a ratio.
var Pairs = []struct{ Package, Bench, Base, Unit string }{
	{"pkg/metrics", "WriteFileAtomic", "WriteFilePlain", "atomic/plain"},
}

// Derive adds the Pairs' ratios to ms.
func Derive(ms []Metric) []Metric {
	nsop := map[string]float64{}
	for _, m := range ms {
		if m.Unit == "ns/op" {
			nsop[m.Package+" "+m.Bench] = m.Value
		}
	}
	for _, p := range Pairs {
		a, okA := nsop[p.Package+" "+p.Bench]
		b, okB := nsop[p.Package+" "+p.Base]
		if okA && okB && b > 0 {
			ms = append(ms, Metric{Package: p.Package, Bench: p.Bench, Unit: p.Unit, Value: a / b})
		}
	}
	return ms
}

// Render prints the ratios as a table (then, with all, every other metric
// too), sorted by package and benchmark.
func Render(w io.Writer, ms []Metric, all bool) {
	ms = Derive(ms)
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Package != ms[j].Package {
			return ms[i].Package < ms[j].Package
		}
		return ms[i].Bench < ms[j].Bench
	})
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "package\tbenchmark\tratio\tvalue\ttarget")
	for _, m := range ms {
		if !m.IsRatio() {
			continue
		}
		target := ""
		if t, ok := Targets[m.Unit]; ok {
			verdict := "met"
			if m.Value > t.Max {
				verdict = "MISSED"
			}
			target = t.Text + " " + verdict
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\n", m.Package, m.Bench, m.Unit, m.Value, target)
	}
	tw.Flush()
	if !all {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "package\tbenchmark\tmetric\tvalue")
	for _, m := range ms {
		if m.IsRatio() || m.Unit == "ns/op" && hasCustom(ms, m) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Package, m.Bench, m.Unit, strconv.FormatFloat(m.Value, 'f', -1, 64))
	}
	tw.Flush()
}

// hasCustom: ns/op of a benchmark that reports its own timings is noise
// (it includes setup work outside the measured pairs).
func hasCustom(ms []Metric, m Metric) bool {
	for _, o := range ms {
		if o.Package == m.Package && o.Bench == m.Bench && o.Unit != "ns/op" && o.Unit != "B/op" && o.Unit != "allocs/op" {
			return true
		}
	}
	return false
}
