package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Parse reads the text format back: HELP and TYPE comments, samples with
// optional labels and an optional timestamp (ignored). It is strict where
// node_exporter is strict, so a test that parses a file back also checks
// that node_exporter would accept it: a family's HELP/TYPE come once and
// before its samples, its samples are contiguous, no series repeats.
func Parse(r io.Reader) ([]Family, error) {
	var fams []Family
	index := map[string]int{}
	seriesSeen := map[string]bool{}
	closed := map[string]bool{} // families whose samples are over
	current := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	lineNo := 0
	family := func(name string) *Family {
		i, ok := index[name]
		if !ok {
			index[name] = len(fams)
			fams = append(fams, Family{Name: name, Type: "untyped"})
			i = len(fams) - 1
		}
		return &fams[i]
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d: %s: %q", lineNo, fmt.Sprintf(format, a...), line)
		}
		if strings.HasPrefix(line, "#") {
			fields := strings.Fields(line)
			if len(fields) < 3 || (fields[1] != "HELP" && fields[1] != "TYPE") {
				continue // a plain comment
			}
			name := fields[2]
			if !metricName.MatchString(name) {
				return nil, fail("invalid metric name")
			}
			_, exists := index[name]
			f := family(name)
			if exists && (closed[name] || len(f.Samples) > 0) {
				return nil, fail("%s %s after its samples", fields[1], name)
			}
			switch fields[1] {
			case "HELP":
				if f.Help != "" {
					return nil, fail("second HELP for %s", name)
				}
				rest := strings.TrimPrefix(line, "# HELP "+name)
				f.Help = unescapeHelp(strings.TrimPrefix(rest, " "))
			case "TYPE":
				if len(fields) != 4 {
					return nil, fail("TYPE needs one type")
				}
				switch fields[3] {
				case "counter", "gauge", "untyped", "summary", "histogram":
				default:
					return nil, fail("unknown type %s", fields[3])
				}
				if f.Type != "untyped" {
					return nil, fail("second TYPE for %s", name)
				}
				f.Type = fields[3]
			}
			if current != "" && current != name {
				closed[current] = true
			}
			current = name
			continue
		}
		name, labels, rest, err := parseSeries(line)
		if err != nil {
			return nil, fail("%v", err)
		}
		if closed[name] {
			return nil, fail("samples of %s are not contiguous", name)
		}
		if current != "" && current != name {
			closed[current] = true
		}
		current = name
		key := name + "{" + labelKey(labels) + "}"
		if seriesSeen[key] {
			return nil, fail("duplicate series %s", key)
		}
		seriesSeen[key] = true
		parts := strings.Fields(rest)
		if len(parts) < 1 || len(parts) > 2 {
			return nil, fail("want a value and an optional timestamp")
		}
		v, err := parseValue(parts[0])
		if err != nil {
			return nil, fail("bad value: %v", err)
		}
		if len(parts) == 2 {
			if _, err := strconv.ParseInt(parts[1], 10, 64); err != nil {
				return nil, fail("bad timestamp")
			}
		}
		f := family(name)
		f.Samples = append(f.Samples, Sample{Labels: labels, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return fams, nil
}

func parseValue(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// parseSeries splits `name{a="b",c="d"} rest`.
func parseSeries(line string) (name string, labels []Label, rest string, err error) {
	end := strings.IndexAny(line, "{ \t")
	if end < 0 {
		return "", nil, "", fmt.Errorf("no value")
	}
	name = line[:end]
	if !metricName.MatchString(name) {
		return "", nil, "", fmt.Errorf("invalid metric name %q", name)
	}
	s := line[end:]
	if !strings.HasPrefix(s, "{") {
		return name, nil, s, nil
	}
	s = s[1:]
	seen := map[string]bool{}
	for {
		s = strings.TrimLeft(s, " ")
		if strings.HasPrefix(s, "}") {
			return name, labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return "", nil, "", fmt.Errorf("label without '='")
		}
		ln := strings.TrimSpace(s[:eq])
		if !labelName.MatchString(ln) {
			return "", nil, "", fmt.Errorf("invalid label name %q", ln)
		}
		if seen[ln] {
			return "", nil, "", fmt.Errorf("label %s twice", ln)
		}
		seen[ln] = true
		s = strings.TrimLeft(s[eq+1:], " ")
		if !strings.HasPrefix(s, `"`) {
			return "", nil, "", fmt.Errorf("label %s: value not quoted", ln)
		}
		val, n, err := unquoteLabel(s[1:])
		if err != nil {
			return "", nil, "", fmt.Errorf("label %s: %v", ln, err)
		}
		labels = append(labels, Label{ln, val})
		s = strings.TrimLeft(s[1+n:], " ")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if !strings.HasPrefix(s, "}") {
			return "", nil, "", fmt.Errorf("expected ',' or '}' after label %s", ln)
		}
	}
}

// unquoteLabel reads an escaped label value up to its closing quote and
// returns it with the number of bytes consumed, quote included.
func unquoteLabel(s string) (string, int, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("dangling backslash")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case '\\', '"':
				b.WriteByte(s[i])
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c", s[i])
			}
		case '\n':
			return "", 0, fmt.Errorf("raw newline")
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated value")
}

func unescapeHelp(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case '\\':
				b.WriteByte('\\')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func labelKey(ls []Label) string {
	// Order-independent: {a="1",b="2"} and {b="2",a="1"} are one series.
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + "=" + strconv.Quote(l.Value)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Lookup returns the value of the series name{labels...} (labels as
// alternating name, value), and whether it exists.
func Lookup(fams []Family, name string, labels ...string) (float64, bool) {
	want := make([]Label, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		want = append(want, Label{labels[i], labels[i+1]})
	}
	key := labelKey(want)
	for _, f := range fams {
		if f.Name != name {
			continue
		}
		for _, s := range f.Samples {
			if labelKey(s.Labels) == key {
				return s.Value, true
			}
		}
	}
	return 0, false
}
