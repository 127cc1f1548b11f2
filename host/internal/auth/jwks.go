package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	maxJWKSBytes  = 1 << 20
	maxJWKSKeys   = 100
	minRSABits    = 2048
	fetchTimeout  = 10 * time.Second
	maxRedirects  = 3
	jwksMediaType = "application/jwk-set+json, application/json;q=0.9"
)

// ErrUnavailable is wrapped by the errors Authenticate returns when it cannot check a
// token at all because no signing keys could be loaded. WriteChallenge answers them with
// 503, not 401: the client's token may well be fine.
var ErrUnavailable = errors.New("auth: token signing keys are unavailable")

// keySet is one parsed JWK Set.
type keySet struct {
	all     []jose.JSONWebKey
	byKID   map[string][]jose.JSONWebKey
	ignored map[string]string // kid → why the key was left out
	loaded  time.Time
}

// parseJWKS parses a JWK Set, keeping the public signing keys that Warden can use and
// noting why it left the others out. A set with no usable key is an error.
func parseJWKS(data []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON object with a \"keys\" array: %v", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`JWKS has no "keys" array`)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("JWKS has %d keys; at most %d are accepted", len(doc.Keys), maxJWKSKeys)
	}
	ks := &keySet{byKID: map[string][]jose.JSONWebKey{}, ignored: map[string]string{}}
	for _, raw := range doc.Keys {
		var head struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Use string `json:"use"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			continue // not an object; nothing to name it by
		}
		why := ""
		var k jose.JSONWebKey
		switch {
		case head.Use != "" && head.Use != "sig":
			why = fmt.Sprintf("its use is %q, not \"sig\"", head.Use)
		case head.Kty == "oct":
			why = "it is a symmetric (oct) key"
		default:
			if err := k.UnmarshalJSON(raw); err != nil {
				why = fmt.Sprintf("it cannot be parsed (kty %q): %v", head.Kty, err)
				break
			}
			k = k.Public()
			why = unusableKey(k.Key)
		}
		if why != "" {
			if _, dup := ks.ignored[head.Kid]; !dup {
				ks.ignored[head.Kid] = why
			}
			continue
		}
		ks.all = append(ks.all, k)
		ks.byKID[k.KeyID] = append(ks.byKID[k.KeyID], k)
	}
	if len(ks.all) == 0 {
		return nil, fmt.Errorf("JWKS has no usable signing key (%d keys, all left out)", len(doc.Keys))
	}
	return ks, nil
}

// unusableKey says why a public key cannot verify tokens here, or returns "".
func unusableKey(k any) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "it is an empty RSA key"
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Sprintf("it is a %d-bit RSA key; at least %d bits are required", k.N.BitLen(), minRSABits)
		}
		return ""
	case *ecdsa.PublicKey:
		if k == nil {
			return "it is an empty EC key"
		}
		return ""
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "it is a malformed Ed25519 key"
		}
		return ""
	}
	return fmt.Sprintf("its key type %T is not supported", k)
}

// keyDescription names a key's type for error messages.
func keyDescription(k any) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an EC " + k.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T key", k)
}

// keyFits reports whether key k may verify a signature made with alg: the key type and
// curve must match the algorithm, and a key that names its own "alg" must name this one.
func keyFits(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return alg[:2] == "RS" || alg[:2] == "PS"
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// keyStore holds the current key set and fetches new ones, sharing one fetch between
// concurrent callers and starting at most one fetch per minInterval.
type keyStore struct {
	url         string
	file        string
	client      *http.Client
	now         func() time.Time
	ttl         time.Duration
	minInterval time.Duration

	mu          sync.Mutex
	set         *keySet
	lastAttempt time.Time
	lastErr     error
	inflight    *fetchCall
}

type fetchCall struct {
	done chan struct{}
	set  *keySet
	err  error
}

func (s *keyStore) loadFile() error {
	data, err := readCapped(s.file, maxJWKSBytes)
	if err != nil {
		return fmt.Errorf("reading JWKS file: %w", err)
	}
	set, err := parseJWKS(data)
	if err != nil {
		return fmt.Errorf("JWKS file %s: %w", s.file, err)
	}
	set.loaded = s.now()
	s.mu.Lock()
	s.set = set
	s.mu.Unlock()
	return nil
}

// lookup returns the key set to verify a token with key ID kid (hasKID false when the
// token names none). It fetches when there is no set yet, when the set has expired (in
// the background, still answering with the old set) and when kid is unknown, within the
// refetch bound.
func (s *keyStore) lookup(ctx context.Context, kid string, hasKID bool) (*keySet, error) {
	s.mu.Lock()
	set := s.set
	if s.url == "" {
		s.mu.Unlock()
		return set, nil
	}
	now := s.now()
	stale := set == nil || now.Sub(set.loaded) >= s.ttl
	unknown := set != nil && hasKID && len(set.byKID[kid]) == 0
	if !stale && !unknown {
		s.mu.Unlock()
		return set, nil
	}
	call := s.startLocked(now, false)
	lastErr := s.lastErr
	s.mu.Unlock()

	if call == nil { // within the refetch bound
		if set == nil {
			return nil, unavailable(lastErr)
		}
		return set, nil
	}
	if set != nil && !unknown {
		return set, nil // refresh in the background
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the JWKS: %v", ErrUnavailable, ctx.Err())
	}
	if call.err != nil {
		if set != nil {
			return set, nil
		}
		return nil, unavailable(call.err)
	}
	return call.set, nil
}

func unavailable(err error) error {
	if err == nil {
		err = errors.New("no JWKS fetched yet")
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// startLocked returns the fetch under way, or starts one unless the last one started
// less than minInterval ago (force ignores that bound). s.mu must be held.
func (s *keyStore) startLocked(now time.Time, force bool) *fetchCall {
	if s.inflight != nil {
		return s.inflight
	}
	if !force && !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minInterval {
		return nil
	}
	s.lastAttempt = now
	c := &fetchCall{done: make(chan struct{})}
	s.inflight = c
	go s.run(c)
	return c
}

func (s *keyStore) run(c *fetchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	set, err := s.fetch(ctx)
	c.set, c.err = set, err
	s.mu.Lock()
	if err == nil {
		s.set = set
	}
	s.lastErr = err
	s.inflight = nil
	s.mu.Unlock()
	close(c.done)
}

func (s *keyStore) fetch(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL %s: %v", s.url, err)
	}
	req.Header.Set("Accept", jwksMediaType)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS from %s: status %s, want 200 OK", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS from %s: %v", s.url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS at %s is larger than %d bytes", s.url, maxJWKSBytes)
	}
	set, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS at %s: %w", s.url, err)
	}
	set.loaded = s.now()
	return set, nil
}

// reload reads the file again, or fetches the URL now regardless of the refetch bound.
// On failure the keys in use stay in use.
func (s *keyStore) reload(ctx context.Context) error {
	if s.url == "" {
		return s.loadFile()
	}
	s.mu.Lock()
	call := s.startLocked(s.now(), true)
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// boundedClient returns a copy of c (or a new client) that refuses redirects to URLs
// that are not https (or http on loopback) and follows at most maxRedirects of them.
func boundedClient(c *http.Client) *http.Client {
	var bc http.Client
	if c != nil {
		bc = *c
	}
	if bc.Timeout == 0 || bc.Timeout > fetchTimeout {
		bc.Timeout = fetchTimeout
	}
	next := bc.CheckRedirect
	bc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if !allowedURL(req.URL) {
			return fmt.Errorf("redirect to %s refused: not https", req.URL.Redacted())
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &bc
}

// Reload reads Config.JWKSFile again, or fetches Config.JWKSURL now. On failure the keys
// in use stay in use and the error says why.
func (a *Authenticator) Reload(ctx context.Context) error {
	if err := a.keys.reload(ctx); err != nil {
		return fmt.Errorf("auth: reload: %w", err)
	}
	return nil
}
