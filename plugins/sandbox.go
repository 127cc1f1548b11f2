package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardenmcp/warden/capabilities"
)

// Sandbox is everything one call may touch. The zero value is the empty
// sandbox: no network, no files, no config or secrets, default limits.
type Sandbox struct {
	// Limits bounds the call; zero fields take the runtime's defaults and
	// every field is clamped to the runtime's ceilings.
	Limits capabilities.Limits
	// Task says the call runs as an MCP task: its deadline is
	// Limits.TaskTimeout (clamped to the task ceiling) instead of
	// Limits.Timeout.
	Task bool
	// HTTP performs the guest's http_request calls. Nil denies every request.
	HTTP HTTPClient
	// Mounts are the directories the guest sees; nothing else of the host's
	// filesystem exists for it.
	Mounts []Mount
	// Config holds the values config_get returns: plain configuration and
	// the granted secrets.
	Config map[string]string
	// Redactor masks secrets in the call's output; nil masks nothing.
	Redactor *strings.Replacer
	// Log receives the plugin's log messages and its stdout and stderr,
	// escaped and size-capped. Nil discards them.
	Log *slog.Logger
	// LogLevel is the lowest level recorded from the plugin.
	LogLevel slog.Level
	// LogBytes caps the plugin's logging per call (DefaultLogBytes when 0).
	LogBytes int
	// Progress receives the guest's progress reports (warden_progress),
	// synchronously and in order, on the goroutine running the call; it
	// should return quickly (throttle elsewhere). Reports reach it checked:
	// finite numbers, progress increasing within the call, the message
	// masked by Redactor, escaped and at most MaxProgressMessage bytes. Nil
	// drops them.
	Progress func(Progress)

	closers []func() error
}

// Close releases what the sandbox holds (the network client's connections).
// It is safe to call more than once.
func (s *Sandbox) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Mount makes a host directory visible to the guest at Guest.
type Mount struct {
	Host     string
	Guest    string
	ReadOnly bool
}

// HTTPRequest is an outbound request made by a plugin through the host.
type HTTPRequest struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// HTTPResponse is the answer handed back to the plugin.
type HTTPResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// HTTPClient performs a plugin's outbound requests. Implementations enforce
// the plugin's grant and return an error matching ErrDenied for a request
// the grant does not allow.
type HTTPClient interface {
	Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error)
}

// denyAll is the HTTP client of a sandbox without network access.
type denyAll struct{ plugin string }

func (d denyAll) Do(_ context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	host, port, scheme := req.URL, 0, ""
	if u, err := url.Parse(req.URL); err == nil {
		host, scheme = u.Hostname(), u.Scheme
		port = defaultPort(u)
	}
	return nil, fmt.Errorf("%w: %s", ErrDenied, capabilities.DescribeDenial(d.plugin, host, port, scheme, nil))
}

func defaultPort(u *url.URL) int {
	if p := u.Port(); p != "" {
		var n int
		fmt.Sscanf(p, "%d", &n)
		return n
	}
	switch u.Scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 0
}
