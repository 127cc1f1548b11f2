package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestAuthenticate runs every kind of token and header through Middleware and checks
// the status, the error code, the description and the WWW-Authenticate header.
func TestAuthenticate(t *testing.T) {
	rsa1, ec1, ed1 := rsaKey(t, 0, "rsa-1"), ecKey(t, 0, "ec-1"), edKey(t, 0, "ed-1")
	srv := newJWKSServer(t, rsa1, ec1, ed1)
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now))
	now := clock.Now()
	valid := func(extra map[string]any) map[string]any { return claimsAt(now, extra) }

	pemPub, err := x509.MarshalPKIXPublicKey(rsa1.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pemPub})

	tests := []struct {
		name   string
		header []string // Authorization values; nil means none
		query  string
		status int    // 200 when accepted
		code   string // RFC 6750 error code
		desc   string // substring of the description
		check  func(t *testing.T, p *Principal)
	}{
		{name: "RS256 valid", header: bearer(mint(t, rsa1, valid(nil))), status: 200,
			check: func(t *testing.T, p *Principal) {
				want := Principal{Subject: "alice", Issuer: testIssuer, ClientID: "inspector",
					Scopes: []string{"tools:hello", "files:read"}, ExpiresAt: now.Add(time.Hour), TokenID: "tok-1"}
				if !equalPrincipal(*p, want) {
					t.Errorf("principal = %+v, want %+v", *p, want)
				}
			}},
		{name: "ES256 valid", header: bearer(mint(t, ec1, valid(nil))), status: 200},
		{name: "EdDSA valid", header: bearer(mint(t, ed1, valid(nil))), status: 200},
		{name: "lower-case scheme", header: []string{"bearer " + mint(t, ed1, valid(nil))}, status: 200},
		{name: "audience array", header: bearer(mint(t, rsa1, valid(map[string]any{"aud": []string{"https://other", testAudience}}))), status: 200},
		{name: "scp array and azp", header: bearer(mint(t, ec1, valid(map[string]any{"scope": nil, "client_id": nil, "azp": "vscode", "scp": []string{"a", "b", "a"}}))), status: 200,
			check: func(t *testing.T, p *Principal) {
				if !slices.Equal(p.Scopes, []string{"a", "b"}) || p.ClientID != "vscode" {
					t.Errorf("scopes %q client %q, want [a b] vscode", p.Scopes, p.ClientID)
				}
			}},
		{name: "scp string", header: bearer(mint(t, ec1, valid(map[string]any{"scope": nil, "scp": "x y"}))), status: 200,
			check: func(t *testing.T, p *Principal) {
				if !slices.Equal(p.Scopes, []string{"x", "y"}) {
					t.Errorf("scopes %q, want [x y]", p.Scopes)
				}
			}},
		{name: "no scope at all", header: bearer(mint(t, ec1, valid(map[string]any{"scope": nil}))), status: 200,
			check: func(t *testing.T, p *Principal) {
				if len(p.Scopes) != 0 {
					t.Errorf("scopes %q, want none", p.Scopes)
				}
			}},
		{name: "roles array", header: bearer(mint(t, ed1, valid(map[string]any{"roles": []string{"admin", "ops"}}))), status: 200,
			check: func(t *testing.T, p *Principal) {
				if !slices.Equal(p.Roles, []string{"admin", "ops"}) {
					t.Errorf("roles %q", p.Roles)
				}
			}},
		{name: "roles string is one role", header: bearer(mint(t, ed1, valid(map[string]any{"roles": "Domain Admins"}))), status: 200,
			check: func(t *testing.T, p *Principal) {
				if !slices.Equal(p.Roles, []string{"Domain Admins"}) {
					t.Errorf("roles %q", p.Roles)
				}
			}},
		{name: "roles malformed", header: bearer(mint(t, ed1, valid(map[string]any{"roles": []any{1, 2}}))),
			status: 401, code: CodeInvalidToken, desc: `token roles claim "roles" is neither a string nor an array of strings`},
		{name: "expired within skew", header: bearer(mint(t, rsa1, valid(map[string]any{"exp": now.Add(-30 * time.Second).Unix()}))), status: 200},
		{name: "expired", header: bearer(mint(t, rsa1, valid(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}))),
			status: 401, code: CodeInvalidToken, desc: "token expired at 2026-03-04T05:04:07Z (now 2026-03-04T05:06:07Z, skew 1m0s)"},
		{name: "no exp", header: bearer(mint(t, rsa1, valid(map[string]any{"exp": nil}))),
			status: 401, code: CodeInvalidToken, desc: "token has no expiry (exp)"},
		{name: "exp not a number", header: bearer(mint(t, rsa1, valid(map[string]any{"exp": "tomorrow"}))),
			status: 401, code: CodeInvalidToken, desc: "token exp claim is not a number"},
		{name: "not yet valid", header: bearer(mint(t, ec1, valid(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()}))),
			status: 401, code: CodeInvalidToken, desc: "token is not valid before 2026-03-04T05:11:07Z"},
		{name: "nbf within skew", header: bearer(mint(t, ec1, valid(map[string]any{"nbf": now.Add(30 * time.Second).Unix()}))), status: 200},
		{name: "issued in the future", header: bearer(mint(t, ec1, valid(map[string]any{"iat": now.Add(10 * time.Minute).Unix()}))),
			status: 401, code: CodeInvalidToken, desc: "token was issued in the future at 2026-03-04T05:16:07Z"},
		{name: "wrong issuer", header: bearer(mint(t, ed1, valid(map[string]any{"iss": "https://evil.example"}))),
			status: 401, code: CodeInvalidToken, desc: "token issuer is https://evil.example but this server trusts https://id.example.com"},
		{name: "issuer with trailing slash", header: bearer(mint(t, ed1, valid(map[string]any{"iss": testIssuer + "/"}))),
			status: 401, code: CodeInvalidToken, desc: "token issuer is https://id.example.com/ but"},
		{name: "no issuer", header: bearer(mint(t, ed1, valid(map[string]any{"iss": nil}))),
			status: 401, code: CodeInvalidToken, desc: "token has no issuer (iss)"},
		{name: "wrong audience", header: bearer(mint(t, rsa1, valid(map[string]any{"aud": "https://other"}))),
			status: 401, code: CodeInvalidToken, desc: "token audience is [https://other] but this server is https://mcp.example.com/mcp"},
		{name: "wrong audience array", header: bearer(mint(t, rsa1, valid(map[string]any{"aud": []string{"a", "b", "c", "d", "e"}}))),
			status: 401, code: CodeInvalidToken, desc: "token audience is [a b c and 2 more] but this server is"},
		{name: "no audience", header: bearer(mint(t, rsa1, valid(map[string]any{"aud": nil}))),
			status: 401, code: CodeInvalidToken, desc: "token has no audience (aud) but this server is https://mcp.example.com/mcp"},
		{name: "audience not a string", header: bearer(mint(t, rsa1, valid(map[string]any{"aud": 7}))),
			status: 401, code: CodeInvalidToken, desc: "token audience (aud) is neither"},
		{name: "no subject", header: bearer(mint(t, rsa1, valid(map[string]any{"sub": nil}))),
			status: 401, code: CodeInvalidToken, desc: "token has no subject (sub)"},
		{name: "issuer not a string", header: bearer(mint(t, rsa1, valid(map[string]any{"iss": 1}))),
			status: 401, code: CodeInvalidToken, desc: `token claims are malformed: claim "iss" is a JSON number, not a string`},
		{name: "scope not a string", header: bearer(mint(t, rsa1, valid(map[string]any{"scope": 3}))),
			status: 401, code: CodeInvalidToken, desc: "token scope claim is neither"},
		{name: "wrong key, same kid", header: bearer(mint(t, rsaKey(t, 1, "rsa-1"), valid(nil))),
			status: 401, code: CodeInvalidToken, desc: `token signature does not verify with the JWKS key "rsa-1"`},
		{name: "wrong EdDSA key, same kid", header: bearer(mint(t, edKey(t, 1, "ed-1"), valid(nil))),
			status: 401, code: CodeInvalidToken, desc: `token signature does not verify with the JWKS key "ed-1"`},
		{name: "unknown kid", header: bearer(mint(t, rsaKey(t, 1, "rsa-9"), valid(nil))),
			status: 401, code: CodeInvalidToken, desc: `no key with kid "rsa-9" in the JWKS`},
		{name: "no kid, key in JWKS", header: bearer(mint(t, ed1.withKID(""), valid(nil))), status: 200},
		{name: "no kid, key not in JWKS", header: bearer(mint(t, edKey(t, 1, ""), valid(nil))),
			status: 401, code: CodeInvalidToken, desc: "token has no kid and its signature verifies with none of the 1 JWKS keys for alg EdDSA"},
		{name: "alg none", header: bearer(mintRaw(t, map[string]any{"alg": "none", "typ": "JWT"}, valid(nil), nil)),
			status: 401, code: CodeInvalidToken, desc: `token alg is "none"; this server accepts RS256, ES256, EdDSA`},
		{name: "alg None", header: bearer(mintRaw(t, map[string]any{"alg": "None", "kid": "rsa-1"}, valid(nil), nil)),
			status: 401, code: CodeInvalidToken, desc: `token alg is "None"`},
		{name: "no alg", header: bearer(mintRaw(t, map[string]any{"kid": "rsa-1"}, valid(nil), nil)),
			status: 401, code: CodeInvalidToken, desc: "token header has no alg"},
		{name: "HS256 with the RSA public key PEM as secret", header: bearer(mintRaw(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, valid(nil), hs256(pubPEM))),
			status: 401, code: CodeInvalidToken, desc: `token alg is "HS256"`},
		{name: "HS256 with the RSA modulus as secret", header: bearer(mintRaw(t, map[string]any{"alg": "HS256"}, valid(nil), hs256(rsaKeys[0].N.Bytes()))),
			status: 401, code: CodeInvalidToken, desc: `token alg is "HS256"`},
		{name: "RS256 alg with an EC kid", header: bearer(mint(t, rsa1.withKID("ec-1"), valid(nil))),
			status: 401, code: CodeInvalidToken, desc: `key "ec-1" is for alg ES256 but the token alg is RS256`},
		{name: "ES384 not accepted", header: bearer(mint(t, testKey{kid: "ec-1", alg: jose.ES384, priv: ec384Key}, valid(nil))),
			status: 401, code: CodeInvalidToken, desc: `token alg is "ES384"; this server accepts RS256, ES256, EdDSA`},
		{name: "crit header", header: bearer(mintRaw(t, map[string]any{"alg": "EdDSA", "kid": "ed-1", "crit": []string{"exp"}, "exp": 1}, valid(nil), func(in []byte) []byte { return ed25519Sign(in) })),
			status: 401, code: CodeInvalidToken, desc: "critical extensions"},
		{name: "kid not a string", header: bearer(mintRaw(t, map[string]any{"alg": "EdDSA", "kid": 5}, valid(nil), nil)),
			status: 401, code: CodeInvalidToken, desc: "token header is not a JSON object"},
		{name: "truncated signature", header: bearer(strings.TrimRight(mint(t, ec1, valid(nil)), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")),
			status: 401, code: CodeInvalidToken, desc: `token signature does not verify with the JWKS key "ec-1"`},
		{name: "JWE shape", header: bearer("a.b.c.d.e"),
			status: 401, code: CodeInvalidToken, desc: "token is encrypted (JWE)"},
		{name: "opaque token", header: bearer("opaque-access-token"),
			status: 401, code: CodeInvalidToken, desc: "token is not a JWT: expected 3 dot-separated parts, found 1"},
		{name: "header not base64", header: bearer("a+b.c.d"),
			status: 401, code: CodeInvalidToken, desc: "token header is not base64url"},
		{name: "header not JSON", header: bearer(b64([]byte("hello")) + ".e30.c2ln"),
			status: 401, code: CodeInvalidToken, desc: "token header is not a JSON object"},
		{name: "payload not an object", header: bearer(mintRawPayload(t, `[1,2]`)),
			status: 401, code: CodeInvalidToken, desc: "token payload is not a JSON object"},
		{name: "no Authorization header", status: 401, desc: "the request has no Authorization header"},
		{name: "Basic scheme", header: []string{"Basic YWxpY2U6c2VjcmV0"}, status: 401, desc: `the Authorization scheme is "Basic"; this server accepts Bearer`},
		{name: "Basic scheme and a tab", header: []string{"Basic\tYWxpY2U6c2VjcmV0"}, status: 401, desc: `the Authorization scheme is "Basic"`},
		{name: "token without scheme", header: []string{mint(t, ed1, valid(nil))}, status: 401, desc: "does not start with an authentication scheme"},
		{name: "Bearer glued to the token", header: []string{"Bearer" + mint(t, ed1, valid(nil))}, status: 401, code: CodeInvalidRequest, desc: "must be Bearer, one space, then the token"},
		{name: "Bearer and a tab", header: []string{"Bearer\t" + mint(t, ed1, valid(nil))}, status: 401, code: CodeInvalidRequest, desc: "with a tab; use one space"},
		{name: "two Authorization headers", header: []string{"Bearer a.b.c", "Bearer d.e.f"}, status: 401, code: CodeInvalidRequest, desc: "the request has 2 Authorization headers"},
		{name: "Bearer without token", header: []string{"Bearer"}, status: 401, code: CodeInvalidRequest, desc: "has the Bearer scheme but no token"},
		{name: "Bearer and a space", header: []string{"Bearer "}, status: 401, code: CodeInvalidRequest, desc: "has the Bearer scheme but no token"},
		{name: "two spaces", header: []string{"Bearer  abc"}, status: 401, code: CodeInvalidRequest, desc: "more than one space"},
		{name: "space inside the token", header: []string{"Bearer abc def"}, status: 401, code: CodeInvalidRequest, desc: "not allowed in a token68 at byte 3"},
		{name: "quote in the token", header: []string{`Bearer abc"`}, status: 401, code: CodeInvalidRequest, desc: "not allowed in a token68"},
		{name: "character after padding", header: []string{"Bearer abc=d"}, status: 401, code: CodeInvalidRequest, desc: `after its "=" padding`},
		{name: "oversized token", header: bearer(strings.Repeat("a", maxTokenBytes+1)), status: 401, code: CodeInvalidRequest, desc: "the bearer token is 16385 bytes; at most 16384 are accepted"},
		{name: "token in query string", query: "access_token=" + mint(t, ed1, valid(nil)), status: 401, code: CodeInvalidRequest, desc: "access tokens in the query string are not accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := "/mcp"
			if tc.query != "" {
				target += "?" + tc.query
			}
			newReq := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, target, nil)
				for _, h := range tc.header {
					r.Header.Add("Authorization", h)
				}
				return r
			}

			p, err := a.Authenticate(newReq())
			if tc.status == 200 {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if tc.check != nil {
					tc.check(t, p)
				}
			} else {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Authenticate error = %v (%T), want *Error", err, err)
				}
				if e.Status != tc.status || e.Code != tc.code || !strings.Contains(e.Description, tc.desc) {
					t.Errorf("got %d %q %q\nwant %d %q and a description containing %q", e.Status, e.Code, e.Description, tc.status, tc.code, tc.desc)
				}
				if strings.Contains(e.Description, ".ey") || strings.Contains(e.Description, "eyJ") {
					t.Errorf("description echoes the token: %q", e.Description)
				}
				if e.Scope != "tools:hello files:read" {
					t.Errorf("scope = %q, want the supported scopes", e.Scope)
				}
			}

			rec := httptest.NewRecorder()
			a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
			})).ServeHTTP(rec, newReq())
			if rec.Code != tc.status {
				t.Fatalf("middleware status %d, want %d", rec.Code, tc.status)
			}
			got := rec.Header().Get("WWW-Authenticate")
			if tc.status == 200 {
				if got != "" {
					t.Errorf("WWW-Authenticate on success: %q", got)
				}
				return
			}
			var want string
			if tc.code == "" {
				want = `Bearer resource_metadata="` + testMetaURL + `", scope="tools:hello files:read"`
			} else {
				want = `Bearer resource_metadata="` + testMetaURL + `", error="` + tc.code + `", error_description="` +
					headerSafe(strings.TrimPrefix(strings.TrimPrefix(mustErr(t, a, newReq()).Error(), "auth: "), tc.code+": ")) +
					`", scope="tools:hello files:read"`
			}
			if got != want {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, want)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != tc.code || !strings.Contains(body["error_description"], tc.desc) {
				t.Errorf("body = %v", body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func bearer(token string) []string { return []string{"Bearer " + token} }

func mustErr(t *testing.T, a *Authenticator, r *http.Request) error {
	t.Helper()
	_, err := a.Authenticate(r)
	if err == nil {
		t.Fatal("accepted")
	}
	return err
}

func equalPrincipal(a, b Principal) bool {
	return a.Subject == b.Subject && a.Issuer == b.Issuer && a.ClientID == b.ClientID &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Roles, b.Roles) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.TokenID == b.TokenID
}

func ed25519Sign(in []byte) []byte {
	return edSign(edKeys[0], in)
}

// mintRawPayload signs an arbitrary payload with the ed-1 key.
func mintRawPayload(t *testing.T, payload string) string {
	t.Helper()
	genKeys(t)
	h, _ := json.Marshal(map[string]any{"alg": "EdDSA", "kid": "ed-1"})
	input := b64(h) + "." + b64([]byte(payload))
	return input + "." + b64(edSign(edKeys[0], []byte(input)))
}

func TestRolesNestedClaim(t *testing.T) {
	ed1 := edKey(t, 0, "ed-1")
	srv := newJWKSServer(t, ed1)
	cfg := baseConfig(srv.url())
	cfg.RolesClaim = "realm_access.roles"
	clock := newClock()
	a := mustNew(t, cfg, WithClock(clock.Now))
	for _, tc := range []struct {
		extra map[string]any
		want  []string
	}{
		{map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}}, []string{"admin"}},
		{map[string]any{"realm_access.roles": "flat"}, []string{"flat"}},
		{map[string]any{"realm_access": "nope"}, nil},
		{map[string]any{}, nil},
	} {
		p, err := a.Authenticate(bearerRequest(mint(t, ed1, claimsAt(clock.Now(), tc.extra))))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Roles, tc.want) {
			t.Errorf("%v: roles %q, want %q", tc.extra, p.Roles, tc.want)
		}
	}
}

