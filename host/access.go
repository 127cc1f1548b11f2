package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/wardenmcp/warden/host/internal/audit"
	"github.com/wardenmcp/warden/host/internal/auth"
	"github.com/wardenmcp/warden/host/internal/ratelimit"
	"github.com/wardenmcp/warden/host/internal/telemetry"
)

// anonymous is the subject recorded when authentication is off.
const anonymous = "anonymous"

// rpcEnvelope is what the access layer reads of a JSON-RPC request: enough
// to know which plugin code it would run, and whether it is a task request.
type rpcEnvelope struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  struct {
		Name      string          `json:"name"`
		URI       string          `json:"uri"`
		Arguments json.RawMessage `json:"arguments"`
		Ref       struct {
			Type string `json:"type"`
			Name string `json:"name"`
			URI  string `json:"uri"`
		} `json:"ref"`
		// Task is the 2025-11-25 task augmentation of tools/call.
		Task json.RawMessage `json:"task"`
		// Meta carries the 2026-07-28 per-request protocol version and
		// client capabilities.
		Meta *mcp.Meta `json:"_meta"`
	} `json:"params"`
}

// inbound is a request as the access layer read it.
type inbound struct {
	env  rpcEnvelope
	body []byte
}

// target is the plugin code a request would run, and what guards it.
type target struct {
	method string
	name   string // served tool or prompt name, or the resource URI
	plugin *Plugin
	scopes []string
}

// resolve finds what a request would run in catalog c; nil for methods that
// run no plugin code (lists, discovery) and for unknown names, which the
// protocol layer answers.
func (c *catalog) resolve(env *rpcEnvelope) *target {
	switch env.Method {
	case "tools/call":
		if st, ok := c.tools[env.Params.Name]; ok {
			return &target{method: env.Method, name: env.Params.Name, plugin: st.plugin, scopes: st.scopes}
		}
	case "prompts/get":
		if p, ok := c.promptOwner[env.Params.Name]; ok {
			return &target{method: env.Method, name: env.Params.Name, plugin: p, scopes: p.Scopes}
		}
	case "resources/read":
		if p := c.resourceOwner(env.Params.URI); p != nil {
			return &target{method: env.Method, name: env.Params.URI, plugin: p, scopes: p.Scopes}
		}
	case "completion/complete":
		ref := env.Params.Ref
		switch ref.Type {
		case "ref/prompt":
			if p, ok := c.promptOwner[ref.Name]; ok {
				return &target{method: env.Method, name: ref.Name, plugin: p, scopes: p.Scopes}
			}
		case "ref/resource":
			p, ok := c.templateOwner[ref.URI]
			if !ok {
				p = c.resourceOwner(ref.URI)
			}
			if p != nil {
				return &target{method: env.Method, name: ref.URI, plugin: p, scopes: p.Scopes}
			}
		}
	}
	return nil
}

func (c *catalog) resourceOwner(uri string) *Plugin {
	if p, ok := c.uriOwner[uri]; ok {
		return p
	}
	for _, t := range c.templates {
		if t.re.MatchString(uri) {
			return t.plugin
		}
	}
	return nil
}

type templateRoute struct {
	re     *regexp.Regexp
	plugin *Plugin
}

