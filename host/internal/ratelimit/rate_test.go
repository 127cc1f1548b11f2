package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want Rate
		str  string
	}{
		{"60/m", Rate{60, time.Minute}, "60/m"},
		{"10/s", Rate{10, time.Second}, "10/s"},
		{"1000/h", Rate{1000, time.Hour}, "1000/h"},
		{"5/d", Rate{5, 24 * time.Hour}, "5/d"},
		{" 60 / min ", Rate{60, time.Minute}, "60/m"},
		{"1/SEC", Rate{1, time.Second}, "1/s"},
		{"3/hour", Rate{3, time.Hour}, "3/h"},
		{"7/day", Rate{7, 24 * time.Hour}, "7/d"},
		{"100/10s", Rate{100, 10 * time.Second}, "100/10s"},
		{"5/1m30s", Rate{5, 90 * time.Second}, "5/1m30s"},
		{"2/500ms", Rate{2, 500 * time.Millisecond}, "2/500ms"},
		{"1/1m", Rate{1, time.Minute}, "1/m"},
		{"007/s", Rate{7, time.Second}, "7/s"},
		{"1000000000/s", Rate{MaxLimit, time.Second}, "1000000000/s"},
		{"1/8784h", Rate{1, MaxPer}, "1/8784h0m0s"},
	}
	for _, tc := range good {
		got, err := ParseRate(tc.in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.String() != tc.str {
			t.Errorf("ParseRate(%q).String() = %q, want %q", tc.in, got.String(), tc.str)
		}
	}

	bad := []struct {
		in, msg string
	}{
		{"", "want LIMIT/PERIOD"},
		{"60", "want LIMIT/PERIOD"},
		{"60m", "want LIMIT/PERIOD"},
		{"/m", `limit "" is not a whole number`},
		{"x/m", `limit "x" is not a whole number`},
		{"-1/m", `limit "-1" is not a whole number`},
		{"+1/m", `limit "+1" is not a whole number`},
		{"1.5/m", `limit "1.5" is not a whole number`},
		{"0/m", "limit 0 is less than 1"},
		{"1000000001/s", "larger than 1000000000"},
		{"99999999999999999999/s", "larger than 1000000000"},
		{"60/", `period "" is not s, m, h, d`},
		{"60/w", `period "w" is not s, m, h, d`},
		{"60/fortnight", `period "fortnight" is not s, m, h, d`},
		{"60/-1s", `period "-1s" is not s, m, h, d`},
		{"60/10", `period "10" is not s, m, h, d`},
		{"60/m/s", `period "m/s" is not s, m, h, d`},
		{"60/0s", "period 0s is shorter than 1ms"},
		{"60/999us", "period 999µs is shorter than 1ms"},
		{"60/1500us", "not a whole number of milliseconds"},
		{"60/8785h", "longer than 8784h"},
	}
	for _, tc := range bad {
		_, err := ParseRate(tc.in)
		if err == nil {
			t.Errorf("ParseRate(%q) succeeded, want an error containing %q", tc.in, tc.msg)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseRate(%q) = %v, want an error containing %q", tc.in, err, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "ratelimit: invalid rate ") {
			t.Errorf("ParseRate(%q) = %v, want it to name the rate", tc.in, err)
		}
	}
}

func TestRateValidate(t *testing.T) {
	for _, r := range []Rate{{}, {Limit: 1}, {Per: time.Second}, {-1, time.Second}, {1, -time.Second}, {1, time.Second + time.Microsecond}} {
		if err := r.Validate(); err == nil {
			t.Errorf("Rate%+v.Validate() = nil, want an error", r)
		}
	}
	if err := (Rate{1, time.Millisecond}).Validate(); err != nil {
		t.Errorf("1/1ms: %v", err)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"60/m", "10/s", "1000/h", "5/d", "100/10s", "2/500ms", "0/m", "x", "1/1m30s", " 3 / day ", "1/-1s", "9999999999/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if r != (Rate{}) {
				t.Fatalf("ParseRate(%q) failed (%v) but returned %+v", s, err, r)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRate(%q) = %+v, which is invalid: %v", s, r, err)
		}
		again, err := ParseRate(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRate(%q) = %+v; its String %q parses as %+v, %v", s, r, r.String(), again, err)
		}
	})
}
