// Package telemetry is Warden's observability core: OpenTelemetry traces and
// metrics for every MCP request and plugin call, exported over OTLP/HTTP when
// an endpoint is configured and always served as Prometheus text for
// /metrics, plus per-tool statistics kept in memory for the status page and a
// slog handler that stamps log records with trace and span IDs.
//
// Nothing in this package sets OpenTelemetry's global providers or
// propagators; the host passes a *Telemetry where it is needed.
//
// Metric label values come only from bounded sets, so that a misbehaving
// caller cannot grow the series count without limit: outcomes and error
// kinds are mapped onto a fixed vocabulary (unknown values become "other"),
// tool and plugin values are capped per label (see WithMaxLabelValues), and
// load-failure reasons are capped at 32 distinct values.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// scopeName is the instrumentation scope of every span and instrument.
const scopeName = "github.com/wardenmcp/warden/host"

// DefaultServiceName is the service.name resource attribute used when
// Config.ServiceName is empty.
const DefaultServiceName = "warden"

// DefaultMaxLabelValues is the default number of distinct values kept for
// the tool label and for the plugin label.
const DefaultMaxLabelValues = 1000

// Config is the telemetry section of warden.yaml, already parsed.
type Config struct {
	// OTLPEndpoint is the base URL of an OTLP/HTTP receiver, such as
	// "https://collector.example:4318" or "http://127.0.0.1:4318". Traces
	// are sent to its path plus "/v1/traces" and metrics to its path plus
	// "/v1/metrics". A value without a scheme ("collector:4318") means
	// https, or http when Insecure is set. When it is empty nothing is
	// exported; metrics are still served by MetricsHandler.
	OTLPEndpoint string
	// Headers are sent with every OTLP request (typically an API key).
	Headers map[string]string
	// SamplingRatio is the fraction of traces sampled, in [0, 1]. Nil
	// means 1 (every trace); a pointer to 0 samples none. It is applied to
	// the trace ID of every trace that starts here or comes from a client:
	// a client's sampled flag neither forces nor suppresses sampling.
	SamplingRatio *float64
	// ServiceName is the service.name resource attribute; DefaultServiceName
	// when empty.
	ServiceName string
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// Insecure allows a plain http:// endpoint on a non-loopback host.
	// Loopback http:// endpoints are always allowed, since they do not
	// leave the machine. Without it such an endpoint is an error, so that
	// Headers (which usually carry credentials) are never sent in clear
	// text by accident.
	Insecure bool
	// PlainSubject records the caller's subject on call spans as given
	// (attribute enduser.id) instead of the default pseudonym
	// (enduser.pseudo.id, see SubjectPseudonym). Traces usually leave the
	// host for a third-party backend; the audit log, which shares the
	// trace ID, keeps the subject in clear.
	PlainSubject bool
}

// Option adjusts New, mostly for tests.
type Option func(*options)

type options struct {
	spanExporters  []sdktrace.SpanExporter
	metricReaders  []sdkmetric.Reader
	maxLabelValues int
	httpClient     *http.Client
}

// WithSpanExporter adds a span exporter that receives every sampled span
// synchronously when it ends (tests use tracetest.NewInMemoryExporter). It
// enables tracing even when Config.OTLPEndpoint is empty.
func WithSpanExporter(e sdktrace.SpanExporter) Option {
	return func(o *options) { o.spanExporters = append(o.spanExporters, e) }
}

// WithMetricReader adds a metric reader next to the ones New creates itself
// (tests use sdkmetric.NewManualReader).
func WithMetricReader(r sdkmetric.Reader) Option {
	return func(o *options) { o.metricReaders = append(o.metricReaders, r) }
}

// WithMaxLabelValues caps the number of distinct values of the tool and
// plugin metric labels; values past the cap (and names with characters
// outside [A-Za-z0-9_.-/]) are recorded as "_other". The default is
// DefaultMaxLabelValues.
func WithMaxLabelValues(n int) Option {
	return func(o *options) { o.maxLabelValues = n }
}