// templateRE turns an RFC 6570 level-1 template into a matcher: each
// {var} stands for one or more characters other than '/', '?' and '#'.
func templateRE(tpl string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for {
		i := strings.IndexByte(tpl, '{')
		j := strings.IndexByte(tpl, '}')
		if i < 0 || j < i {
			b.WriteString(regexp.QuoteMeta(tpl))
			break
		}
		b.WriteString(regexp.QuoteMeta(tpl[:i]))
		b.WriteString(`[^/?#]+`)
		tpl = tpl[j+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// access runs the checks that come before any plugin code: authentication,
// scopes, rate limits. It returns the request to pass on (with the
// principal in its context and the body restored) and what it read of it,
// or nil when it has answered the request itself.
func (s *Server) access(w http.ResponseWriter, r *http.Request, c *catalog) (*http.Request, *inbound) {
	start := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, &HTTPError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", s.opts.MaxBodyBytes)})
			return nil, nil
		}
		writeError(w, &HTTPError{Status: http.StatusBadRequest, Message: "could not read the request body: " + err.Error()})
		return nil, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	in := &inbound{body: body}
	_ = json.Unmarshal(body, &in.env) // malformed bodies are the protocol layer's to answer
	env := &in.env
	tgt := c.resolve(env)

	refuse := func(status int, outcome string, msg string) {
		rec := audit.Record{Method: env.Method, Outcome: outcome, Status: status, Error: msg,
			DurationMs: ms(time.Since(start)), BytesIn: len(body), Subject: subjectOf(r.Context())}
		if tgt != nil {
			rec.Tool, rec.Plugin, rec.PluginDigest = tgt.name, tgt.plugin.Name, tgt.plugin.Module.Digest()
			rec.ArgsSHA256 = audit.HashArgs(env.Params.Arguments)
		}
		s.audit(r.Context(), rec)
		if tgt != nil {
			_, call := s.tel.StartCall(r.Context(), telemetry.CallInfo{Method: env.Method, Tool: tgt.name, Plugin: tgt.plugin.Name, Digest: tgt.plugin.Module.Digest(), Subject: rec.Subject})
			call.End(telemetry.Outcome{Result: outcome, BytesIn: len(body)})
		}
	}

	if s.auth == nil {
		if !s.opts.AllowForwarded && forwarded(r) {
			msg := "this server runs without authentication and refuses requests that came through a reverse proxy (a Forwarded or X-Forwarded-* header was seen); configure auth.mode: jwt"
			refuse(http.StatusForbidden, telemetry.ResultForbidden, msg)
			writeError(w, &HTTPError{Status: http.StatusForbidden, Message: msg})
			return nil, nil
		}
	} else {
		p, err := s.auth.Authenticate(r)
		if err != nil {
			var ae *auth.Error
			status := http.StatusServiceUnavailable
			if errors.As(err, &ae) {
				status = ae.Status
			}
			refuse(status, telemetry.ResultUnauthorized, err.Error())
			s.auth.WriteChallenge(w, err)
			return nil, nil
		}
		r = r.WithContext(auth.NewContext(r.Context(), p))
	}
	// The inbound token never goes further than this (no token passthrough).
	r.Header.Del("Authorization")

	if tgt == nil {
		return r, in
	}
	if s.auth != nil {
		p, _ := auth.FromContext(r.Context())
		if !auth.HasScopes(p, tgt.scopes) {
			if s.opts.StepUp {
				err := auth.InsufficientScope(tgt.scopes)
				refuse(http.StatusForbidden, telemetry.ResultForbidden, err.Error())
				s.auth.WriteChallenge(w, err)
				return nil, nil
			}
			// Hidden: indistinguishable from a name that does not exist.
			refuse(http.StatusOK, telemetry.ResultForbidden, "hidden: missing scopes "+strings.Join(tgt.scopes, " "))
			if env.Method == "resources/read" {
				writeRPCError(w, env.ID, -32002, "Resource not found", nil)
				return nil, nil
			}
			return r, in // the tool and prompt filters hide it from the protocol layer
		}
	}
	if env.Method == "prompts/get" {
		var given map[string]any
		_ = json.Unmarshal(env.Params.Arguments, &given)
		for _, name := range c.promptArgs[tgt.name] {
			if _, ok := given[name]; !ok {
				msg := fmt.Sprintf("prompt %s needs argument %q", tgt.name, name)
				refuse(http.StatusOK, telemetry.ResultInvalid, msg)
				writeRPCError(w, env.ID, -32602, msg, nil)
				return nil, nil
			}
		}
	}
	if s.limiter != nil && tgt.plugin.rate != nil {
		subject := subjectOf(r.Context())
		d, err := s.limiter.Allow(r.Context(), ratelimit.Key(subject, tgt.name), *tgt.plugin.rate)
		if err != nil && !d.Degraded {
			s.opts.Logger.ErrorContext(r.Context(), "rate limiter failed", slog.String("error", err.Error()))
			writeRPCError(w, env.ID, -32603, "the rate limiter is unavailable; retry shortly", nil)
			return nil, nil
		}
		if !d.Allowed {
			retry := max(d.RetryAfter, time.Second)
			msg := fmt.Sprintf("rate limit %s exceeded for %s; retry in %s", tgt.plugin.rate, tgt.name, retry.Round(time.Second))
			refuse(http.StatusTooManyRequests, telemetry.ResultRateLimited, msg)
			s.tel.RecordRateLimited(tgt.name)
			w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
			writeRPCErrorStatus(w, http.StatusTooManyRequests, env.ID, -32000, msg, map[string]any{"retryAfterMs": retry.Milliseconds()})
			return nil, nil
		}
		r = r.WithContext(context.WithValue(r.Context(), rateKey{}, d.Backend+":allowed"))
	}
	return r, in
}

type rateKey struct{}

func forwarded(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

func subjectOf(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok && p.Subject != "" {
		return p.Subject
	}
	return anonymous
}

func clientOf(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.ClientID
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *Server) audit(ctx context.Context, rec audit.Record) {
	if s.auditLog == nil {
		return
	}
	if rec.Client == "" {
		rec.Client = clientOf(ctx)
	}
	if err := s.auditLog.Write(rec); err != nil {
		s.opts.Logger.ErrorContext(ctx, "audit log write failed", slog.String("error", err.Error()))
	}
}

func writeRPCError(w http.ResponseWriter, id json.RawMessage, code int, msg string, data any) {
	writeRPCErrorStatus(w, http.StatusOK, id, code, msg, data)
}

func writeRPCErrorStatus(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data any) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	e := map[string]any{"code": code, "message": msg}
	if data != nil {
		e["data"] = data
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": id, "error": e})
}

// visible reports whether the caller in ctx may see something guarded by
// scopes (always, when authentication is off).
func (s *Server) visible(ctx context.Context, scopes []string) bool {
	if s.auth == nil {
		return true
	}
	p, ok := auth.FromContext(ctx)
	return ok && auth.HasScopes(p, scopes)
}
