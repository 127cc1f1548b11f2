package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// maxTokenBytes caps the size of a bearer token. Real access tokens are a few KiB.
const maxTokenBytes = 16 << 10

// ParseBearer extracts the token from an Authorization header value. It is strict: the
// scheme "Bearer" (in any case), exactly one space, then a token68 (RFC 7235: letters,
// digits and "-._~+/", then optional "=" padding) of at most 16 KiB.
//
// The errors are *Error values with status 401: for an empty header or another scheme
// (such as Basic) the error has no code, since RFC 6750 §3.1 answers a request without
// bearer credentials with a bare challenge; for a malformed Bearer header the code is
// invalid_request. Their Scope is empty.
func ParseBearer(header string) (string, error) {
	if header == "" {
		return "", &Error{Status: http.StatusUnauthorized, Description: "the request has no Authorization header"}
	}
	bad := func(format string, args ...any) (string, error) {
		return "", &Error{Status: http.StatusUnauthorized, Code: CodeInvalidRequest, Description: fmt.Sprintf(format, args...)}
	}
	scheme, token, found := header, "", false
	if i := strings.IndexAny(header, " \t"); i >= 0 {
		scheme, token, found = header[:i], header[i+1:], true
		if header[i] == '\t' && strings.EqualFold(scheme, "Bearer") {
			return bad("the Authorization header separates Bearer from the token with a tab; use one space")
		}
	}
	if !strings.EqualFold(scheme, "Bearer") {
		// Echo the scheme only when it looks like one, never a token.
		if len(scheme) >= 6 && strings.EqualFold(scheme[:6], "Bearer") {
			return bad("the Authorization header must be Bearer, one space, then the token")
		}
		desc := "the Authorization header does not start with an authentication scheme; this server accepts Bearer"
		if isSchemeName(scheme) {
			desc = fmt.Sprintf("the Authorization scheme is %q; this server accepts Bearer", scheme)
		}
		return "", &Error{Status: http.StatusUnauthorized, Description: desc}
	}
	switch {
	case !found || token == "":
		return bad("the Authorization header has the Bearer scheme but no token")
	case token[0] == ' ':
		return bad("the Authorization header has more than one space after Bearer")
	case len(token) > maxTokenBytes:
		return bad("the bearer token is %d bytes; at most %d are accepted", len(token), maxTokenBytes)
	}
	padding := false
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '=':
			padding = true
		case padding:
			return bad("the bearer token has a character after its \"=\" padding")
		case isToken68Char(c):
		default:
			return bad("the bearer token has a character not allowed in a token68 at byte %d", i)
		}
	}
	if token[0] == '=' {
		return bad("the bearer token is only padding")
	}
	return token, nil
}

func isToken68Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// isSchemeName reports whether s looks like an HTTP authentication scheme name short
// enough to quote back: 1 to 20 letters, digits or "-".
func isSchemeName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
