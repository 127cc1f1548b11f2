package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "Bearer abc", "bearer abc", "BEARER a.b.c", "Bearer  abc",
		"Bearer abc def", "Bearer abc==", "Bearer abc=d", "Bearer ==", "Basic dXNlcjpwYXNz",
		"Bearer a\tb", "Bearer é", "Bearerabc", "Bearer\tabc", "Basic\tabc", "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, err := ParseBearer(header)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || (e.Code != "" && e.Code != CodeInvalidRequest) {
				t.Fatalf("ParseBearer(%q) error %#v", header, err)
			}
			if token != "" {
				t.Fatalf("token %q with an error", token)
			}
			// The scheme may be quoted back; the credentials after it never.
			scheme, creds := header, ""
			if i := strings.IndexAny(header, " \t"); i >= 0 {
				scheme, creds = header[:i], header[i+1:]
			}
			if w := echoed(strings.ReplaceAll(e.Description, strconv.Quote(scheme), ""), creds, 21); w != "" {
				t.Fatalf("description %q echoes %q", e.Description, w)
			}
			return
		}
		if len(header) < 8 || !strings.EqualFold(header[:7], "Bearer ") || header[7:] != token {
			t.Fatalf("ParseBearer(%q) = %q", header, token)
		}
		if token == "" || len(token) > maxTokenBytes {
			t.Fatalf("token length %d", len(token))
		}
		body := strings.TrimRight(token, "=")
		if body == "" {
			t.Fatalf("padding-only token %q", token)
		}
		for i := 0; i < len(body); i++ {
			if !isToken68Char(body[i]) {
				t.Fatalf("token %q has byte %q", token, body[i])
			}
		}
	})
}

// FuzzAuthenticate feeds arbitrary tokens to an Authenticator whose JWKS is a file: it
// must never panic and never accept. The seeds are near misses: tokens signed by keys
// that are not in the JWKS, or by keys that are but with claims that must fail, so that
// no mutation of a seed can become a valid token.
func FuzzAuthenticate(f *testing.F) {
	genKeys(f)
	rsa1, ec1, ed1 := rsaKey(f, 0, "rsa-1"), ecKey(f, 0, "ec-1"), edKey(f, 0, "ed-1")
	var set jose.JSONWebKeySet
	for _, k := range []testKey{rsa1, ec1, ed1} {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, _ := json.Marshal(set)
	file := filepath.Join(f.TempDir(), "jwks.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		f.Fatal(err)
	}
	cfg := baseConfig("")
	cfg.JWKSFile = file
	a := mustNew(f, cfg, WithClock(func() time.Time { return testStart }))

	good := claimsAt(testStart, nil)
	for _, s := range []string{
		mint(f, rsaKey(f, 1, "rsa-1"), good),
		mint(f, ecKey(f, 1, "ec-1"), good),
		mint(f, edKey(f, 1, "ed-1"), good),
		mint(f, edKey(f, 1, ""), good),
		mint(f, ed1, claimsAt(testStart, map[string]any{"aud": "https://other"})),
		mint(f, rsa1, claimsAt(testStart, map[string]any{"exp": testStart.Add(-time.Hour).Unix()})),
		mint(f, ec1, claimsAt(testStart, map[string]any{"iss": "https://evil"})),
		mintRaw(f, map[string]any{"alg": "none"}, good, nil),
		mintRaw(f, map[string]any{"alg": "HS256", "kid": "rsa-1"}, good, hs256([]byte("secret"))),
		"a.b.c", "a.b.c.d.e", "", "e30.e30.", "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Header["Authorization"] = []string{"Bearer " + token}
		p, err := a.Authenticate(r)
		if err == nil {
			t.Fatalf("accepted %q as %+v", token, p)
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("error %v (%T), want a 401 *Error", err, err)
		}
		switch e.Code {
		case "", CodeInvalidRequest, CodeInvalidToken:
		default:
			t.Fatalf("code %q", e.Code)
		}
		if w := echoed(e.Description, token, 32); w != "" {
			t.Fatalf("description %q echoes %q", e.Description, w)
		}
		_ = e.WWWAuthenticate(testMetaURL)
	})
}

// echoed returns a window of n bytes of secret that desc contains, or "". Windows with
// a space are skipped: the fixed text of descriptions has no long run without one.
func echoed(desc, secret string, n int) string {
	if len(secret) > 4096 {
		secret = secret[:4096]
	}
	for i := 0; i+n <= len(secret); i++ {
		w := secret[i : i+n]
		if !strings.ContainsAny(w, " \t") && strings.Contains(desc, w) {
			return w
		}
	}
	return ""
}
