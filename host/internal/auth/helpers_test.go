package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	testIssuer   = "https://id.example.com"
	testAudience = "https://mcp.example.com/mcp"
	testMetaURL  = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
)

var testStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// testKey is a signing key with the JWK that publishes its public half.
type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// withKID returns the same key published under another kid.
func (k testKey) withKID(kid string) testKey { k.kid = kid; return k }

var (
	keysOnce sync.Once
	rsaKeys  [3]*rsa.PrivateKey
	ecKeys   [2]*ecdsa.PrivateKey
	ec384Key *ecdsa.PrivateKey
	edKeys   [2]ed25519.PrivateKey
	rsaSmall *rsa.PrivateKey
)

// genKeys makes the keys once per test binary: RSA generation is slow under -race.
func genKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		for i := range rsaKeys {
			if rsaKeys[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
		for i := range ecKeys {
			if ecKeys[i], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				panic(err)
			}
		}
		if ec384Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		for i := range edKeys {
			if _, edKeys[i], err = ed25519.GenerateKey(rand.Reader); err != nil {
				panic(err)
			}
		}
		if rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
}

func rsaKey(t testing.TB, i int, kid string) testKey {
	genKeys(t)
	return testKey{kid: kid, alg: jose.RS256, priv: rsaKeys[i]}
}

func ecKey(t testing.TB, i int, kid string) testKey {
	genKeys(t)
	return testKey{kid: kid, alg: jose.ES256, priv: ecKeys[i]}
}

func edKey(t testing.TB, i int, kid string) testKey {
	genKeys(t)
	return testKey{kid: kid, alg: jose.EdDSA, priv: edKeys[i]}
}

// mint signs claims with k; an empty kid leaves the kid header out.
func mint(t testing.TB, k testKey, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	var key any = k.priv
	if k.kid != "" {
		key = jose.JSONWebKey{Key: k.priv, KeyID: k.kid}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mintRaw builds a compact JWS from a header and claims, signing the input with sign
// (nil gives an empty signature), so tests can make tokens no library would.
func mintRaw(t testing.TB, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// claimsAt returns valid claims for a token issued at now.
func claimsAt(now time.Time, extra map[string]any) map[string]any {
	c := map[string]any{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       "alice",
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"scope":     "tools:hello files:read",
		"client_id": "inspector",
		"jti":       "tok-1",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: testStart} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksServer serves a JWK Set on 127.0.0.1 and counts the requests.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	body    []byte // served instead of keys when set
	status  int
	delay   time.Duration
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		status, delay, body := s.status, s.delay, s.body
		if body == nil {
			body, _ = json.Marshal(jose.JSONWebKeySet{Keys: s.keys})
		}
		s.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = nil
	for _, k := range keys {
		s.keys = append(s.keys, k.jwk())
	}
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *jwksServer) url() string { return s.URL + "/.well-known/jwks.json" }

func baseConfig(jwksURL string) Config {
	return Config{
		Issuer:          testIssuer,
		Audience:        testAudience,
		JWKSURL:         jwksURL,
		ScopesSupported: []string{"tools:hello", "files:read"},
		RolesClaim:      "roles",
	}
}

func mustNew(t testing.TB, cfg Config, opts ...Option) *Authenticator {
	t.Helper()
	a, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func edSign(k ed25519.PrivateKey, in []byte) []byte { return ed25519.Sign(k, in) }
