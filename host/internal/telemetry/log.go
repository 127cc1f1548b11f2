package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys added by LogHandler.
const (
	LogTraceID = "trace_id"
	LogSpanID  = "span_id"
)

// LogHandler wraps h so that every record logged with a context carrying a
// valid span context gets trace_id and span_id attributes (lowercase hex, as
// in traceparent). They stay at the top level of the record even under
// WithGroup. Records without a span context pass through unchanged. The IDs
// are there whether or not the span was sampled, so a log line can be
// matched with the client's trace and the audit log in any case.
func LogHandler(h slog.Handler) slog.Handler {
	return &logHandler{base: h, inner: h}
}

type logHandler struct {
	base    slog.Handler // the handler given to LogHandler
	inner   slog.Handler // base with ops applied
	ops     []logOp      // WithAttrs/WithGroup calls since base, in order
	grouped bool         // some op is a group
}

type logOp struct {
	group string
	attrs []slog.Attr
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	ids := []slog.Attr{
		slog.String(LogTraceID, sc.TraceID().String()),
		slog.String(LogSpanID, sc.SpanID().String()),
	}
	if !h.grouped {
		r = r.Clone()
		r.AddAttrs(ids...)
		return h.inner.Handle(ctx, r)
	}
	// Put the IDs on the base handler, before any group, and replay the
	// chain so they stay at the top level.
	hh := h.base.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			hh = hh.WithGroup(op.group)
		} else {
			hh = hh.WithAttrs(op.attrs)
		}
	}
	return hh.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(logOp{attrs: attrs}, h.inner.WithAttrs(attrs))
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(logOp{group: name}, h.inner.WithGroup(name))
}

func (h *logHandler) with(op logOp, inner slog.Handler) *logHandler {
	ops := make([]logOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &logHandler{
		base:    h.base,
		inner:   inner,
		ops:     append(ops, op),
		grouped: h.grouped || op.group != "",
	}
}
