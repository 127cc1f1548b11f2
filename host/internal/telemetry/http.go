package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Middleware wraps next so that every request gets a server span, named
// after the method and, when an http.ServeMux inside next matched one, the
// route pattern ("POST /mcp"). A W3C traceparent/tracestate sent by the
// client is honoured: the server span joins the client's trace as a child of
// the client's span. The span records the method, scheme, path (never the
// query), route and response status; a 5xx status marks it as an error.
// The response writer passed on keeps http.Flusher and supports
// http.ResponseController, so streaming (SSE) responses work unchanged.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := httpMethod(r.Method)
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(method),
			semconv.URLScheme(scheme),
			semconv.URLPath(r.URL.Path),
		}
		if v, ok := protocolVersion(r.ProtoMajor, r.ProtoMinor); ok {
			attrs = append(attrs, semconv.NetworkProtocolVersion(v))
		}
		ctx, span := t.tracer.Start(ctx, method,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		sw := &statusWriter{ResponseWriter: w}
		r2 := r.WithContext(ctx)
		defer func() {
			if p := recover(); p != nil {
				span.SetStatus(codes.Error, "handler panicked")
				span.End()
				panic(p)
			}
		}()
		next.ServeHTTP(sw, r2)

		if route := patternRoute(r2.Pattern); route != "" {
			span.SetName(method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	})
}

// patternRoute returns the path part of a ServeMux pattern
// ("[METHOD ][HOST]/PATH").
func patternRoute(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[i:]
	}
	return ""
}

// httpMethod maps a request method onto semconv's bounded set.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func protocolVersion(major, minor int) (string, bool) {
	switch {
	case major == 1 && minor == 0:
		return "1.0", true
	case major == 1 && minor == 1:
		return "1.1", true
	case major == 2:
		return "2", true
	case major == 3:
		return "3", true
	}
	return "", false
}

// statusWriter remembers the response status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// HTTPTransport wraps base (http.DefaultTransport when nil) so that every
// outbound request gets a client span, a child of the span in the request's
// context: give plugin HTTP requests the context returned by StartCall and
// their spans nest under the call. A span records only the method, the
// server's host and port, and the response status or an error class; never
// the URL's path or query, headers, bodies or error messages (net/http's
// errors quote the full URL). It does not inject trace context into the
// request: the destination is a third party chosen by the plugin. The span
// ends when the response headers arrive.
func (t *Telemetry) HTTPTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, tracer: t.tracer}
}

type transport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := httpMethod(req.Method)
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method)}
	if req.URL != nil {
		attrs = append(attrs, semconv.ServerAddress(req.URL.Hostname()))
		if port := urlPort(req.URL.Scheme, req.URL.Port()); port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	_, span := tr.tracer.Start(req.Context(), method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		kind := errorClass(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(kind))
		span.SetStatus(codes.Error, kind)
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	return resp, nil
}

func urlPort(scheme, port string) int {
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil {
			return 0
		}
		return p
	}
	switch scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 0
}

// errorClass names the kind of a transport error without its message.
func errorClass(err error) string {
	var dnsErr *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &tlsErr), errors.As(err, &recErr):
		return "tls"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &opErr):
		return "connection"
	}
	return "_OTHER"
}
