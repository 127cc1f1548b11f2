package auth

import (
	"encoding/json"
	"net/http"
	"strings"
)

// protectedResourceMetadata is the RFC 9728 §2 document.
type protectedResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
}

func buildMetadata(cfg Config) ([]byte, error) {
	b, err := json.MarshalIndent(protectedResourceMetadata{
		Resource:               cfg.Audience,
		AuthorizationServers:   cfg.AuthorizationServers,
		ScopesSupported:        cfg.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceDocumentation:  cfg.ResourceDocumentation,
	}, "", "  ")
	return append(b, '\n'), err
}

// MetadataHandler serves this server's RFC 9728 Protected Resource Metadata as JSON:
// resource (Config.Audience), authorization_servers, scopes_supported,
// bearer_methods_supported (["header"]) and resource_documentation when set. It answers
// GET and HEAD, and OPTIONS for CORS preflight, since browser-based clients read it
// cross-origin. Mount it at the paths MetadataPaths returns.
func (a *Authenticator) MetadataHandler() http.Handler {
	body := a.metadata
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "public, max-age=300")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				_, _ = w.Write(body)
			}
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Mcp-Protocol-Version")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// MetadataPaths returns the paths at which to serve the Protected Resource Metadata for
// an MCP endpoint path such as "/mcp": the root well-known path
// "/.well-known/oauth-protected-resource" and, for an endpoint other than "/", the
// path-inserted one RFC 9728 §3.1 derives from the resource URI,
// "/.well-known/oauth-protected-resource/mcp". A trailing slash on endpoint is dropped.
func MetadataPaths(endpoint string) []string {
	p := strings.TrimRight(endpoint, "/")
	if p == "" {
		return []string{wellKnownPath}
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return []string{wellKnownPath, wellKnownPath + p}
}
