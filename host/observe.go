package host

import (
	"context"
	"errors"
	"time"

	"github.com/wardenmcp/warden/host/internal/audit"
	"github.com/wardenmcp/warden/host/internal/tasks"
	"github.com/wardenmcp/warden/host/internal/telemetry"
	"github.com/wardenmcp/warden/plugins"
)

// observation follows one call that runs plugin code: its span, metrics and
// audit line.
type observation struct {
	s      *Server
	ctx    context.Context
	call   *telemetry.Call
	start  time.Time
	rec    audit.Record
	ended  bool
	method string
}

func (s *Server) observe(ctx context.Context, method, name string, p *Plugin, args []byte) *observation {
	o := &observation{s: s, ctx: ctx, start: time.Now(), method: method, rec: audit.Record{
		Subject: subjectOf(ctx), Method: method, Tool: name, Plugin: p.Name, PluginDigest: p.Module.Digest(),
		ArgsSHA256: audit.HashArgs(args), BytesIn: len(args),
	}}
	if v, ok := ctx.Value(rateKey{}).(string); ok {
		o.rec.RateLimit = v
	}
	{
		o.ctx, o.call = s.tel.StartCall(ctx, telemetry.CallInfo{Method: method, Tool: name, Plugin: p.Name, Digest: p.Module.Digest(), Subject: o.rec.Subject})
	}
	return o
}

// end records the outcome. stats is nil when the plugin did not run to
// completion.
func (o *observation) end(stats *plugins.Stats, bytesOut int, isError bool, err error) {
	if o.ended {
		return
	}
	o.ended = true
	result := outcomeOf(err, isError)
	o.rec.Outcome = result
	o.rec.DurationMs = ms(time.Since(o.start))
	o.rec.BytesOut = bytesOut
	if err != nil {
		o.rec.Error = err.Error()
	}
	o.s.audit(o.ctx, o.rec)
	if o.call != nil {
		out := telemetry.Outcome{Result: result, BytesIn: o.rec.BytesIn, BytesOut: bytesOut, Err: err}
		if stats != nil {
			out.Instantiate, out.Execute, out.MemoryBytes, out.Reused = stats.Instantiate, stats.Execute, stats.MemoryBytes, stats.Reused
		}
		o.call.End(out)
	}
}

// outcomeOf names how a call ended, for the audit log and metrics.
func outcomeOf(err error, isError bool) string {
	switch {
	case err == nil && isError:
		return telemetry.ResultToolError
	case err == nil:
		return telemetry.ResultOK
	case errors.Is(err, plugins.ErrTimeout):
		return telemetry.ResultTimeout
	case errors.Is(err, plugins.ErrMemoryLimit):
		return telemetry.ResultMemory
	case errors.Is(err, plugins.ErrOutputLimit):
		return "output_limit"
	case errors.Is(err, plugins.ErrDenied):
		return telemetry.ResultDenied
	case errors.Is(err, plugins.ErrBusy):
		return telemetry.ResultBusy
	case errors.Is(err, plugins.ErrCanceled):
		return telemetry.ResultCanceled
	case errors.Is(err, plugins.ErrTrap), errors.Is(err, plugins.ErrPluginFailed), errors.Is(err, plugins.ErrBadOutput):
		return telemetry.ResultTrap
	case errors.Is(err, plugins.ErrBadArguments), errors.Is(err, plugins.ErrUnknownTool):
		return telemetry.ResultInvalid
	case errors.Is(err, tasks.ErrTooManyOpen):
		return telemetry.ResultRateLimited
	}
	return telemetry.ResultError
}
