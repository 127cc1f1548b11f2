package host_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/testutil"
)

const (
	testIssuer   = "https://id.test"
	testAudience = "https://mcp.test/mcp"
)

// idp is a test identity provider: an Ed25519 key published as a JWKS file.
type idp struct {
	priv     ed25519.PrivateKey
	jwksFile string
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: string(jose.EdDSA), Use: "sig"}}}
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, b, 0o644)
	return &idp{priv: priv, jwksFile: path}
}

func (p *idp) token(t *testing.T, sub string, scopes string, mod func(map[string]any)) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: p.priv, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": sub, "scope": scopes,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "client_id": "test-client"}
	if mod != nil {
		mod(claims)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func authServer(t *testing.T, p *idp, stepUp bool, audit string, rate string) string {
	t.Helper()
	module(t, "hello", "./examples/hello")
	s, err := host.New(host.Options{Runtime: rt, Auth: &host.AuthConfig{Issuer: testIssuer, Audience: testAudience, JWKSFile: p.jwksFile},
		StepUp: stepUp, AuditPath: audit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(t.Context()) })
	err = s.Swap([]*host.Plugin{
		{Name: "hello", Module: module(t, "hello", "./examples/hello"), Scopes: []string{"tools:hello"},
			Tools: map[string]host.ToolOverride{"echo": {Scopes: []string{"tools:hello:echo"}}}, RateLimit: rate},
		{Name: "echoall", Module: module(t, "echoall", "./plugins/testdata/echoall")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAuthentication(t *testing.T) {
	p := newIDP(t)
	url := authServer(t, p, false, "", "")
	good := p.token(t, "alice", "tools:hello", nil)
	tests := []struct {
		name   string
		header string
		status int
		want   string // in WWW-Authenticate
	}{
		{"no token", "", 401, `resource_metadata="`},
		{"other scheme", "Token abc", 401, `resource_metadata="`},
		{"malformed bearer", "Bearer a b", 401, `error="invalid_request"`},
		{"expired", "Bearer " + p.token(t, "a", "tools:hello", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401, `token expired at`},
		{"not yet valid", "Bearer " + p.token(t, "a", "tools:hello", func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), 401, `token is not valid before`},
		{"wrong issuer", "Bearer " + p.token(t, "a", "tools:hello", func(c map[string]any) { c["iss"] = "https://evil.test" }), 401, `token issuer is https://evil.test but this server trusts https://id.test`},
		{"wrong audience", "Bearer " + p.token(t, "a", "tools:hello", func(c map[string]any) { c["aud"] = "https://other.test/mcp" }), 401, `token audience is [https://other.test/mcp]`},
		{"wrong key", "Bearer " + newIDP(t).token(t, "a", "tools:hello", nil), 401, `token signature does not verify`},
		{"alg none", "Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://id.test","aud":"https://mcp.test/mcp","sub":"a","exp":9999999999}`)) + ".", 401, `token alg is 'none'`},
		{"valid", "Bearer " + good, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.header != "" {
				hdr["Authorization"] = tt.header
			}
			resp, _ := post(t, url, "2025-11-25", "tools/list", nil, hdr)
			if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.want) {
				t.Fatalf("status %d, WWW-Authenticate %q; want %d and %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.want)
			}
		})
	}
	// RFC 9728 metadata at both paths.
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		var md map[string]any
		json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		if md["resource"] != testAudience {
			t.Errorf("%s: %v", path, md)
		}
	}
}

func TestScopesFilterAndStepUp(t *testing.T) {
	p := newIDP(t)
	for _, stepUp := range []bool{false, true} {
		name := "hidden"
		if stepUp {
			name = "step-up"
		}
		t.Run(name, func(t *testing.T) {
			url := authServer(t, p, stepUp, "", "")
			hdr := map[string]string{"Authorization": "Bearer " + p.token(t, "alice", "tools:hello", nil)}
			_, out := post(t, url, "2025-11-25", "tools/list", nil, hdr)
			if strings.Contains(string(out.Result), "hello.echo") || !strings.Contains(string(out.Result), "hello.greet") {
				t.Fatalf("tools/list shows %s", out.Result)
			}
			resp, out := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.echo", "arguments": map[string]any{"text": "x"}}, hdr)
			if stepUp {
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="tools:hello tools:hello:echo"`) {
					t.Fatalf("step-up: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			_, unknown := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.nope", "arguments": map[string]any{}}, hdr)
			if out.Error == nil || unknown.Error == nil || out.Error.Code != unknown.Error.Code {
				t.Fatalf("a hidden tool must look like a missing one: %+v vs %+v", out.Error, unknown.Error)
			}
			// With the extra scope it is there.
			hdr["Authorization"] = "Bearer " + p.token(t, "alice", "tools:hello tools:hello:echo", nil)
			_, out = post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.echo", "arguments": map[string]any{"text": "x"}}, hdr)
			if text, _ := callText(t, out.Result); text != "x" {
				t.Fatalf("echo with scope: %s %+v", out.Result, out.Error)
			}
		})
	}
}

func TestNoTokenPassthroughAndAudit(t *testing.T) {
	p := newIDP(t)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	url := authServer(t, p, false, auditPath, "2/m")
	tok := p.token(t, "bob", "tools:hello", nil)
	hdr := map[string]string{"Authorization": "Bearer " + tok}
	_, out := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "echoall.env", "arguments": map[string]any{}}, hdr)
	if out.Error != nil || strings.Contains(string(out.Result), tok) || strings.Contains(string(out.Result), "Bearer") {
		t.Fatalf("the plugin saw the token (or failed): %s %+v", out.Result, out.Error)
	}
	// Rate limit 2/m per subject and tool: the third call is refused with 429.
	for i := 0; i < 2; i++ {
		if resp, _ := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, hdr); resp.StatusCode != 200 {
			t.Fatalf("call %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, hdr)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third call: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another subject has its own bucket.
	other := map[string]string{"Authorization": "Bearer " + p.token(t, "carol", "tools:hello", nil)}
	if resp, _ := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, other); resp.StatusCode != 200 {
		t.Fatalf("another subject: %d", resp.StatusCode)
	}
	post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, nil) // 401

	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outcomes := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sc.Text(), tok) {
			t.Fatal("the token reached the audit log")
		}
		outcomes[rec["outcome"].(string)]++
		if rec["outcome"] == "ok" && (rec["subject"] == "" || rec["argsSha256"] == "" || rec["pluginDigest"] == "") {
			t.Errorf("incomplete audit record: %s", sc.Text())
		}
	}
	if outcomes["ok"] != 4 || outcomes["rate_limited"] != 1 || outcomes["unauthorized"] != 1 {
		t.Fatalf("audit outcomes = %v", outcomes)
	}
}

func TestRateLimitSharedThroughRedis(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	module(t, "hello", "./examples/hello")
	var urls []string
	for i := 0; i < 2; i++ { // two replicas, one Redis
		s, err := host.New(host.Options{Runtime: rt, RateLimits: &host.RateLimitConfig{Backend: "redis", RedisAddr: addr, OnError: "closed"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(t.Context()) })
		if err := s.Swap([]*host.Plugin{{Name: "hello", Module: module(t, "hello", "./examples/hello"), RateLimit: "3/m"}}, nil); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	allowed := 0
	for i := 0; i < 8; i++ {
		resp, _ := post(t, urls[i%2], "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, nil)
		if resp.StatusCode == 200 {
			allowed++
		} else if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if allowed != 3 {
		t.Fatalf("two replicas allowed %d calls under one 3/m limit", allowed)
	}
	// Redis gone: fail closed.
	testutil.StopRedis(t, addr)
	resp, _ := post(t, urls[0], "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "y"}}, map[string]string{})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("with Redis down and onError closed: status %d", resp.StatusCode)
	}
}

func TestNoAuthBehindProxyIsRefused(t *testing.T) {
	_, url := newServer(t)
	resp, _ := post(t, url, "2025-11-25", "tools/list", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
}
