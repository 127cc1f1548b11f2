package auth

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Config describes the authorization server whose tokens this resource server accepts
// and how this server describes itself to clients.
type Config struct {
	// Issuer is the exact "iss" value that tokens must carry.
	Issuer string
	// Audience is this server's canonical resource URI (RFC 8707), for example
	// "https://mcp.example.com/mcp". Tokens must name it in "aud". It must be an
	// absolute https URL (http only on a loopback host) without query or fragment.
	Audience string
	// JWKSURL is where the issuer publishes its signing keys: an https URL (http only on
	// a loopback host). Exactly one of JWKSURL and JWKSFile is set.
	JWKSURL string
	// JWKSFile is a local JWK Set file, read by New and again by Reload.
	JWKSFile string
	// Algorithms lists the accepted JWS algorithms. Empty means RS256, ES256 and EdDSA.
	// Only asymmetric algorithms may be listed: "none" and HS256/HS384/HS512 are refused.
	Algorithms []string
	// Skew is the clock skew tolerated when checking exp, nbf and iat. Zero means 60s;
	// more than 5m is refused.
	Skew time.Duration
	// RolesClaim optionally names the claim that holds the caller's roles: a string (one
	// role) or an array of strings. A name that is not a top-level claim is looked up as
	// a dotted path into nested objects, so "realm_access.roles" works.
	RolesClaim string
	// ResourceMetadataURL is the absolute URL of this server's RFC 9728 Protected
	// Resource Metadata. Empty means the path-inserted well-known URL derived from
	// Audience, for example "https://mcp.example.com/.well-known/oauth-protected-resource/mcp".
	ResourceMetadataURL string
	// AuthorizationServers lists the issuer identifiers of the authorization servers that
	// clients may use for this resource. Empty means Issuer alone.
	AuthorizationServers []string
	// ScopesSupported lists the scopes this resource understands. It is published in the
	// metadata and sent in the scope parameter of 401 challenges.
	ScopesSupported []string
	// ResourceDocumentation is an optional URL of human-readable documentation, published
	// in the metadata.
	ResourceDocumentation string
}

// Option adjusts how New builds an Authenticator. Options report their own mistakes and
// New refuses combinations that make no sense.
type Option func(*settings) error

type settings struct {
	client      *http.Client
	now         func() time.Time
	ttl         time.Duration
	minInterval time.Duration
	seen        map[string]bool
}

func (s *settings) once(name string) error {
	if s.seen[name] {
		return fmt.Errorf("%s given more than once", name)
	}
	s.seen[name] = true
	return nil
}

// WithHTTPClient sets the client used to fetch the JWK Set from Config.JWKSURL. Warden
// still bounds each fetch to 10s and 1 MiB and refuses redirects to non-https URLs. It
// cannot be combined with Config.JWKSFile.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) error {
		if c == nil {
			return errors.New("WithHTTPClient: client is nil")
		}
		if err := s.once("WithHTTPClient"); err != nil {
			return err
		}
		s.client = c
		return nil
	}
}

// WithClock sets the function that tells the current time, for tests.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error {
		if now == nil {
			return errors.New("WithClock: clock is nil")
		}
		if err := s.once("WithClock"); err != nil {
			return err
		}
		s.now = now
		return nil
	}
}

// WithJWKSRefresh sets how long a fetched JWK Set is used before it is fetched again
// (default 10m) and the shortest time between two fetches (default 30s), which bounds the
// refetches that tokens with unknown key IDs can cause. It cannot be combined with
// Config.JWKSFile.
func WithJWKSRefresh(ttl, minInterval time.Duration) Option {
	return func(s *settings) error {
		if ttl <= 0 || minInterval <= 0 {
			return fmt.Errorf("WithJWKSRefresh: durations must be positive, got ttl %v and minInterval %v", ttl, minInterval)
		}
		if minInterval > ttl {
			return fmt.Errorf("WithJWKSRefresh: minInterval %v is longer than ttl %v", minInterval, ttl)
		}
		if err := s.once("WithJWKSRefresh"); err != nil {
			return err
		}
		s.ttl, s.minInterval = ttl, minInterval
		return nil
	}
}

