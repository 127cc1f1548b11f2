package capabilities

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"1000000", 1000000},
		{"123B", 123},
		{"512KiB", 512 << 10},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"1GiB", 1 << 30},
		{"2TiB", 2 << 40},
		{"1kB", 1000},
		{"1KB", 1000},
		{"10MB", 10e6},
		{"3GB", 3e9},
		{"1TB", 1e12},
		{"1.5MiB", 3 << 19},
		{"0.5KiB", 512},
		{"007B", 7},
	}
	for _, tt := range good {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty size (want a size such as 64MiB)"},
		{"MiB", `"MiB" is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{"-1", `"-1" is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{"+1", `"+1" is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{"1.", `"1." is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{".5MiB", `".5MiB" is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{"1.2.3MiB", `"1.2.3MiB" is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{"1e6", `"1e6" has an unknown unit "e6" (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)`},
		{"1_000", `"1_000" has an unknown unit "_000" (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)`},
		{"64M", `"64M" has an ambiguous unit "M" (want KiB, MiB, GiB for powers of 1024 or kB, MB, GB for powers of 1000)`},
		{"64k", `"64k" has an ambiguous unit "k" (want KiB, MiB, GiB for powers of 1024 or kB, MB, GB for powers of 1000)`},
		{"64mib", `"64mib" has an unknown unit "mib" (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)`},
		{"64  MiB", `"64  MiB" has an unknown unit " MiB" (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)`},
		{"0.1KiB", `"0.1KiB" is not a whole number of bytes`},
		{"9223372036854775808", `"9223372036854775808" is too large`},
		{"8388608TiB", `"8388608TiB" is too large`},
		{"123456789012345678901234567890123456789012345678901234567890123456789", "size is too long (want a size such as 64MiB)"},
	}
	for _, tt := range bad {
		_, err := ParseSize(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSize(%q) error = %v; want %s", tt.in, err, tt.want)
		}
	}
	if got, err := ParseSize("9223372036854775807"); err != nil || got != math.MaxInt64 {
		t.Errorf("max int64: %d, %v", got, err)
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1234, "1234B"},
		{1024, "1KiB"},
		{1000, "1kB"},
		{64 << 20, "64MiB"},
		{1 << 30, "1GiB"},
		{3 << 19, "1536KiB"},
		{10e6, "10MB"},
		{1000000, "1MB"},
		{1 << 40, "1TiB"},
		{-5, "-5B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in >= 0 {
			if back, err := ParseSize(tt.in.String()); err != nil || back != tt.in {
				t.Errorf("round trip %d: %d, %v", int64(tt.in), back, err)
			}
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"10s", 10 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"2m", 2 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1.5s", 1500 * time.Millisecond},
		{"0", 0},
	}
	for _, tt := range good {
		got, err := ParseDuration(tt.in)
		if err != nil || time.Duration(got) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty duration (want a duration such as 10s)"},
		{"10", `"10" has no unit (want a duration such as 10s or 10ms)`},
		{"1.5", `"1.5" has no unit (want a duration such as 1.5s or 1.5ms)`},
		{"10 s", `"10 s" is not a duration (want a duration such as 10s, 250ms or 2m)`},
		{"1d", `"1d" is not a duration (want a duration such as 10s, 250ms or 2m)`},
		{"99999999999h", `"99999999999h" is not a duration (want a duration such as 10s, 250ms or 2m)`},
	}
	for _, tt := range bad {
		_, err := ParseDuration(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseDuration(%q) error = %v; want %s", tt.in, err, tt.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{10 * time.Second, "10s"},
		{250 * time.Millisecond, "250ms"},
		{2 * time.Minute, "2m"},
		{90 * time.Second, "90s"},
		{2 * time.Hour, "2h"},
		{1500 * time.Microsecond, "1500us"},
		{1500 * time.Nanosecond, "1.5µs"},
		{-time.Second, "-1s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.in).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseDuration(Duration(tt.in).String()); err != nil || time.Duration(back) != tt.in {
			t.Errorf("round trip %v: %v, %v", tt.in, back, err)
		}
	}
}

func TestUnitsYAMLAndJSON(t *testing.T) {
	var v struct {
		S Size     `yaml:"s" json:"s"`
		N Size     `yaml:"b" json:"b"`
		D Duration `yaml:"d" json:"d"`
	}
	if err := yaml.Unmarshal([]byte("s: 64MiB\nb: 1000\nd: 10s\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.S != 64<<20 || v.N != 1000 || v.D != Duration(10*time.Second) {
		t.Errorf("yaml decode: %+v", v)
	}
	out, _ := yaml.Marshal(v)
	if string(out) != "s: 64MiB\nb: 1kB\nd: 10s\n" {
		t.Errorf("yaml encode: %q", out)
	}
	if err := yaml.Unmarshal([]byte("s: [1]\n"), &v); err == nil {
		t.Error("yaml: a list was accepted as a size")
	}
	if err := yaml.Unmarshal([]byte("d: 10\n"), &v); err == nil {
		t.Error("yaml: a bare number was accepted as a duration")
	}
	if err := json.Unmarshal([]byte(`{"s":"1GiB","b":5,"d":"2m"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.S != 1<<30 || v.N != 5 || v.D != Duration(2*time.Minute) {
		t.Errorf("json decode: %+v", v)
	}
	js, _ := json.Marshal(v)
	if string(js) != `{"s":"1GiB","b":"5B","d":"2m"}` {
		t.Errorf("json encode: %s", js)
	}
	if err := json.Unmarshal([]byte(`{"d":10}`), &v); err == nil {
		t.Error("json: a number was accepted as a duration")
	}
	if err := json.Unmarshal([]byte(`{"s":true}`), &v); err == nil {
		t.Error("json: a boolean was accepted as a size")
	}
}

func TestLimitsHelpers(t *testing.T) {
	l := Limits{Memory: 8 << 20, Timeout: Duration(time.Hour)}
	got := l.WithDefaults(DefaultLimits)
	want := DefaultLimits
	want.Memory, want.Timeout = 8<<20, Duration(time.Hour)
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
	clamped := got.Clamp(MaxLimits)
	want.Timeout = MaxLimits.Timeout
	if clamped != want {
		t.Errorf("Clamp = %+v, want %+v", clamped, want)
	}
	if c := (Limits{Memory: 5}).Clamp(Limits{}); c.Memory != 5 || c.Timeout != 0 {
		t.Errorf("zero ceiling changed limits: %+v", c)
	}
	if !(Limits{}).IsZero() || l.IsZero() {
		t.Error("IsZero")
	}
	if DefaultLimits.Clamp(MaxLimits) != DefaultLimits {
		t.Error("DefaultLimits exceed MaxLimits")
	}
}