// TestKeyRotation: a token signed by a key the JWKS does not have yet is refused, the
// refetch it causes is bounded, and once the refetch interval has passed the new key is
// fetched and accepted. Tokens with random kids cause at most one fetch per interval.
func TestKeyRotation(t *testing.T) {
	old, next := rsaKey(t, 0, "2026-01"), rsaKey(t, 1, "2026-02")
	srv := newJWKSServer(t, old)
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now), WithJWKSRefresh(time.Hour, 30*time.Second))
	ctx := context.Background()

	if _, err := a.Authenticate(bearerRequest(mint(t, old, claimsAt(clock.Now(), nil)))); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	srv.setKeys(old, next)
	tok := mint(t, next, claimsAt(clock.Now(), nil))
	wantInvalid(t, a, tok, `no key with kid "2026-02" in the JWKS`)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("unknown kid within the refetch interval: fetches = %d, want 1", n)
	}

	clock.Advance(31 * time.Second)
	p, err := a.Authenticate(bearerRequest(tok))
	if err != nil {
		t.Fatalf("after the refetch interval: %v", err)
	}
	if p.Subject != "alice" || srv.fetches.Load() != 2 {
		t.Fatalf("subject %q fetches %d", p.Subject, srv.fetches.Load())
	}

	// An attacker sending random kids: 40 concurrent requests, at most one fetch.
	clock.Advance(31 * time.Second)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			wantInvalid(t, a, mint(t, rsaKey(t, 2, fmt.Sprintf("random-%d", i)), claimsAt(clock.Now(), nil)), "no key with kid")
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("random kids: fetches = %d, want 3", n)
	}
	for i := range 10 {
		wantInvalid(t, a, mint(t, rsaKey(t, 2, fmt.Sprintf("again-%d", i)), claimsAt(clock.Now(), nil)), "no key with kid")
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("random kids again: fetches = %d, want 3", n)
	}

	// The old key is retired; Reload fetches at once.
	srv.setKeys(next)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, a, mint(t, old, claimsAt(clock.Now(), nil)), `no key with kid "2026-01"`)
}