const (
	defaultSkew            = 60 * time.Second
	maxSkew                = 5 * time.Minute
	defaultJWKSTTL         = 10 * time.Minute
	defaultRefetchInterval = 30 * time.Second
	wellKnownPath          = "/.well-known/oauth-protected-resource"
)

// defaultAlgorithms are accepted when Config.Algorithms is empty.
var defaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// supportedAlgorithms are the algorithms that Config.Algorithms may name.
var supportedAlgorithms = map[string]jose.SignatureAlgorithm{
	"RS256": jose.RS256, "RS384": jose.RS384, "RS512": jose.RS512,
	"PS256": jose.PS256, "PS384": jose.PS384, "PS512": jose.PS512,
	"ES256": jose.ES256, "ES384": jose.ES384, "ES512": jose.ES512,
	"EdDSA": jose.EdDSA,
}

// Authenticator checks bearer tokens against one Config. It is safe for concurrent use.
type Authenticator struct {
	cfg            Config
	algs           []string
	skew           time.Duration
	now            func() time.Time
	keys           *keyStore
	metadataURL    string
	challengeScope string
	metadata       []byte
}

// New checks cfg and returns an Authenticator for it. With Config.JWKSFile the file is
// read now; with Config.JWKSURL the keys are fetched when the first token arrives (call
// Reload to fetch them earlier).
func New(cfg Config, opts ...Option) (*Authenticator, error) {
	s := settings{seen: map[string]bool{}}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("auth: nil Option")
		}
		if err := o(&s); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	a, err := newAuthenticator(cfg, &s)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return a, nil
}

