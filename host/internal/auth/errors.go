package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RFC 6750 error codes.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is why a request was refused: what goes into the WWW-Authenticate challenge and
// the JSON body of the answer.
type Error struct {
	// Status is the HTTP status: 401 when the request has no valid token, 403 when the
	// token lacks a scope.
	Status int
	// Code is the RFC 6750 error code: "invalid_request", "invalid_token" or
	// "insufficient_scope"; empty when the request carried no bearer token at all, which
	// RFC 6750 §3.1 answers with a bare challenge.
	Code string
	// Description says what was expected and what was found. It never contains the token.
	Description string
	// Scope is the space-separated list of scopes that would satisfy the request.
	Scope string
}

// Error returns the code and the description.
func (e *Error) Error() string {
	if e.Code == "" {
		return "auth: " + e.Description
	}
	return "auth: " + e.Code + ": " + e.Description
}

// WWWAuthenticate returns the value of the WWW-Authenticate header for e, for example
// `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
// error="invalid_token", error_description="token expired at 2026-01-02T03:04:05Z", scope="files:read"`.
// resourceMetadataURL may be empty to leave resource_metadata out. The description is
// omitted when there is no error code (a bare challenge), and characters that RFC 6750
// does not allow in it are replaced.
func (e *Error) WWWAuthenticate(resourceMetadataURL string) string {
	var params []string
	if resourceMetadataURL != "" {
		params = append(params, `resource_metadata="`+headerSafe(resourceMetadataURL)+`"`)
	}
	if e.Code != "" {
		params = append(params, `error="`+headerSafe(e.Code)+`"`)
		if e.Description != "" {
			params = append(params, `error_description="`+headerSafe(e.Description)+`"`)
		}
	}
	if scope := scopeSafe(e.Scope); scope != "" {
		params = append(params, `scope="`+scope+`"`)
	}
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

// headerSafe maps s onto the characters RFC 6750 allows in a quoted parameter value
// (%x20-21 / %x23-5B / %x5D-7E): a double quote becomes a single one, a backslash a
// slash, and anything else outside that range a question mark.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// scopeSafe keeps the scope tokens of s that RFC 6749 allows, single-space separated.
func scopeSafe(s string) string {
	var out []string
	for _, t := range strings.Fields(s) {
		if validScopeToken(t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

// InsufficientScope returns the 403 error for a request that needs the scopes in need
// (RFC 6750 insufficient_scope); its scope parameter tells the client what to ask for.
func InsufficientScope(need []string) *Error {
	scope := scopeSafe(strings.Join(need, " "))
	return &Error{
		Status:      http.StatusForbidden,
		Code:        CodeInsufficientScope,
		Description: fmt.Sprintf("this request needs scope %q", scope),
		Scope:       scope,
	}
}

// HasScopes reports whether p was granted every scope in need. A nil p has no scopes,
// so it passes only an empty need.
func HasScopes(p *Principal, need []string) bool {
	for _, n := range need {
		if p == nil || !contains(p.Scopes, n) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WriteChallenge answers a refused request. An *Error (also wrapped) becomes a 403 when
// its Status is 403 and a 401 otherwise, with a WWW-Authenticate header pointing at this server's Protected Resource Metadata
// and a JSON body {"error", "error_description"}; a nil error becomes the bare 401
// challenge for a request without credentials; any other error (keys unavailable)
// becomes 503 with Retry-After, since the client's token may be fine.
func (a *Authenticator) WriteChallenge(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	var e *Error
	switch {
	case err == nil:
		e = a.unauthorized("", "this resource needs a bearer token")
	case !errors.As(err, &e):
		h.Set("Retry-After", "10")
		w.WriteHeader(http.StatusServiceUnavailable)
		writeBody(w, "temporarily_unavailable", "the server cannot check tokens right now")
		return
	}
	status := e.Status
	if status != http.StatusForbidden {
		status = http.StatusUnauthorized
	}
	h.Set("WWW-Authenticate", e.WWWAuthenticate(a.metadataURL))
	w.WriteHeader(status)
	writeBody(w, e.Code, e.Description)
}

func writeBody(w http.ResponseWriter, code, desc string) {
	body := struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description,omitempty"`
	}{code, desc}
	b, _ := json.Marshal(body)
	_, _ = w.Write(append(b, '\n'))
}

// unauthorized returns a 401 error whose challenge asks for the supported scopes.
func (a *Authenticator) unauthorized(code, format string, args ...any) *Error {
	return &Error{
		Status:      http.StatusUnauthorized,
		Code:        code,
		Description: fmt.Sprintf(format, args...),
		Scope:       a.challengeScope,
	}
}

// clip makes a value taken from a request or token fit for an error description: at
// most 64 characters, control and invalid characters replaced.
func clip(s string) string {
	const max = 64
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
