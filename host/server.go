// Package host serves every loaded plugin's tools behind one stateless MCP
// Streamable HTTP endpoint. It knows nothing of how Wasm runs (package
// plugins) or how signatures are checked (package registry).
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host/internal/audit"
	"github.com/wardenmcp/warden/host/internal/auth"
	"github.com/wardenmcp/warden/host/internal/ratelimit"
	"github.com/wardenmcp/warden/host/internal/telemetry"
	"github.com/wardenmcp/warden/plugins"
)

// Version is reported to clients as the server version.
var Version = "0.1.0-dev"

// DefaultMaxBodyBytes caps a request body on the endpoint.
const DefaultMaxBodyBytes = 4 << 20

// Options configure a Server.
type Options struct {
	// Runtime runs the plugins' calls.
	Runtime *plugins.Runtime
	// Endpoint is the MCP path, "/mcp" by default.
	Endpoint string
	// AllowedOrigins lists the browser origins (scheme://host[:port]) that
	// may call the endpoint. A request with any other Origin header gets 403;
	// requests without one (non-browser clients) are allowed.
	AllowedOrigins []string
	// MaxBodyBytes caps request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// Providers resolve the secrets in grants (capabilities.DefaultProviders
	// when nil).
	Providers capabilities.Providers
	// Logger receives the server's own events.
	Logger *slog.Logger
	// PluginLogger receives plugin logs (escaped, capped); nil discards them.
	PluginLogger   *slog.Logger
	PluginLogLevel slog.Level

	// Auth authenticates callers with bearer tokens; nil serves without
	// authentication.
	Auth *AuthConfig
	// StepUp answers a call to a tool the caller's scopes hide with 403
	// insufficient_scope (so clients can ask for more) instead of "not
	// found".
	StepUp bool
	// AllowForwarded serves requests that came through a reverse proxy even
	// without authentication (--insecure-no-auth).
	AllowForwarded bool
	// RateLimits selects where rate-limit counters live; nil keeps them in
	// memory (one replica).
	RateLimits *RateLimitConfig
	// AuditPath is the audit log file ("-" for standard output); empty
	// writes no audit log.
	AuditPath string
	// Telemetry configures traces and metrics; nil still serves metrics at
	// MetricsHandler but exports nothing.
	Telemetry *TelemetryConfig
	// Tasks configures MCP tasks (long tool calls run in the background and
	// polled for); nil keeps task records in this process with the
	// defaults of TaskConfig.
	Tasks *TaskConfig
}

// AuthConfig configures the OAuth 2.1 resource server.
type AuthConfig struct {
	Issuer               string
	Audience             string // this server's canonical resource URI
	JWKSURL              string
	JWKSFile             string
	AuthorizationServers []string
	ScopesSupported      []string
	RolesClaim           string
}

// RateLimitConfig selects the rate-limit backend.
type RateLimitConfig struct {
	Backend       string // "memory" or "redis"
	RedisAddr     string
	RedisPassword string
	OnError       string // "closed" (refuse calls) or "open" (allow them) when Redis fails
}

// TelemetryConfig configures OpenTelemetry export.
type TelemetryConfig struct {
	OTLPEndpoint string
	Headers      map[string]string
	Sampling     *float64
}

// Server is the MCP endpoint plus health checks. Its plugin set can be
// replaced at any time with Swap; calls in flight finish on the set they
// started with.
type Server struct {
	opts     Options
	origins  map[string]bool
	auth     *auth.Authenticator
	limiter  ratelimit.Limiter
	auditLog *audit.Log
	tel      *telemetry.Telemetry
	current  atomic.Pointer[catalog]
	probes   probeCache
	status   atomic.Pointer[Status]
	tasks    *taskRunner
}

// Status is what /readyz reports.
type Status struct {
	Ready   bool           `json:"ready"`
	Loaded  []PluginStatus `json:"plugins"`
	Failed  []PluginStatus `json:"failed,omitempty"`
	Updated time.Time      `json:"updated"`
}

// PluginStatus describes one plugin in Status.
type PluginStatus struct {
	Name   string `json:"name"`
	Digest string `json:"digest,omitempty"`
	Tools  int    `json:"tools,omitempty"`
	Error  string `json:"error,omitempty"`
}

// New returns a Server with no plugins; call Swap to give it some.
func New(opts Options) (*Server, error) {
	if opts.Runtime == nil {
		return nil, errors.New("host: Options.Runtime is required")
	}
	if opts.Endpoint == "" {
		opts.Endpoint = "/mcp"
	}
	if !strings.HasPrefix(opts.Endpoint, "/") {
		return nil, fmt.Errorf("host: endpoint %q must start with /", opts.Endpoint)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Providers == nil {
		opts.Providers = capabilities.DefaultProviders()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, origins: map[string]bool{}}
	for _, o := range opts.AllowedOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("host: allowed origin %q: %w", o, err)
		}
		s.origins[norm] = true
	}
	if err := s.provision(); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	if err := s.Swap(nil, nil); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// provision builds the authenticator, rate limiter, audit log and