func newAuthenticator(cfg Config, s *settings) (*Authenticator, error) {
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	cfg.AuthorizationServers = slices.Clone(cfg.AuthorizationServers)
	cfg.ScopesSupported = slices.Clone(cfg.ScopesSupported)

	if cfg.Issuer == "" {
		return nil, errors.New("Config.Issuer is empty; set it to the exact iss value of the authorization server's tokens")
	}
	if err := checkResourceURL("Config.Audience", cfg.Audience); err != nil {
		return nil, err
	}
	switch {
	case cfg.JWKSURL == "" && cfg.JWKSFile == "":
		return nil, errors.New("neither Config.JWKSURL nor Config.JWKSFile is set; set exactly one")
	case cfg.JWKSURL != "" && cfg.JWKSFile != "":
		return nil, errors.New("both Config.JWKSURL and Config.JWKSFile are set; set exactly one")
	case cfg.JWKSURL != "":
		if err := checkFetchURL("Config.JWKSURL", cfg.JWKSURL); err != nil {
			return nil, err
		}
	case s.client != nil:
		return nil, errors.New("WithHTTPClient needs Config.JWKSURL; Config.JWKSFile is read from disk")
	case s.ttl != 0:
		return nil, errors.New("WithJWKSRefresh needs Config.JWKSURL; Config.JWKSFile is read once and on Reload")
	}

	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = slices.Clone(defaultAlgorithms)
	}
	for _, alg := range cfg.Algorithms {
		if _, ok := supportedAlgorithms[alg]; ok {
			continue
		}
		switch {
		case strings.EqualFold(alg, "none"):
			return nil, errors.New(`Config.Algorithms lists "none"; unsigned tokens are never accepted`)
		case strings.HasPrefix(strings.ToUpper(alg), "HS"):
			return nil, fmt.Errorf("Config.Algorithms lists %q; symmetric (HMAC) algorithms are refused, use RS256, ES256 or EdDSA", alg)
		default:
			return nil, fmt.Errorf("Config.Algorithms lists %q; supported: %s", alg, strings.Join(sortedKeys(supportedAlgorithms), ", "))
		}
	}
	cfg.Algorithms = slices.Compact(cfg.Algorithms)

	switch {
	case cfg.Skew < 0:
		return nil, fmt.Errorf("Config.Skew is %v; it must not be negative", cfg.Skew)
	case cfg.Skew == 0:
		cfg.Skew = defaultSkew
	case cfg.Skew > maxSkew:
		return nil, fmt.Errorf("Config.Skew is %v; at most %v is allowed", cfg.Skew, maxSkew)
	}

	if len(cfg.AuthorizationServers) == 0 {
		if checkFetchURL("Config.Issuer", cfg.Issuer) != nil {
			return nil, fmt.Errorf("Config.AuthorizationServers is empty and Config.Issuer %q is not an https URL to publish in its place; set Config.AuthorizationServers", cfg.Issuer)
		}
		cfg.AuthorizationServers = []string{cfg.Issuer}
	}
	for _, as := range cfg.AuthorizationServers {
		if err := checkFetchURL("Config.AuthorizationServers", as); err != nil {
			return nil, err
		}
	}
	for _, sc := range cfg.ScopesSupported {
		if !validScopeToken(sc) {
			return nil, fmt.Errorf("Config.ScopesSupported has %q; a scope is one or more printable ASCII characters other than space, '\"' and '\\'", sc)
		}
	}
	if cfg.ResourceDocumentation != "" {
		if u, err := url.Parse(cfg.ResourceDocumentation); err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("Config.ResourceDocumentation is %q; it must be an absolute URL", cfg.ResourceDocumentation)
		}
	}
	if cfg.ResourceMetadataURL == "" {
		u, _ := url.Parse(cfg.Audience)
		cfg.ResourceMetadataURL = u.Scheme + "://" + u.Host + wellKnownPath + strings.TrimSuffix(u.EscapedPath(), "/")
	} else if err := checkFetchURL("Config.ResourceMetadataURL", cfg.ResourceMetadataURL); err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.ResourceMetadataURL, `"\`) {
		return nil, fmt.Errorf("Config.ResourceMetadataURL %q contains a quote or backslash", cfg.ResourceMetadataURL)
	}

	a := &Authenticator{
		cfg:            cfg,
		algs:           cfg.Algorithms,
		skew:           cfg.Skew,
		now:            time.Now,
		metadataURL:    cfg.ResourceMetadataURL,
		challengeScope: strings.Join(cfg.ScopesSupported, " "),
	}
	if s.now != nil {
		a.now = s.now
	}
	var err error
	if a.metadata, err = buildMetadata(cfg); err != nil {
		return nil, err
	}
	a.keys = &keyStore{
		url:         cfg.JWKSURL,
		file:        cfg.JWKSFile,
		now:         a.now,
		ttl:         defaultJWKSTTL,
		minInterval: defaultRefetchInterval,
	}
	if s.ttl != 0 {
		a.keys.ttl, a.keys.minInterval = s.ttl, s.minInterval
	}
	if cfg.JWKSURL != "" {
		a.keys.client = boundedClient(s.client)
	} else if err := a.keys.loadFile(); err != nil {
		return nil, err
	}
	return a, nil
}

// checkResourceURL accepts an absolute https URL (http on loopback) without query or
// fragment, as RFC 8707 and RFC 9728 ask of a resource identifier.
func checkResourceURL(field, s string) error {
	if err := checkFetchURL(field, s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.Contains(s, "#") {
		return fmt.Errorf("%s is %q; a resource URI has no query or fragment", field, s)
	}
	return nil
}

// checkFetchURL accepts an absolute https URL, or an http URL whose host is loopback.
func checkFetchURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%s is %q, which is not a URL: %v", field, s, err)
	}
	if !allowedURL(u) {
		return fmt.Errorf("%s is %q; it must be an absolute https URL (http only on a loopback host)", field, s)
	}
	return nil
}

func allowedURL(u *url.URL) bool {
	if u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return isLoopbackHost(u.Hostname())
	}
	return false
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// validScopeToken reports whether s matches RFC 6749's scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// readCapped reads the named file and fails if it is larger than limit bytes.
func readCapped(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}
