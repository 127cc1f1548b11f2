package netguard

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults for the zero fields of a Policy.
const (
	DefaultMaxResponseBytes = 10 << 20
	DefaultMaxRequestBytes  = 10 << 20
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRedirects     = 5
)

// Policy is one plugin's network grant plus the limits on its requests.
type Policy struct {
	// Plugin names the plugin in error messages.
	Plugin string
	// Rules is the allow-list; none means no request is allowed.
	Rules []Rule
	// MaxResponseBytes caps a response body; 0 means
	// DefaultMaxResponseBytes. A larger body fails the request.
	MaxResponseBytes int64
	// MaxRequestBytes caps a request body; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// Timeout bounds a whole Do, redirects and body included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxRedirects is how many redirects Do follows (one more fails the
	// request); 0 means DefaultMaxRedirects, and a negative value means
	// none: the 3xx response is returned as it is.
	MaxRedirects int
}

// Resolver looks up the addresses of a host name. *net.Resolver implements
// it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer opens a connection. *net.Dialer implements it. A Client calls it
// only with an "ip:port" address that has passed every check.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

type config struct {
	resolver Resolver
	dialer   Dialer
	roots    *x509.CertPool
	wrap     func(http.RoundTripper) http.RoundTripper
}

// Option configures New. An option that is given a nil value, or that is
// given twice, makes New fail.
type Option func(*config) error

// WithResolver makes the Client look names up with r instead of
// net.DefaultResolver.
func WithResolver(r Resolver) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("WithResolver: nil resolver")
		}
		if c.resolver != nil {
			return errors.New("WithResolver given twice")
		}
		c.resolver = r
		return nil
	}
}

// WithDialer makes the Client open connections with d. The Client still
// resolves and checks every address itself and hands d only an "ip:port"
// that passed. When d is a *net.Dialer, the Client also installs its
// socket-level check on a copy of it (running d's own ControlContext or
// Control after it); any other Dialer is trusted to connect to the
// address it is given.
func WithDialer(d Dialer) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("WithDialer: nil dialer")
		}
		if nd, ok := d.(*net.Dialer); ok && nd == nil {
			return errors.New("WithDialer: nil dialer")
		}
		if c.dialer != nil {
			return errors.New("WithDialer given twice")
		}
		c.dialer = d
		return nil
	}
}

// WithRootCAs makes the Client trust only the certificate authorities in
// pool instead of the system's. It is for private CAs and tests; nothing
// in this package can turn certificate verification off.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *config) error {
		if pool == nil {
			return errors.New("WithRootCAs: nil pool")
		}
		if c.roots != nil {
			return errors.New("WithRootCAs given twice")
		}
		c.roots = pool
		return nil
	}
}

// WithRoundTripper wraps the Client's transport, for instrumentation such
// as tracing spans. Every check still happens inside the wrapped transport
// (at dial time) and in Do (per hop), so a wrapper cannot widen the grant;
// it sees each hop's request after the allow-list check.
func WithRoundTripper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(c *config) error {
		if wrap == nil {
			return errors.New("WithRoundTripper: nil wrapper")
		}
		if c.wrap != nil {
			return errors.New("WithRoundTripper given twice")
		}
		c.wrap = wrap
		return nil
	}
}

// Request is one outbound HTTP request made on behalf of a plugin.
type Request struct {
	// Method defaults to GET. CONNECT is refused.
	Method string
	// URL is absolute, http or https.
	URL string
	// Header is sent as given, except Host, which is ignored: the Host
	// header always names the URL's host.
	Header http.Header
	// Body is sent as the request body.
	Body []byte
}

// Response is the final response of a Do, after any redirects.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Client makes HTTP requests that can reach only what its Policy allows.
// It is safe for concurrent use. Its connections are its own: a Client
// never shares a connection with another Client. Close it when done.
type Client struct {
	plugin       string
	rules        []Rule
	maxResponse  int64
	maxRequest   int64
	timeout      time.Duration
	maxRedirects int
	resolver     Resolver
	dialer       Dialer
	transport    *http.Transport
	send         http.RoundTripper // transport, possibly wrapped

	mu     sync.Mutex
	closed bool
}

