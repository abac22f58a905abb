// Package metrics writes the Prometheus text exposition format for
// node_exporter's textfile collector, so a fleet watches its sync and
// rebuild health with the monitoring it already runs. The file is replaced
// atomically (node_exporter never scrapes half a file) and is world-readable
// (node_exporter runs as its own user).
//
// Only the small subset of the format the suite needs is produced: gauges
// with HELP and TYPE lines and labels. Parse reads that subset back, for the
// tests and for anyone who wants to check a file.
package metrics

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/nixdots/nixdots/pkg/state"
)

// FileMode is the mode of metrics files: node_exporter must read them.
const FileMode os.FileMode = 0o644

// Label is one name="value" pair.
type Label struct {
	Name, Value string
}

// Sample is one time series value.
type Sample struct {
	Labels []Label
	Value  float64
}

// Family is a metric with its HELP text, TYPE and samples.
type Family struct {
	Name    string
	Help    string
	Type    string // gauge, counter, untyped
	Samples []Sample
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Render produces the text format. It refuses invalid names, duplicate
// families and duplicate series: node_exporter rejects a whole file for
// any of these, so catching them here is the only place they are visible.
func Render(fams []Family) ([]byte, error) {
	var b bytes.Buffer
	seenFam := map[string]bool{}
	for _, f := range fams {
		if !metricName.MatchString(f.Name) {
			return nil, fmt.Errorf("metric name %q is invalid", f.Name)
		}
		if seenFam[f.Name] {
			return nil, fmt.Errorf("metric %s appears twice", f.Name)
		}
		seenFam[f.Name] = true
		typ := f.Type
		if typ == "" {
			typ = "gauge"
		}
		fmt.Fprintf(&b, "# HELP %s %s\n", f.Name, escapeHelp(f.Help))
		fmt.Fprintf(&b, "# TYPE %s %s\n", f.Name, typ)
		seenSeries := map[string]bool{}
		for _, s := range f.Samples {
			b.WriteString(f.Name)
			var lb strings.Builder
			if len(s.Labels) > 0 {
				lb.WriteByte('{')
				names := map[string]bool{}
				for i, l := range s.Labels {
					if !labelName.MatchString(l.Name) || strings.HasPrefix(l.Name, "__") {
						return nil, fmt.Errorf("metric %s: label name %q is invalid", f.Name, l.Name)
					}
					if names[l.Name] {
						return nil, fmt.Errorf("metric %s: label %s appears twice", f.Name, l.Name)
					}
					names[l.Name] = true
					if i > 0 {
						lb.WriteByte(',')
					}
					fmt.Fprintf(&lb, "%s=\"%s\"", l.Name, escapeLabel(l.Value))
				}
				lb.WriteByte('}')
			}
			if seenSeries[lb.String()] {
				return nil, fmt.Errorf("metric %s: series %s appears twice", f.Name, lb.String())
			}
			seenSeries[lb.String()] = true
			b.WriteString(lb.String())
			b.WriteByte(' ')
			b.WriteString(FormatValue(s.Value))
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

// WriteFile renders fams and replaces path atomically with mode 0644. The
// temporary file starts with a dot and does not end in .prom, so the
// textfile collector never reads it. Only a regular file at path is ever
// replaced: a link, directory, FIFO or device there is a
// *state.UnsafeError and is left as it is.
func WriteFile(path string, fams []Family) error {
	data, err := Render(fams)
	if err != nil {
		return fmt.Errorf("metrics %s: %w", path, err)
	}
	return state.ReplaceFile(path, data, FileMode)
}

// FormatValue renders a sample value the way Prometheus reads it: plain
// decimals (timestamps stay readable), NaN, +Inf, -Inf.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
