package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardenmcp/warden/host/internal/auth"
)

// Example protects an MCP endpoint: metadata at the well-known paths, a 401 challenge
// for a request without a token, the tool for a token with the right scope.
func Example() {
	// The authorization server's signing key, published as a JWK Set file.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "auth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		log.Fatal(err)
	}

	a, err := auth.New(auth.Config{
		Issuer:          "https://id.example.com",
		Audience:        "https://mcp.example.com/mcp",
		JWKSFile:        jwksFile,
		ScopesSupported: []string{"tools:hello"},
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	for _, path := range auth.MetadataPaths("/mcp") {
		mux.Handle(path, a.MetadataHandler())
	}
	mux.Handle("/mcp", a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		if need := []string{"tools:hello"}; !auth.HasScopes(p, need) {
			a.WriteChallenge(w, auth.InsufficientScope(need))
			return
		}
		fmt.Fprintf(w, "hello %s via %s", p.Subject, p.ClientID)
	})))

	// A token as the authorization server would mint it.
	mint := func(scope string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}}, nil)
		if err != nil {
			log.Fatal(err)
		}
		claims, _ := json.Marshal(map[string]any{
			"iss": "https://id.example.com", "aud": "https://mcp.example.com/mcp",
			"sub": "alice", "client_id": "inspector", "scope": scope,
			"exp": time.Now().Add(time.Hour).Unix(),
		})
		jws, err := signer.Sign(claims)
		if err != nil {
			log.Fatal(err)
		}
		token, _ := jws.CompactSerialize()
		return token
	}

	call := func(method, path, token string) {
		r := httptest.NewRequest(method, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body.String())
		} else {
			fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	call("POST", "/mcp", "")
	call("POST", "/mcp", mint("tools:other"))
	call("POST", "/mcp", mint("tools:hello"))
	call("GET", "/.well-known/oauth-protected-resource/mcp", "")
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="tools:hello"
	// 403 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", error_description="this request needs scope 'tools:hello'", scope="tools:hello"
	// 200 hello alice via inspector
	// 200 {
	//   "resource": "https://mcp.example.com/mcp",
	//   "authorization_servers": [
	//     "https://id.example.com"
	//   ],
	//   "scopes_supported": [
	//     "tools:hello"
	//   ],
	//   "bearer_methods_supported": [
	//     "header"
	//   ]
	// }
}
