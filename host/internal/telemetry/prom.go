package telemetry

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// promContentType is the Prometheus text exposition format, version 0.0.4.
const promContentType = "text/plain; version=0.0.4; charset=utf-8"

// MetricsHandler serves Warden's metrics in the Prometheus text exposition
// format (version 0.0.4), collected from the meter provider at each scrape.
// Counters keep their names (they already end in _total), up-down counters
// become gauges, histograms become _bucket/_sum/_count series. Resource
// attributes and exemplars are left out. It answers GET and HEAD only, and
// 503 after Shutdown. Serve it on the admin listener, not next to the MCP
// endpoint.
func (t *Telemetry) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var rm metricdata.ResourceMetrics
		t.scrapeMu.Lock()
		err := t.promReader.Collect(r.Context(), &rm)
		t.scrapeMu.Unlock()
		if errors.Is(err, sdkmetric.ErrReaderShutdown) {
			http.Error(w, "telemetry is shut down", http.StatusServiceUnavailable)
			return
		}
		if err != nil && len(rm.ScopeMetrics) == 0 {
			http.Error(w, "collecting metrics failed", http.StatusInternalServerError)
			return
		}
		var buf bytes.Buffer
		writeProm(&buf, &rm)
		w.Header().Set("Content-Type", promContentType)
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(buf.Bytes())
		}
	})
}

// writeProm renders rm as Prometheus text, metrics sorted by name and
// series by labels, so that output is stable.
func writeProm(buf *bytes.Buffer, rm *metricdata.ResourceMetrics) {
	var ms []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		ms = append(ms, sm.Metrics...)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	w := bufio.NewWriter(buf)
	defer w.Flush()
	for _, m := range ms {
		if !validMetricName(m.Name) {
			continue
		}
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			writeSum(w, m, d.IsMonotonic, d.DataPoints)
		case metricdata.Sum[float64]:
			writeSum(w, m, d.IsMonotonic, d.DataPoints)
		case metricdata.Gauge[int64]:
			writeSum(w, m, false, d.DataPoints)
		case metricdata.Gauge[float64]:
			writeSum(w, m, false, d.DataPoints)
		case metricdata.Histogram[int64]:
			writeHistogram(w, m, d.DataPoints)
		case metricdata.Histogram[float64]:
			writeHistogram(w, m, d.DataPoints)
		}
	}
}

func writeHeader(w *bufio.Writer, m metricdata.Metrics, typ string) {
	if m.Description != "" {
		w.WriteString("# HELP " + m.Name + " " + escapeHelp(m.Description) + "\n")
	}
	w.WriteString("# TYPE " + m.Name + " " + typ + "\n")
}

func writeSum[N int64 | float64](w *bufio.Writer, m metricdata.Metrics, monotonic bool, dps []metricdata.DataPoint[N]) {
	if len(dps) == 0 {
		return
	}
	typ := "gauge"
	if monotonic {
		typ = "counter"
	}
	writeHeader(w, m, typ)
	type row struct {
		labels string
		value  float64
	}
	rows := make([]row, len(dps))
	for i, dp := range dps {
		rows[i] = row{labels(dp.Attributes, "", ""), float64(dp.Value)}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].labels < rows[j].labels })
	for _, r := range rows {
		w.WriteString(m.Name + r.labels + " " + formatFloat(r.value) + "\n")
	}
}

func writeHistogram[N int64 | float64](w *bufio.Writer, m metricdata.Metrics, dps []metricdata.HistogramDataPoint[N]) {
	if len(dps) == 0 {
		return
	}
	writeHeader(w, m, "histogram")
	type row struct {
		labels string
		dp     *metricdata.HistogramDataPoint[N]
	}
	rows := make([]row, len(dps))
	for i := range dps {
		rows[i] = row{labels(dps[i].Attributes, "", ""), &dps[i]}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].labels < rows[j].labels })
	for _, r := range rows {
		var cum uint64
		for j, bound := range r.dp.Bounds {
			if j < len(r.dp.BucketCounts) {
				cum += r.dp.BucketCounts[j]
			}
			w.WriteString(m.Name + "_bucket" + labels(r.dp.Attributes, "le", formatFloat(bound)) + " " +
				strconv.FormatUint(cum, 10) + "\n")
		}
		w.WriteString(m.Name + "_bucket" + labels(r.dp.Attributes, "le", "+Inf") + " " +
			strconv.FormatUint(r.dp.Count, 10) + "\n")
		w.WriteString(m.Name + "_sum" + r.labels + " " + formatFloat(float64(r.dp.Sum)) + "\n")
		w.WriteString(m.Name + "_count" + r.labels + " " + strconv.FormatUint(r.dp.Count, 10) + "\n")
	}
}

// labels renders a label set as {k="v",…}, with an extra label appended
// when extraKey is not empty, or "" for an empty set. Attributes come
// sorted by key from the attribute.Set.
func labels(set attribute.Set, extraKey, extraValue string) string {
	if set.Len() == 0 && extraKey == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	it := set.Iter()
	for it.Next() {
		kv := it.Attribute()
		name := labelName(string(kv.Key))
		if name == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(name + `="` + escapeLabel(kv.Value.Emit()) + `"`)
	}
	if extraKey != "" {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(extraKey + `="` + escapeLabel(extraValue) + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

// labelName maps an attribute key onto a legal Prometheus label name, or ""
// when it cannot be one.
func labelName(k string) string {
	if k == "" || strings.HasPrefix(k, "__") {
		return ""
	}
	b := []byte(k)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

func validMetricName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(v string) string { return labelEscaper.Replace(v) }
func escapeHelp(v string) string  { return helpEscaper.Replace(v) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