// New returns a Client that enforces p. It fails when a rule is not valid,
// when a limit is negative, or when an option fails.
func New(p Policy, opts ...Option) (*Client, error) {
	var cfg config
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("netguard: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("netguard: %w", err)
		}
	}
	c := &Client{
		plugin:       p.Plugin,
		maxResponse:  p.MaxResponseBytes,
		maxRequest:   p.MaxRequestBytes,
		timeout:      p.Timeout,
		maxRedirects: p.MaxRedirects,
		resolver:     cfg.resolver,
		dialer:       cfg.dialer,
	}
	for i, r := range p.Rules {
		nr, err := normaliseRule(r)
		if err != nil {
			return nil, fmt.Errorf("netguard: rule %d: %w", i, err)
		}
		c.rules = append(c.rules, nr)
	}
	if c.maxResponse < 0 || c.maxRequest < 0 || c.timeout < 0 {
		return nil, errors.New("netguard: MaxResponseBytes, MaxRequestBytes and Timeout must not be negative")
	}
	if c.maxResponse == 0 {
		c.maxResponse = DefaultMaxResponseBytes
	}
	if c.maxRequest == 0 {
		c.maxRequest = DefaultMaxRequestBytes
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxRedirects == 0 {
		c.maxRedirects = DefaultMaxRedirects
	}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	c.transport = &http.Transport{
		// Never a proxy, whatever the environment says: the proxy would
		// make the connection the grant is about.
		Proxy:       nil,
		DialContext: c.dialContext,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    cfg.roots,
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Response headers are capped on their own, at 1 MiB.
		MaxResponseHeaderBytes: 1 << 20,
	}
	c.send = c.transport
	if cfg.wrap != nil {
		c.send = cfg.wrap(c.transport)
	}
	return c, nil
}

// Close closes the Client's idle connections; Do fails after Close.
// Connections in use by a Do still running are closed when it returns.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.transport.CloseIdleConnections()
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func cloneRules(rules []Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.Ports = append([]int(nil), r.Ports...)
		r.Schemes = append([]string(nil), r.Schemes...)
		out[i] = r
	}
	return out
}

func (c *Client) denied(t target, reason string) *DeniedError {
	return &DeniedError{
		Plugin:  c.plugin,
		Host:    t.host,
		Port:    t.port,
		Scheme:  t.scheme,
		Reason:  reason,
		Allowed: cloneRules(c.rules),
	}
}

// hop is what one request of a Do may connect to: its target and the
// rules that allowed it. It travels to the dialer in the request's context.
type hop struct {
	t     target
	rules []Rule
}

func (h *hop) allowsPrivate() bool {
	for _, r := range h.rules {
		if r.AllowsPrivate() {
			return true
		}
	}
	return false
}

type hopKey struct{}

// Do sends req if the policy allows it, follows redirects that the policy
// also allows, and returns the final response with its whole body.
//
// A refused request or redirect fails with a *DeniedError (errors.Is
// ErrDenied); a body over the limits fails with an error that matches
// ErrTooLarge. A non-2xx status is not an error.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	if req == nil {
		return nil, errors.New("netguard: nil request")
	}
	if c.isClosed() {
		return nil, errors.New("netguard: client is closed")
	}
	defer func() {
		if c.isClosed() {
			c.transport.CloseIdleConnections()
		}
	}()
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if method == http.MethodConnect {
		return nil, errors.New("netguard: CONNECT requests are refused")
	}
	if int64(len(req.Body)) > c.maxRequest {
		return nil, fmt.Errorf("netguard: request body of %d bytes exceeds the limit of %d bytes: %w", len(req.Body), c.maxRequest, ErrTooLarge)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errPolicyTimeout)
	defer cancel()

	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	header.Del("Host")
	body := req.Body
	rawURL := req.URL
	var from *target // the previous hop, when following a redirect
	for redirects := 0; ; redirects++ {
		u, t, reason := parseTarget(rawURL)
		var rules []Rule
		if reason == "" {
			rules, reason = match(c.rules, t)
		}
		if reason != "" {
			e := c.denied(t, reason)
			if from != nil {
				e.RedirectFrom = from.hostPort()
			}
			return nil, e
		}
		resp, err := c.roundTrip(ctx, &hop{t: t, rules: rules}, method, u.String(), header, body)
		if err != nil {
			return nil, c.wrapErr(ctx, err, t, from)
		}
		next, ok := c.redirectTarget(resp)
		if !ok {
			defer resp.Body.Close()
			data, err := c.readBody(ctx, resp, t)
			if err != nil {
				return nil, err
			}
			return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
		}
		// Let the connection be reused if the redirect's body is small;
		// never read much of it.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		if redirects >= c.maxRedirects {
			return nil, fmt.Errorf("netguard: plugin %s: too many redirects (more than %d); the last came from %s", c.pluginName(), c.maxRedirects, t.hostPort())
		}
		method, body = redirectMethod(resp.StatusCode, method, body)
		if body == nil {
			for _, k := range bodyHeaders {
				header.Del(k)
			}
		}
		// Credentials stay with the origin they were meant for; once
		// dropped they stay dropped for the rest of the chain.
		if _, nt, why := parseTarget(next); why != "" || nt.origin() != t.origin() {
			for _, k := range credentialHeaders {
				header.Del(k)
			}
		}
		prev := t
		from = &prev
		rawURL = next
	}
}