func wantInvalid(t *testing.T, a *Authenticator, token, desc string) {
	t.Helper()
	p, err := a.Authenticate(bearerRequest(token))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidToken || e.Status != 401 || !strings.Contains(e.Description, desc) {
		t.Errorf("Authenticate = %v, %v; want invalid_token containing %q", p, err, desc)
	}
}

// TestSharedFetch: concurrent first requests share one JWKS fetch.
func TestSharedFetch(t *testing.T) {
	ec1 := ecKey(t, 0, "ec-1")
	srv := newJWKSServer(t, ec1)
	srv.set(func(s *jwksServer) { s.delay = 100 * time.Millisecond })
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now))
	tok := mint(t, ec1, claimsAt(clock.Now(), nil))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := a.Authenticate(bearerRequest(tok)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}

// TestJWKSUnavailable: without keys the answer is 503 (the token may be fine), retries
// are bounded, and keys once fetched stay in use while the JWKS URL fails.
func TestJWKSUnavailable(t *testing.T) {
	ed1 := edKey(t, 0, "ed-1")
	srv := newJWKSServer(t, ed1)
	srv.set(func(s *jwksServer) { s.status = http.StatusInternalServerError })
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now), WithJWKSRefresh(10*time.Minute, 30*time.Second))
	tok := mint(t, ed1, claimsAt(clock.Now(), map[string]any{"exp": clock.Now().Add(24 * time.Hour).Unix()}))

	for range 5 {
		_, err := a.Authenticate(bearerRequest(tok))
		var e *Error
		if !errors.Is(err, ErrUnavailable) || errors.As(err, &e) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (bounded retries)", n)
	}
	rec := httptest.NewRecorder()
	a.Middleware(http.NotFoundHandler()).ServeHTTP(rec, bearerRequest(tok))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("middleware: %d %v", rec.Code, rec.Header())
	}

	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	clock.Advance(31 * time.Second)
	if _, err := a.Authenticate(bearerRequest(tok)); err != nil {
		t.Fatal(err)
	}

	// The JWKS URL fails again after the TTL: the old keys stay in use.
	srv.set(func(s *jwksServer) { s.status = http.StatusBadGateway })
	clock.Advance(11 * time.Minute)
	for range 3 {
		if _, err := a.Authenticate(bearerRequest(tok)); err != nil {
			t.Fatal(err)
		}
	}
	err := a.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("Reload = %v, want the 502", err)
	}
	if _, err := a.Authenticate(bearerRequest(tok)); err != nil {
		t.Fatal(err)
	}
}

