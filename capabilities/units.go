package capabilities

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Size is a number of bytes. In grants and manifests it is written with a
// unit: binary (KiB, MiB, GiB, TiB), decimal (kB or KB, MB, GB, TB), B, or
// no unit for bytes, as in "64MiB", "10MB" or "1000000".
type Size int64

// sizeUnits are the accepted unit suffixes, in the order String tries them.
var sizeUnits = []struct {
	name string
	n    int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3},
}

func sizeUnit(s string) (int64, bool) {
	switch s {
	case "", "B":
		return 1, true
	case "KB":
		return 1e3, true
	}
	for _, u := range sizeUnits {
		if s == u.name {
			return u.n, true
		}
	}
	return 0, false
}

// ParseSize parses a size such as "64MiB", "512KiB", "1.5GiB", "10MB" or
// "1000000" (bytes). One space is allowed between the number and the unit.
// Negative sizes, sizes that are not a whole number of bytes and sizes that
// do not fit in an int64 are refused.
func ParseSize(s string) (Size, error) {
	if s == "" {
		return 0, errors.New("empty size (want a size such as 64MiB)")
	}
	if len(s) > 64 {
		return 0, errors.New("size is too long (want a size such as 64MiB)")
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], s[i:]
	if strings.HasPrefix(unit, " ") {
		unit = unit[1:]
	}
	if !validDecimal(num) {
		return 0, fmt.Errorf("%q is not a size (want a size such as 64MiB, 10MB or 1000000)", s)
	}
	mult, ok := sizeUnit(unit)
	if !ok {
		switch strings.ToUpper(unit) {
		case "K", "M", "G", "T", "KI", "MI", "GI", "TI":
			return 0, fmt.Errorf("%q has an ambiguous unit %q (want KiB, MiB, GiB for powers of 1024 or kB, MB, GB for powers of 1000)", s, unit)
		}
		return 0, fmt.Errorf("%q has an unknown unit %q (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)", s, unit)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a size (want a size such as 64MiB)", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(n.Int64()), nil
}

// validDecimal reports whether s is digits with at most one decimal point
// that has digits on both sides.
func validDecimal(s string) bool {
	if s == "" {
		return false
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || hasDot && frac == "" || strings.Contains(frac, ".") {
		return false
	}
	return true
}

// String formats the size with the largest unit that divides it exactly,
// preferring binary units: 67108864 is "64MiB", 10000000 is "10MB", and 1234
// is "1234B". ParseSize accepts everything String returns.
func (s Size) String() string {
	if s < 0 {
		return strconv.FormatInt(int64(s), 10) + "B"
	}
	if s > 0 {
		for _, u := range sizeUnits {
			if int64(s)%u.n == 0 {
				return strconv.FormatInt(int64(s)/u.n, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalYAML writes the size in its String form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads a size written as a string or a plain number of bytes.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || !scalarTextual(n) {
		return fmt.Errorf("line %d: want a size such as 64MiB", n.Line)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// MarshalJSON writes the size as a JSON string in its String form.
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a size written as a JSON string or a number of bytes.
func (s *Size) UnmarshalJSON(b []byte) error {
	var str string
	if len(b) > 0 && b[0] != '"' {
		str = string(b)
	} else if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	v, err := ParseSize(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Duration is a length of time written as Go writes durations: "10s",
// "250ms", "2m", "1h30m". A bare number is refused: it has no unit.
type Duration time.Duration

// ParseDuration parses a duration such as "10s", "250ms" or "2m". A number
// without a unit is refused (except "0"), so "10" is not silently ten
// nanoseconds.
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration (want a duration such as 10s)")
	}
	if len(s) > 64 {
		return 0, errors.New("duration is too long (want a duration such as 10s)")
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		return 0, fmt.Errorf("%q has no unit (want a duration such as %ss or %sms)", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want a duration such as 10s, 250ms or 2m)", s)
	}
	return Duration(d), nil
}

// durationUnits are the units String tries, largest first.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second},
	{"ms", time.Millisecond}, {"us", time.Microsecond},
}

// String formats the duration with the largest unit that divides it
// exactly: "10s", "250ms", "2m", "90s". ParseDuration accepts everything
// String returns.
func (d Duration) String() string {
	td := time.Duration(d)
	if td == 0 {
		return "0s"
	}
	if td > 0 && td != math.MinInt64 {
		for _, u := range durationUnits {
			if td%u.d == 0 {
				return strconv.FormatInt(int64(td/u.d), 10) + u.name
			}
		}
	}
	return td.String()
}

// MarshalYAML writes the duration in its String form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration written as a string such as "10s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || !scalarTextual(n) {
		return fmt.Errorf("line %d: want a duration such as 10s", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as a JSON string in its String form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration written as a JSON string such as "10s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return errors.New("want a duration string such as \"10s\"")
	}
	v, err := ParseDuration(str)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