// roundTrip sends one request of a Do, carrying h in its context for the
// dialer.
func (c *Client) roundTrip(ctx context.Context, h *hop, method, rawURL string, header http.Header, body []byte) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(context.WithValue(ctx, hopKey{}, h), method, rawURL, nil)
	if err != nil {
		// The error would quote the URL, which may hold secrets.
		return nil, errors.New("not a valid request (check the method)")
	}
	if body != nil {
		hreq.Body = io.NopCloser(bytes.NewReader(body))
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		hreq.ContentLength = int64(len(body))
	}
	// A copy per request: the transport may still be writing this one when
	// the next hop edits the headers.
	hreq.Header = header.Clone()
	return c.send.RoundTrip(hreq)
}

// bodyHeaders describe a request body; they are dropped with it when a
// redirect turns the request into a GET.
var bodyHeaders = []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language", "Content-Location"}

// credentialHeaders are dropped when a redirect leaves the origin (scheme,
// host and port) it came from.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Cookie2"}

func (c *Client) pluginName() string {
	if c.plugin == "" {
		return "(unnamed)"
	}
	return c.plugin
}

// redirectTarget returns the absolute URL a response redirects to, if Do
// should follow it.
func (c *Client) redirectTarget(resp *http.Response) (string, bool) {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return "", false
	}
	if c.maxRedirects < 0 {
		return "", false
	}
	loc, err := resp.Location()
	if err != nil {
		// No Location, or one that cannot be parsed: hand the 3xx back.
		return "", false
	}
	return loc.String(), true
}

// redirectMethod returns the method and body for the request that follows
// a redirect with the given status, as browsers and net/http do.
func redirectMethod(status int, method string, body []byte) (string, []byte) {
	switch status {
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return method, body
	}
	if method == http.MethodHead {
		return method, nil
	}
	if status == http.StatusSeeOther || method != http.MethodGet {
		return http.MethodGet, nil
	}
	return method, nil
}

// readBody reads resp's body, failing rather than truncating when it is
// longer than the limit.
func (c *Client) readBody(ctx context.Context, resp *http.Response, t target) ([]byte, error) {
	tooLarge := fmt.Errorf("netguard: response from host %s exceeded %d bytes: %w", t.hostPort(), c.maxResponse, ErrTooLarge)
	if resp.ContentLength > c.maxResponse {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return nil, c.wrapErr(ctx, err, t, nil)
	}
	if int64(len(data)) > c.maxResponse {
		return nil, tooLarge
	}
	return data, nil
}

// wrapErr turns a transport error into one that names the host but not the
// URL, and keeps a *DeniedError from the dialer as it is.
func (c *Client) wrapErr(ctx context.Context, err error, t target, from *target) error {
	var d *DeniedError
	if errors.As(err, &d) {
		if from != nil {
			d.RedirectFrom = from.hostPort()
		}
		return d
	}
	if context.Cause(ctx) == errPolicyTimeout {
		return fmt.Errorf("netguard: request to %s timed out after %s (the policy's limit): %w", t.hostPort(), c.timeout, context.DeadlineExceeded)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("netguard: request to %s: %w", t.hostPort(), ctx.Err())
	}
	return fmt.Errorf("netguard: request to %s failed: %w", t.hostPort(), err)
}

// errPolicyTimeout is the cause of a Do's context when Policy.Timeout ran
// out, as opposed to the caller's own deadline or cancellation.
var errPolicyTimeout = errors.New("netguard: policy timeout")