// TestBackgroundRefresh: after the TTL the keys are refreshed without delaying requests,
// and a key removed from the JWKS stops working.
func TestBackgroundRefresh(t *testing.T) {
	old, next := edKey(t, 0, "old"), edKey(t, 1, "new")
	srv := newJWKSServer(t, old)
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now), WithJWKSRefresh(5*time.Minute, 30*time.Second))
	oldTok := mint(t, old, claimsAt(clock.Now(), map[string]any{"exp": clock.Now().Add(time.Hour).Unix()}))
	if _, err := a.Authenticate(bearerRequest(oldTok)); err != nil {
		t.Fatal(err)
	}
	srv.setKeys(next)
	clock.Advance(6 * time.Minute)
	if _, err := a.Authenticate(bearerRequest(oldTok)); err != nil {
		t.Fatalf("stale keys must still answer while the refresh runs: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.keys.mu.Lock()
		done := a.keys.inflight == nil && srv.fetches.Load() == 2
		a.keys.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantInvalid(t, a, oldTok, `no key with kid "old"`)
	if _, err := a.Authenticate(bearerRequest(mint(t, next, claimsAt(clock.Now(), nil)))); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSFetchLimits(t *testing.T) {
	ed1 := edKey(t, 0, "ed-1")
	tok := func(clock *fakeClock) string { return mint(t, ed1, claimsAt(clock.Now(), nil)) }

	t.Run("oversized", func(t *testing.T) {
		srv := newJWKSServer(t)
		srv.set(func(s *jwksServer) { s.body = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}`) })
		clock := newClock()
		a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now))
		_, err := a.Authenticate(bearerRequest(tok(clock)))
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("redirect to plain http", func(t *testing.T) {
		srv := httptest.NewServer(http.RedirectHandler("http://jwks.invalid/keys", http.StatusFound))
		t.Cleanup(srv.Close)
		clock := newClock()
		a := mustNew(t, baseConfig(srv.URL), WithClock(clock.Now))
		err := a.Reload(context.Background())
		if err == nil || !strings.Contains(err.Error(), "redirect to http://jwks.invalid/keys refused: not https") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a JWKS", func(t *testing.T) {
		srv := newJWKSServer(t)
		srv.set(func(s *jwksServer) { s.body = []byte(`<html>`) })
		a := mustNew(t, baseConfig(srv.url()))
		if err := a.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), `not a JSON object with a "keys" array`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("custom client keeps the bounds", func(t *testing.T) {
		srv := newJWKSServer(t, ed1)
		clock := newClock()
		a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now), WithHTTPClient(&http.Client{Timeout: time.Hour}))
		if a.keys.client.Timeout != fetchTimeout || a.keys.client.CheckRedirect == nil {
			t.Fatalf("client not bounded: %+v", a.keys.client)
		}
		if _, err := a.Authenticate(bearerRequest(tok(clock))); err != nil {
			t.Fatal(err)
		}
	})
}

// TestJWKSKeysLeftOut: keys that cannot verify tokens are left out and named in errors.
func TestJWKSKeysLeftOut(t *testing.T) {
	genKeys(t)
	ed1 := edKey(t, 0, "ed-1")
	encKey := edKey(t, 1, "enc").jwk()
	encKey.Use = "enc"
	small := jose.JSONWebKey{Key: rsaSmall.Public(), KeyID: "small", Algorithm: "RS256", Use: "sig"}
	oct := jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256"}
	ecNoAlg := ecKey(t, 0, "ec-noalg").jwk()
	ecNoAlg.Algorithm = ""
	set := []any{ed1.jwk(), encKey, small, oct, ecNoAlg, map[string]string{"kty": "XYZ", "kid": "weird"}, "not a key"}
	body, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t)
	srv.set(func(s *jwksServer) { s.body = body })
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now))
	if _, err := a.Authenticate(bearerRequest(mint(t, ed1, claimsAt(clock.Now(), nil)))); err != nil {
		t.Fatal(err)
	}
	c := claimsAt(clock.Now(), nil)
	wantInvalid(t, a, mint(t, edKey(t, 1, "enc"), c), `the JWKS key with kid "enc" is not used: its use is "enc", not "sig"`)
	wantInvalid(t, a, mint(t, testKey{kid: "small", alg: jose.RS256, priv: rsaSmall}, c), `the JWKS key with kid "small" is not used: it is a 1024-bit RSA key; at least 2048 bits are required`)
	wantInvalid(t, a, mintRaw(t, map[string]any{"alg": "RS256", "kid": "hmac"}, c, nil), `the JWKS key with kid "hmac" is not used: it is a symmetric (oct) key`)
	wantInvalid(t, a, mint(t, rsaKey(t, 0, "ec-noalg"), c), `key "ec-noalg" is an EC P-256 key, which cannot verify alg RS256`)
	if _, err := a.Authenticate(bearerRequest(mint(t, ecKey(t, 0, "ec-noalg"), c))); err != nil {
		t.Fatalf("a JWK without alg verifies its key type's algorithm: %v", err)
	}
	wantInvalid(t, a, mint(t, rsaKey(t, 0, "weird"), c), `the JWKS key with kid "weird" is not used: it cannot be parsed (kty "XYZ")`)

	if _, err := parseJWKS([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`)); err == nil || !strings.Contains(err.Error(), "no usable signing key") {
		t.Fatalf("parseJWKS = %v", err)
	}
	many := `{"keys":[` + strings.Repeat(`{},`, maxJWKSKeys) + `{}]}`
	if _, err := parseJWKS([]byte(many)); err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("parseJWKS = %v", err)
	}
}

func TestJWKSFile(t *testing.T) {
	ed1, ed2 := edKey(t, 0, "ed-1"), edKey(t, 1, "ed-2")
	dir := t.TempDir()
	file := filepath.Join(dir, "jwks.json")
	write := func(keys ...testKey) {
		var set jose.JSONWebKeySet
		for _, k := range keys {
			set.Keys = append(set.Keys, k.jwk())
		}
		b, _ := json.Marshal(set)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ed1)
	clock := newClock()
	cfg := baseConfig("")
	cfg.JWKSFile = file
	a := mustNew(t, cfg, WithClock(clock.Now))
	if _, err := a.Authenticate(bearerRequest(mint(t, ed1, claimsAt(clock.Now(), nil)))); err != nil {
		t.Fatal(err)
	}
	write(ed2)
	// Read once: the new key is unknown until Reload.
	wantInvalid(t, a, mint(t, ed2, claimsAt(clock.Now(), nil)), `no key with kid "ed-2"`)
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(bearerRequest(mint(t, ed2, claimsAt(clock.Now(), nil)))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(context.Background()); err == nil {
		t.Fatal("Reload accepted a broken file")
	}
	if _, err := a.Authenticate(bearerRequest(mint(t, ed2, claimsAt(clock.Now(), nil)))); err != nil {
		t.Fatalf("keys in use must survive a failed reload: %v", err)
	}
	cfg.JWKSFile = filepath.Join(dir, "missing.json")
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("New with a missing file: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "jwks.json")
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{edKey(t, 0, "k").jwk()}})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := Config{Issuer: testIssuer, Audience: testAudience, JWKSFile: file}
	with := func(f func(c *Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		opts []Option
		want string
	}{
		{"no issuer", with(func(c *Config) { c.Issuer = "" }), nil, "Config.Issuer is empty"},
		{"no audience", with(func(c *Config) { c.Audience = "" }), nil, "Config.Audience"},
		{"relative audience", with(func(c *Config) { c.Audience = "/mcp" }), nil, "absolute https URL"},
		{"http audience", with(func(c *Config) { c.Audience = "http://mcp.example.com/mcp" }), nil, "absolute https URL (http only on a loopback host)"},
		{"audience with fragment", with(func(c *Config) { c.Audience = "https://mcp.example.com/mcp#x" }), nil, "no query or fragment"},
		{"audience with query", with(func(c *Config) { c.Audience = "https://mcp.example.com/mcp?a=b" }), nil, "no query or fragment"},
		{"no JWKS", with(func(c *Config) { c.JWKSFile = "" }), nil, "neither Config.JWKSURL nor Config.JWKSFile"},
		{"both JWKS", with(func(c *Config) { c.JWKSURL = "https://id.example.com/jwks" }), nil, "both Config.JWKSURL and Config.JWKSFile"},
		{"http JWKS URL", with(func(c *Config) { c.JWKSFile = ""; c.JWKSURL = "http://id.example.com/jwks" }), nil, "Config.JWKSURL"},
		{"alg none", with(func(c *Config) { c.Algorithms = []string{"RS256", "none"} }), nil, `lists "none"`},
		{"HS256", with(func(c *Config) { c.Algorithms = []string{"HS256"} }), nil, "symmetric (HMAC) algorithms are refused"},
		{"unknown alg", with(func(c *Config) { c.Algorithms = []string{"RS1"} }), nil, `lists "RS1"; supported:`},
		{"negative skew", with(func(c *Config) { c.Skew = -time.Second }), nil, "must not be negative"},
		{"skew too large", with(func(c *Config) { c.Skew = 6 * time.Minute }), nil, "at most 5m0s"},
		{"bad scope", with(func(c *Config) { c.ScopesSupported = []string{"a b"} }), nil, `Config.ScopesSupported has "a b"`},
		{"bad metadata URL", with(func(c *Config) { c.ResourceMetadataURL = "ftp://x" }), nil, "Config.ResourceMetadataURL"},
		{"issuer not a URL and no authorization servers", with(func(c *Config) { c.Issuer = "acme" }), nil, "Config.AuthorizationServers is empty and Config.Issuer \"acme\""},
		{"issuer not a URL but servers given", with(func(c *Config) { c.Issuer = "acme"; c.AuthorizationServers = []string{"ftp://x"} }), nil, "Config.AuthorizationServers is \"ftp://x\""},
		{"bad authorization server", with(func(c *Config) { c.AuthorizationServers = []string{"id.example.com"} }), nil, "Config.AuthorizationServers"},
		{"relative documentation", with(func(c *Config) { c.ResourceDocumentation = "docs" }), nil, "Config.ResourceDocumentation"},
		{"client with file", ok, []Option{WithHTTPClient(http.DefaultClient)}, "WithHTTPClient needs Config.JWKSURL"},
		{"refresh with file", ok, []Option{WithJWKSRefresh(time.Hour, time.Minute)}, "WithJWKSRefresh needs Config.JWKSURL"},
		{"nil client", ok, []Option{WithHTTPClient(nil)}, "client is nil"},
		{"nil clock", ok, []Option{WithClock(nil)}, "clock is nil"},
		{"clock twice", ok, []Option{WithClock(time.Now), WithClock(time.Now)}, "WithClock given more than once"},
		{"nil option", ok, []Option{nil}, "nil Option"},
		{"refresh interval above ttl", ok, []Option{WithJWKSRefresh(time.Minute, time.Hour)}, "minInterval 1h0m0s is longer than ttl 1m0s"},
		{"zero refresh", ok, []Option{WithJWKSRefresh(0, time.Second)}, "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "auth: ") {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	a, err := New(with(func(c *Config) {
		c.Audience = "http://127.0.0.1:8080/mcp"
		c.Algorithms = []string{"ES256", "ES256", "PS256"}
	}))
	if err != nil {
		t.Fatalf("loopback http audience: %v", err)
	}
	if a.metadataURL != "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp" || !slices.Equal(a.algs, []string{"ES256", "PS256"}) || a.skew != time.Minute {
		t.Fatalf("defaults: %q %q %v", a.metadataURL, a.algs, a.skew)
	}
}

func TestInsufficientScope(t *testing.T) {
	ed1 := edKey(t, 0, "ed-1")
	srv := newJWKSServer(t, ed1)
	clock := newClock()
	a := mustNew(t, baseConfig(srv.url()), WithClock(clock.Now))
	need := []string{"tools:admin"}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			t.Error("no principal in the context")
		}
		if r.Header.Get("Authorization") != "" {
			t.Error("the Authorization header reached the handler")
		}
		if !HasScopes(p, need) {
			a.WriteChallenge(w, InsufficientScope(need))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, bearerRequest(mint(t, ed1, claimsAt(clock.Now(), nil))))
	want := `Bearer resource_metadata="` + testMetaURL + `", error="insufficient_scope", error_description="this request needs scope 'tools:admin'", scope="tools:admin"`
	if rec.Code != http.StatusForbidden || rec.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("%d %q\nwant 403 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
	if !strings.Contains(rec.Body.String(), `"error":"insufficient_scope"`) {
		t.Fatalf("body %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, bearerRequest(mint(t, ed1, claimsAt(clock.Now(), map[string]any{"scope": "tools:admin"}))))
	if rec.Code != http.StatusOK {
		t.Fatalf("with the scope: %d", rec.Code)
	}
	// A wrapped *Error is still a challenge; a nil error is the bare one.
	rec = httptest.NewRecorder()
	a.WriteChallenge(rec, fmt.Errorf("dispatch: %w", InsufficientScope([]string{"a", "b"})))
	if rec.Code != 403 || !strings.HasSuffix(rec.Header().Get("WWW-Authenticate"), `scope="a b"`) {
		t.Fatalf("wrapped: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = httptest.NewRecorder()
	a.WriteChallenge(rec, nil)
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != `Bearer resource_metadata="`+testMetaURL+`", scope="tools:hello files:read"` {
		t.Fatalf("nil: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestHasScopes(t *testing.T) {
	p := &Principal{Scopes: []string{"a", "b"}}
	for _, tc := range []struct {
		p    *Principal
		need []string
		want bool
	}{
		{p, nil, true}, {p, []string{"a"}, true}, {p, []string{"a", "b"}, true},
		{p, []string{"a", "c"}, false}, {nil, nil, true}, {nil, []string{"a"}, false},
		{&Principal{}, []string{""}, false},
	} {
		if got := HasScopes(tc.p, tc.need); got != tc.want {
			t.Errorf("HasScopes(%v, %q) = %v", tc.p, tc.need, got)
		}
	}
}

func TestWWWAuthenticate(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		url  string
		want string
	}{
		{Error{Status: 401}, "", "Bearer"},
		{Error{Status: 401, Description: "ignored without a code", Scope: "a"}, "https://x/m", `Bearer resource_metadata="https://x/m", scope="a"`},
		{Error{Status: 401, Code: "invalid_token", Description: "kid \"a\\b\"\r\nSet-Cookie: x=1 é"}, "",
			`Bearer error="invalid_token", error_description="kid 'a/b'??Set-Cookie: x=1 ?"`},
		{Error{Status: 403, Code: "insufficient_scope", Scope: "ok bad\"scope  x"}, "", `Bearer error="insufficient_scope", scope="ok x"`},
	} {
		if got := tc.e.WWWAuthenticate(tc.url); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestMetadataHandler(t *testing.T) {
	cfg := baseConfig("https://id.example.com/jwks")
	cfg.ResourceDocumentation = "https://docs.example.com/warden"
	a := mustNew(t, cfg)
	srv := httptest.NewServer(a.MetadataHandler())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	// RFC 9728 §2 field names.
	want := map[string]any{
		"resource":                 testAudience,
		"authorization_servers":    []any{testIssuer},
		"scopes_supported":         []any{"tools:hello", "files:read"},
		"bearer_methods_supported": []any{"header"},
		"resource_documentation":   "https://docs.example.com/warden",
	}
	gotJSON, _ := json.Marshal(doc)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("metadata\n got %s\nwant %s", gotJSON, wantJSON)
	}

	for method, status := range map[string]int{http.MethodHead: 200, http.MethodOptions: 204, http.MethodPost: 405} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", method, resp.StatusCode, status)
		}
	}

	// Minimal config: no scopes, no documentation, explicit servers.
	cfg = Config{Issuer: testIssuer, Audience: "https://mcp.example.com/", JWKSURL: "https://id.example.com/jwks",
		AuthorizationServers: []string{"https://as1.example.com", "https://as2.example.com"}}
	a = mustNew(t, cfg)
	rec := httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil))
	var min map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &min); err != nil {
		t.Fatal(err)
	}
	if len(min) != 3 || min["resource"] != "https://mcp.example.com/" || len(min["authorization_servers"].([]any)) != 2 {
		t.Fatalf("minimal metadata %v", min)
	}
	if a.metadataURL != "https://mcp.example.com/.well-known/oauth-protected-resource" {
		t.Fatalf("derived metadata URL %q", a.metadataURL)
	}
}

func TestMetadataPaths(t *testing.T) {
	for in, want := range map[string][]string{
		"/mcp":     {"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"},
		"/mcp/":    {"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"},
		"mcp":      {"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"},
		"/api/mcp": {"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/mcp"},
		"/":        {"/.well-known/oauth-protected-resource"},
		"":         {"/.well-known/oauth-protected-resource"},
	} {
		if got := MetadataPaths(in); !slices.Equal(got, want) {
			t.Errorf("MetadataPaths(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("principal in an empty context")
	}
	p := &Principal{Subject: "s"}
	if got, ok := FromContext(NewContext(context.Background(), p)); !ok || got != p {
		t.Fatal("round trip failed")
	}
	if _, ok := FromContext(NewContext(context.Background(), nil)); ok {
		t.Fatal("nil principal reported")
	}
}

func TestOtherAlgorithms(t *testing.T) {
	genKeys(t)
	ps := testKey{kid: "ps", alg: jose.PS256, priv: rsaKeys[1]}
	es := testKey{kid: "es384", alg: jose.ES384, priv: ec384Key}
	srv := newJWKSServer(t, ps, es, rsaKey(t, 0, "rs"))
	cfg := baseConfig(srv.url())
	cfg.Algorithms = []string{"PS256", "ES384"}
	clock := newClock()
	a := mustNew(t, cfg, WithClock(clock.Now))
	for _, k := range []testKey{ps, es} {
		if _, err := a.Authenticate(bearerRequest(mint(t, k, claimsAt(clock.Now(), nil)))); err != nil {
			t.Errorf("%s: %v", k.alg, err)
		}
	}
	wantInvalid(t, a, mint(t, rsaKey(t, 0, "rs"), claimsAt(clock.Now(), nil)), `token alg is "RS256"; this server accepts PS256, ES384`)
	// A PS256 signature presented as the RS256 key's alg is refused by the key's own alg.
	wantInvalid(t, a, mint(t, testKey{kid: "rs", alg: jose.PS256, priv: rsaKeys[0]}, claimsAt(clock.Now(), nil)), `key "rs" is for alg RS256 but the token alg is PS256`)
}