// WithOTLPHTTPClient sets the HTTP client the OTLP exporters use, for
// example one with a custom TLS configuration.
func WithOTLPHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// Telemetry holds Warden's tracer and meter providers, its instruments and
// its in-memory statistics. It is safe for concurrent use.
type Telemetry struct {
	tp         *sdktrace.TracerProvider
	mp         *sdkmetric.MeterProvider
	tracer     trace.Tracer
	promReader *sdkmetric.ManualReader
	propagator propagation.TextMapPropagator

	plainSubject bool
	now          func() time.Time

	calls         metric.Int64Counter
	callErrors    metric.Int64Counter
	duration      metric.Float64Histogram
	inFlight      metric.Int64UpDownCounter
	memory        metric.Int64Histogram
	rateLimited   metric.Int64Counter
	loadFailures  metric.Int64Counter
	tools         *labelSet
	plugins       *labelSet
	reasons       *labelSet
	extraOutcomes *labelSet

	statsMu sync.Mutex
	stats   map[string]*toolStats

	scrapeMu     sync.Mutex
	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds the providers and instruments described by cfg. With no
// OTLPEndpoint and no WithSpanExporter option, spans are not recorded at all
// (they still carry IDs, so logs and the audit log can name the client's
// trace), and metrics are only served by MetricsHandler.
func New(ctx context.Context, cfg Config, opts ...Option) (*Telemetry, error) {
	o := options{maxLabelValues: DefaultMaxLabelValues}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxLabelValues < 1 {
		return nil, errors.New("telemetry: WithMaxLabelValues needs a positive count")
	}
	ratio := 1.0
	if cfg.SamplingRatio != nil {
		ratio = *cfg.SamplingRatio
		if ratio != ratio || ratio < 0 || ratio > 1 { // ratio != ratio: NaN
			return nil, fmt.Errorf("telemetry: sampling ratio %v is not in [0, 1]", ratio)
		}
	}
	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(cfg.ServiceVersion))
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	var otlp *otlpTarget
	if cfg.OTLPEndpoint != "" {
		otlp, err = parseEndpoint(cfg.OTLPEndpoint, cfg.Insecure)
		if err != nil {
			return nil, err
		}
	}

	// Traces.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporting := otlp != nil || len(o.spanExporters) > 0
	if exporting {
		s := sdktrace.TraceIDRatioBased(ratio)
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(s,
			sdktrace.WithRemoteParentSampled(s),
			sdktrace.WithRemoteParentNotSampled(s))))
	} else {
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	for _, e := range o.spanExporters {
		tpOpts = append(tpOpts, sdktrace.WithSyncer(e))
	}
	if otlp != nil {
		topts := []otlptracehttp.Option{
			otlptracehttp.WithEndpoint(otlp.host),
			otlptracehttp.WithURLPath(otlp.path + "/v1/traces"),
			otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		}
		if otlp.insecure {
			topts = append(topts, otlptracehttp.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			topts = append(topts, otlptracehttp.WithHeaders(cfg.Headers))
		}
		if o.httpClient != nil {
			topts = append(topts, otlptracehttp.WithHTTPClient(o.httpClient))
		}
		exp, err := otlptracehttp.New(ctx, topts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	// Metrics.
	promReader := sdkmetric.NewManualReader()
	mpOpts := []sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(promReader),
		// Our own label caps bound every instrument's series well below
		// this; the SDK's default (2000) could otherwise fold real series
		// into an overflow series first.
		sdkmetric.WithCardinalityLimit(max(2000, o.maxLabelValues*(len(knownResults)+maxExtraOutcomes+maxReasons))),
	}
	for _, r := range o.metricReaders {
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	if otlp != nil {
		mopts := []otlpmetrichttp.Option{
			otlpmetrichttp.WithEndpoint(otlp.host),
			otlpmetrichttp.WithURLPath(otlp.path + "/v1/metrics"),
			otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression),
		}
		if otlp.insecure {
			mopts = append(mopts, otlpmetrichttp.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			mopts = append(mopts, otlpmetrichttp.WithHeaders(cfg.Headers))
		}
		if o.httpClient != nil {
			mopts = append(mopts, otlpmetrichttp.WithHTTPClient(o.httpClient))
		}
		exp, err := otlpmetrichttp.New(ctx, mopts...)
		if err != nil {
			_ = tp.Shutdown(ctx)
			return nil, fmt.Errorf("telemetry: OTLP metric exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)

	t := &Telemetry{
		tp:            tp,
		mp:            mp,
		tracer:        tp.Tracer(scopeName),
		promReader:    promReader,
		propagator:    propagation.TraceContext{},
		plainSubject:  cfg.PlainSubject,
		now:           time.Now,
		tools:         newLabelSet(o.maxLabelValues, validName),
		plugins:       newLabelSet(o.maxLabelValues, validName),
		reasons:       newLabelSet(maxReasons, validReason),
		extraOutcomes: newLabelSet(maxExtraOutcomes, validReason),
		stats:         make(map[string]*toolStats),
	}
	if err := t.instruments(); err != nil {
		_ = tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
		return nil, err
	}
	return t, nil
}

// Shutdown flushes pending spans and metrics to the exporters and stops
// them. Later calls return the first call's result. After Shutdown, spans
// and measurements are dropped, MetricsHandler answers 503 and Stats keeps
// answering with what was recorded before.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		t.shutdownErr = errors.Join(t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
	})
	return t.shutdownErr
}

// Tracer returns the tracer for Warden's own spans.
func (t *Telemetry) Tracer() trace.Tracer { return t.tracer }

// otlpTarget is a parsed OTLP endpoint.
type otlpTarget struct {
	host     string // host:port
	path     string // base path without a trailing slash
	insecure bool
}

// parseEndpoint checks an OTLP base URL and decides whether it may be
// reached over plain HTTP.
func parseEndpoint(endpoint string, insecure bool) (*otlpTarget, error) {
	raw := endpoint
	if !strings.Contains(raw, "://") {
		if insecure {
			raw = "http://" + raw
		} else {
			raw = "https://" + raw
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP endpoint %q: %w", endpoint, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("telemetry: OTLP endpoint %q: want scheme://host[:port][/path]", endpoint)
	}
	tgt := &otlpTarget{host: u.Host, path: strings.TrimSuffix(u.Path, "/")}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("telemetry: OTLP endpoint %q is plain http to a non-loopback host; use https or set insecure", endpoint)
		}
		tgt.insecure = true
	default:
		return nil, fmt.Errorf("telemetry: OTLP endpoint %q: scheme must be http or https", endpoint)
	}
	return tgt, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
