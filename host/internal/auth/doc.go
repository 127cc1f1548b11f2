// Package auth makes Warden an OAuth 2.1 resource server as the MCP authorization
// specification (2025-11-25 and 2026-07-28) describes one.
//
// An Authenticator checks the bearer token of each request: a JWT signed with RS256,
// ES256 or EdDSA (or another configured asymmetric algorithm) by a key from the
// authorization server's JWK Set, issued by the configured issuer, addressed to this
// server's canonical resource URI (RFC 8707) and valid now within a bounded clock skew.
// A valid token becomes a Principal (subject, client, scopes, roles).
//
// Failures are *Error values that carry the HTTP status (401 or 403), the RFC 6750 error
// code and a description that says what was expected and what was found, without echoing
// the token. WriteChallenge turns them into responses with a WWW-Authenticate header
// that points clients at this server's RFC 9728 Protected Resource Metadata, which
// MetadataHandler serves at the paths MetadataPaths returns.
//
// The JWK Set is read from a file once (and again on Reload) or fetched over HTTPS with
// a bounded client, cached, and refetched when a token names an unknown key, at most once
// per refetch interval, so that tokens with random key IDs cannot make the server hammer
// the authorization server.
package auth
