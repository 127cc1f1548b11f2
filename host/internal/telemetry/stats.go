package telemetry

import (
	"math"
	"sort"
	"time"
)

// ToolStats are one tool's figures since the process started, for the
// status page.
type ToolStats struct {
	// Tool is the tool's metric label value ("_other" gathers tools past
	// the label cap).
	Tool string
	// Plugin is the plugin that served the tool's latest call.
	Plugin string
	// Calls counts ended calls; Errors those whose result was not ok.
	Calls, Errors uint64
	// RateLimited counts RecordRateLimited calls for the tool.
	RateLimited uint64
	// InFlight is the number of calls started and not yet ended.
	InFlight int64
	// Outcomes counts ended calls by result.
	Outcomes map[string]uint64
	// P50, P90 and P99 are latency percentiles of ended calls (total
	// time, within about 5%); Max is the slowest call. All are zero
	// before the first call ends.
	P50, P90, P99, Max time.Duration
}

// ErrorRate returns Errors divided by Calls, or 0 before any call.
func (s ToolStats) ErrorRate() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Calls)
}

// Stats returns every tool's figures, sorted by tool name.
func (t *Telemetry) Stats() []ToolStats {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	out := make([]ToolStats, 0, len(t.stats))
	for tool, s := range t.stats {
		ts := ToolStats{
			Tool:        tool,
			Plugin:      s.plugin,
			Calls:       s.lat.n,
			Errors:      s.errors,
			RateLimited: s.rateLimited,
			InFlight:    s.inFlight,
			Outcomes:    make(map[string]uint64, len(s.outcomes)),
			P50:         s.lat.quantile(0.50),
			P90:         s.lat.quantile(0.90),
			P99:         s.lat.quantile(0.99),
			Max:         s.lat.max,
		}
		for k, v := range s.outcomes {
			ts.Outcomes[k] = v
		}
		out = append(out, ts)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out
}

// toolStats runs f on tool's statistics under the lock, creating them on
// first use. plugin, when not empty, becomes the tool's plugin.
func (t *Telemetry) toolStats(tool, plugin string, f func(*toolStats)) {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	s := t.stats[tool]
	if s == nil {
		s = &toolStats{outcomes: make(map[string]uint64)}
		t.stats[tool] = s
	}
	if plugin != "" {
		s.plugin = plugin
	}
	f(s)
}

type toolStats struct {
	plugin      string
	errors      uint64
	rateLimited uint64
	inFlight    int64
	outcomes    map[string]uint64
	lat         latency
}

func (s *toolStats) record(result string, d time.Duration) {
	s.outcomes[result]++
	if result != ResultOK {
		s.errors++
	}
	s.lat.add(d)
}

// latency is a fixed-size log-scale histogram of durations: bucket i holds
// durations in [latBase·g^i, latBase·g^(i+1)) with g = 2^(1/latPerOctave),
// so that a percentile is known within half a bucket (about 4.4%) in a few
// KiB per tool, however many calls there are. Durations below latBase land
// in bucket 0 and above the top in the last bucket; min and max are exact.
type latency struct {
	n        uint64
	min, max time.Duration
	buckets  [latBuckets]uint64
}

const (
	latBase      = time.Microsecond
	latPerOctave = 8
	latBuckets   = 34 * latPerOctave // 1µs · 2^34 ≈ 4.8 hours
)

func latIndex(d time.Duration) int {
	if d <= latBase {
		return 0
	}
	i := int(math.Floor(math.Log2(float64(d)/float64(latBase)) * latPerOctave))
	return min(max(i, 0), latBuckets-1)
}

func (l *latency) add(d time.Duration) {
	if l.n == 0 || d < l.min {
		l.min = d
	}
	if d > l.max {
		l.max = d
	}
	l.n++
	l.buckets[latIndex(d)]++
}

// quantile returns the nearest-rank q-quantile: the geometric middle of the
// bucket holding it, clamped to the exact minimum and maximum.
func (l *latency) quantile(q float64) time.Duration {
	if l.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(l.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range l.buckets {
		seen += c
		if seen >= rank {
			mid := time.Duration(float64(latBase) * math.Exp2((float64(i)+0.5)/latPerOctave))
			return min(max(mid, l.min), l.max)
		}
	}
	return l.max
}