// telemetry the options ask for.
func (s *Server) provision() error {
	o := s.opts
	if o.Auth != nil {
		a, err := auth.New(auth.Config{
			Issuer: o.Auth.Issuer, Audience: o.Auth.Audience, JWKSURL: o.Auth.JWKSURL, JWKSFile: o.Auth.JWKSFile,
			AuthorizationServers: o.Auth.AuthorizationServers, ScopesSupported: o.Auth.ScopesSupported, RolesClaim: o.Auth.RolesClaim,
		})
		if err != nil {
			return fmt.Errorf("host: auth: %w", err)
		}
		s.auth = a
	}
	switch rl := o.RateLimits; {
	case rl == nil || rl.Backend == "" || rl.Backend == "memory":
		s.limiter = ratelimit.NewMemory()
	case rl.Backend == "redis":
		l, err := ratelimit.NewRedis(ratelimit.RedisOptions{Addr: rl.RedisAddr, Password: rl.RedisPassword, OnError: rl.OnError, Logger: o.Logger})
		if err != nil {
			return fmt.Errorf("host: rate limits: %w", err)
		}
		s.limiter = l
	default:
		return fmt.Errorf("host: rate limits: backend %q; want memory or redis", rl.Backend)
	}
	if o.AuditPath != "" {
		l, err := audit.Open(o.AuditPath)
		if err != nil {
			return fmt.Errorf("host: %w", err)
		}
		s.auditLog = l
	}
	tc := telemetry.Config{ServiceName: "warden", ServiceVersion: Version}
	if o.Telemetry != nil {
		tc.OTLPEndpoint, tc.Headers, tc.SamplingRatio = o.Telemetry.OTLPEndpoint, o.Telemetry.Headers, o.Telemetry.Sampling
	}
	t, err := telemetry.New(context.Background(), tc)
	if err != nil {
		return fmt.Errorf("host: telemetry: %w", err)
	}
	s.tel = t
	tr, err := newTaskRunner(s, o.Tasks)
	if err != nil {
		return fmt.Errorf("host: tasks: %w", err)
	}
	s.tasks = tr
	return nil
}

// Close stops the tasks running here (see Drain), flushes telemetry and
// closes the audit log, the rate limiter and the task store. It is safe to
// call on a partly provisioned Server.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.tasks != nil {
		errs = append(errs, s.tasks.close(ctx))
	}
	if s.tel != nil {
		errs = append(errs, s.tel.Shutdown(ctx))
	}
	if s.limiter != nil {
		errs = append(errs, s.limiter.Close())
	}
	if s.auditLog != nil {
		errs = append(errs, s.auditLog.Close())
	}
	return errors.Join(errs...)
}

// Drain prepares the Server for shutdown: it refuses new tasks, ends the
// tasks running in this process as failed ("replica … shutting down") so
// that clients polling any replica learn it at once, and answers pending
// tasks/result requests with an error that tells the client to ask again
// (another replica). It waits for the stopped calls to record how they
// ended, until ctx is done. Call it before shutting the HTTP server down;
// Close calls it too.
func (s *Server) Drain(ctx context.Context) {
	if s.tasks != nil {
		s.tasks.drain(ctx)
	}
}

// ReopenAudit reopens the audit log file, for rotation (SIGHUP).
func (s *Server) ReopenAudit() error {
	if s.auditLog == nil {
		return nil
	}
	return s.auditLog.Reopen()
}

// MetricsHandler serves the metrics in Prometheus text format (for the
// admin listener).
func (s *Server) MetricsHandler() http.Handler { return s.tel.MetricsHandler() }

// Swap replaces the served plugins with set. failed lists plugins that could
// not be loaded (reported by /readyz, which then answers 503). When set is
// inconsistent (name collisions, unknown tools in overrides) Swap returns
// the error and keeps serving the previous set.
func (s *Server) Swap(set []*Plugin, failed []PluginStatus) error {
	c, err := s.buildCatalog(set)
	if err != nil {
		return err
	}
	st := &Status{Ready: len(failed) == 0, Failed: failed, Updated: time.Now().UTC()}
	for _, p := range set {
		n := 0
		for _, t := range c.tools {
			if t.plugin == p {
				n++
			}
		}
		st.Loaded = append(st.Loaded, PluginStatus{Name: p.Name, Digest: p.Module.Digest(), Tools: n})
	}
	s.current.Store(c)
	s.status.Store(st)
	return nil
}

// Status returns the current load status.
func (s *Server) Status() Status { return *s.status.Load() }

// ServeHTTP routes the endpoint, /healthz and /readyz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "/readyz":
		st := s.Status()
		code := http.StatusOK
		if !st.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, st)
		return
	case s.opts.Endpoint:
		s.tel.Middleware(http.HandlerFunc(s.serveMCP)).ServeHTTP(w, r)
		return
	}
	if s.auth != nil && strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") {
		for _, p := range auth.MetadataPaths(s.opts.Endpoint) {
			if r.URL.Path == p {
				s.auth.MetadataHandler().ServeHTTP(w, r)
				return
			}
		}
	}
	writeError(w, &HTTPError{Status: http.StatusNotFound, Message: fmt.Sprintf("no such path %s; the MCP endpoint is %s", r.URL.Path, s.opts.Endpoint)})
}

func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		norm, err := normalizeOrigin(origin)
		if err != nil || !s.origins[norm] {
			writeError(w, &HTTPError{Status: http.StatusForbidden, Message: fmt.Sprintf("origin %q is not allowed; allowedOrigins in warden.yaml lists who may call this endpoint from a browser", origin)})
			return
		}
	}
	if r.Method != http.MethodPost {
		// Stateless: no standalone stream (GET) and no session to end (DELETE).
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &HTTPError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("%s is not supported: this endpoint is stateless and answers only POST", r.Method)})
		return
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		writeError(w, &HTTPError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is %d bytes; the limit is %d", r.ContentLength, s.opts.MaxBodyBytes)})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	c := s.current.Load()
	r, in := s.access(w, r, c)
	if r == nil {
		return
	}
	if s.serveTasks(w, r, c, in) {
		return
	}
	c.http.ServeHTTP(w, r)
}

func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("want scheme://host[:port], got %q", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// HTTPError is an error answered with an HTTP status and a JSON body.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func writeError(w http.ResponseWriter, e *HTTPError) {
	writeJSON(w, e.Status, map[string]string{"error": http.StatusText(e.Status), "message": e.Message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
