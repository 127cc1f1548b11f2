package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxLimit is the largest Rate.Limit accepted.
const MaxLimit = 1_000_000_000

// MinPer and MaxPer bound Rate.Per.
const (
	MinPer = time.Millisecond
	MaxPer = 366 * 24 * time.Hour
)

// Rate is a token-bucket rate: a burst of at most Limit calls, refilled at
// Limit calls per Per.
type Rate struct {
	Limit int
	Per   time.Duration
}

// units are the bare period names ParseRate accepts after the slash.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

// ParseRate parses a rate written LIMIT/PERIOD, such as "60/m", "10/s",
// "1000/h" or "5/d". PERIOD is one of s, m, h and d (or sec, min, hour,
// day), or a Go duration such as "10s" or "1m30s" ("100/10s"). LIMIT is a
// whole number from 1 to MaxLimit and PERIOD lies between MinPer and MaxPer
// and is a whole number of milliseconds.
func ParseRate(s string) (Rate, error) {
	text := strings.TrimSpace(s)
	lim, per, ok := strings.Cut(text, "/")
	if !ok {
		return Rate{}, rateError(s, errors.New("want LIMIT/PERIOD, such as 60/m, 10/s or 1000/h"))
	}
	lim, per = strings.TrimSpace(lim), strings.TrimSpace(per)
	if lim == "" || strings.TrimLeft(lim, "0123456789") != "" {
		return Rate{}, rateError(s, fmt.Errorf("limit %q is not a whole number", lim))
	}
	n, err := strconv.Atoi(lim)
	if err != nil || n > MaxLimit {
		return Rate{}, rateError(s, fmt.Errorf("limit %s is larger than %d", lim, MaxLimit))
	}
	d, ok := units[strings.ToLower(per)]
	if !ok {
		if per == "" || per[0] < '0' || per[0] > '9' {
			return Rate{}, rateError(s, fmt.Errorf("period %q is not s, m, h, d or a duration such as 10s", per))
		}
		d, err = time.ParseDuration(per)
		if err != nil {
			return Rate{}, rateError(s, fmt.Errorf("period %q is not s, m, h, d or a duration such as 10s", per))
		}
	}
	r := Rate{Limit: n, Per: d}
	if err := r.Validate(); err != nil {
		return Rate{}, rateError(s, err)
	}
	return r, nil
}

func rateError(s string, err error) error {
	return fmt.Errorf("ratelimit: invalid rate %q: %w", s, err)
}

// Validate reports whether r is a rate a Limiter accepts: Limit from 1 to
// MaxLimit, Per from MinPer to MaxPer and a whole number of milliseconds.
func (r Rate) Validate() error {
	switch {
	case r.Limit < 1:
		return fmt.Errorf("limit %d is less than 1", r.Limit)
	case r.Limit > MaxLimit:
		return fmt.Errorf("limit %d is larger than %d", r.Limit, MaxLimit)
	case r.Per < MinPer:
		return fmt.Errorf("period %v is shorter than %v", r.Per, MinPer)
	case r.Per > MaxPer:
		return fmt.Errorf("period %v is longer than %v", r.Per, MaxPer)
	case r.Per%time.Millisecond != 0:
		return fmt.Errorf("period %v is not a whole number of milliseconds", r.Per)
	}
	return nil
}

// String formats r the way ParseRate reads it: "60/m", "10/s", "1000/h",
// "5/d", or "100/10s" for other periods.
func (r Rate) String() string {
	var per string
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "m"
	case time.Hour:
		per = "h"
	case 24 * time.Hour:
		per = "d"
	default:
		per = r.Per.String()
	}
	return strconv.Itoa(r.Limit) + "/" + per
}

// interval is the time one token takes to refill, in nanoseconds.
func (r Rate) interval() float64 {
	return float64(r.Per) / float64(r.Limit)
}
