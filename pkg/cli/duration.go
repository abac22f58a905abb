package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration flag that also accepts days and weeks ("7d",
// "2w"): the units people think of for input ages and generation ages.
type Duration time.Duration

// UnmarshalText lets kong parse a Duration from the command line, env or config.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// ParseDuration is time.ParseDuration plus the d (24h) and w (7d) units.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			// NaN fails every comparison; the bound keeps the product from
			// overflowing into a negative duration.
			if err != nil || !(n >= 0) || n*float64(u.unit) >= math.MaxInt64 {
				return 0, fmt.Errorf("invalid duration %q (examples: 12h, 7d, 2w)", s)
			}
			return time.Duration(n * float64(u.unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (examples: 12h, 7d, 2w)", s)
	}
	return d, nil
}
