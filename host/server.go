// Package host serves every loaded plugin's tools behind one stateless MCP
// Streamable HTTP endpoint. It knows nothing of how Wasm runs (package
// plugins) or how signatures are checked (package registry).
package host

import (
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
}

// Server is the MCP endpoint plus health checks. Its plugin set can be
// replaced at any time with Swap; calls in flight finish on the set they
// started with.
type Server struct {
	opts    Options
	origins map[string]bool
	current atomic.Pointer[catalog]
	status  atomic.Pointer[Status]
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
	if err := s.Swap(nil, nil); err != nil {
		return nil, err
	}
	return s, nil
}

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
		s.serveMCP(w, r)
		return
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
	s.current.Load().http.ServeHTTP(w, r)
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
