package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Principal is who a valid token speaks for.
type Principal struct {
	// Subject is the token's "sub" claim, which is required.
	Subject string
	// Issuer is the token's "iss" claim, equal to Config.Issuer.
	Issuer string
	// ClientID is the OAuth client the token was issued to: "client_id", else "azp".
	ClientID string
	// Scopes are the granted scopes from "scope" (space-separated string) and "scp"
	// (array or string), without duplicates.
	Scopes []string
	// Roles come from Config.RolesClaim; nil when it is not set or the claim is absent.
	Roles []string
	// ExpiresAt is when the token expires ("exp").
	ExpiresAt time.Time
	// TokenID is the token's "jti" claim, if any.
	TokenID string
}

// Authenticate checks the bearer token of r and returns whom it speaks for.
//
// A refusal is an *Error: 401 with no code when r carries no bearer token, 401
// invalid_request when the Authorization header is malformed (or repeated, or a token is
// sent in the query string), 401 invalid_token when the token is not acceptable. An error
// wrapping ErrUnavailable means no signing keys could be loaded. Authenticate does not
// check scopes: see HasScopes and InsufficientScope.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return nil, a.unauthorized(CodeInvalidRequest, "access tokens in the query string are not accepted; send an Authorization: Bearer header")
	}
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return nil, a.unauthorized("", "the request has no Authorization header")
	case 1:
	default:
		return nil, a.unauthorized(CodeInvalidRequest, "the request has %d Authorization headers; send exactly one", len(values))
	}
	token, err := ParseBearer(values[0])
	if err != nil {
		e := err.(*Error)
		e.Scope = a.challengeScope
		return nil, e
	}
	return a.verify(r.Context(), token)
}

// verify checks a compact JWS token: header, key, signature, then claims.
func (a *Authenticator) verify(ctx context.Context, token string) (*Principal, error) {
	fail := func(format string, args ...any) (*Principal, error) {
		return nil, a.unauthorized(CodeInvalidToken, format, args...)
	}
	if len(token) > maxTokenBytes {
		return fail("token is %d bytes; at most %d are accepted", len(token), maxTokenBytes)
	}
	parts := strings.Count(token, ".") + 1
	switch {
	case parts == 5:
		return fail("token is encrypted (JWE); this server accepts signed JWTs (JWS) only")
	case parts != 3:
		return fail("token is not a JWT: expected 3 dot-separated parts, found %d", parts)
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(token[:strings.IndexByte(token, '.')])
	if err != nil {
		return fail("token header is not base64url: %v", err)
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  *string         `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(rawHeader, &hdr); err != nil {
		return fail("token header is not a JSON object with string alg and kid: %v", err)
	}
	if !slices.Contains(a.algs, hdr.Alg) {
		if hdr.Alg == "" {
			return fail("token header has no alg; this server accepts %s", strings.Join(a.algs, ", "))
		}
		return fail("token alg is %q; this server accepts %s", clip(hdr.Alg), strings.Join(a.algs, ", "))
	}
	if hdr.Crit != nil {
		return fail("token header lists critical extensions (crit); none are supported")
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{supportedAlgorithms[hdr.Alg]})
	if err != nil {
		return fail("token is not a valid JWS: %v", err)
	}

	kid := ""
	if hdr.Kid != nil {
		kid = *hdr.Kid
	}
	set, err := a.keys.lookup(ctx, kid, hdr.Kid != nil)
	if err != nil {
		return nil, err
	}
	candidates := set.all
	if hdr.Kid != nil {
		candidates = set.byKID[kid]
		if len(candidates) == 0 {
			if why, ok := set.ignored[kid]; ok {
				return fail("the JWKS key with kid %q is not used: %s", clip(kid), why)
			}
			return fail("no key with kid %q in the JWKS", clip(kid))
		}
	}
	var fit []jose.JSONWebKey
	for _, k := range candidates {
		if keyFits(k, hdr.Alg) {
			fit = append(fit, k)
		}
	}
	if len(fit) == 0 {
		if hdr.Kid != nil {
			k := candidates[0]
			if k.Algorithm != "" && k.Algorithm != hdr.Alg {
				return fail("key %q is for alg %s but the token alg is %s", clip(kid), k.Algorithm, hdr.Alg)
			}
			return fail("key %q is %s, which cannot verify alg %s", clip(kid), keyDescription(k.Key), hdr.Alg)
		}
		return fail("token has no kid and no key in the JWKS fits its alg %s", hdr.Alg)
	}
	var payload []byte
	for _, k := range fit {
		if payload, err = jws.Verify(k.Key); err == nil {
			break
		}
	}
	if err != nil {
		if hdr.Kid != nil {
			return fail("token signature does not verify with the JWKS key %q", clip(kid))
		}
		return fail("token has no kid and its signature verifies with none of the %d JWKS keys for alg %s", len(fit), hdr.Alg)
	}
	return a.checkClaims(payload)
}

// tokenClaims are the claims Warden reads. Fields that may take several JSON shapes are
// kept raw.
type tokenClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      json.RawMessage `json:"exp"`
	Nbf      json.RawMessage `json:"nbf"`
	Iat      json.RawMessage `json:"iat"`
	Jti      string          `json:"jti"`
	Scope    json.RawMessage `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID string          `json:"client_id"`
	Azp      string          `json:"azp"`
}

// numericDate decodes a JWT NumericDate claim (seconds since the epoch, possibly
// fractional); absent or null gives nil.
func numericDate(name string, raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("token %s claim is not a number", name)
	}
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return nil, fmt.Errorf("token %s claim is %v, out of range", name, f)
	}
	sec, frac := math.Modf(f)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return &t, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *Authenticator) checkClaims(payload []byte) (*Principal, error) {
	fail := func(format string, args ...any) (*Principal, error) {
		return nil, a.unauthorized(CodeInvalidToken, format, args...)
	}
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return fail("token payload is not a JSON object")
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return fail("token claims are malformed: %s", claimError(err))
	}

	if c.Iss != a.cfg.Issuer {
		if c.Iss == "" {
			return fail("token has no issuer (iss) but this server trusts %s", a.cfg.Issuer)
		}
		return fail("token issuer is %s but this server trusts %s", clip(c.Iss), a.cfg.Issuer)
	}
	aud, ok := stringOrList(c.Aud)
	if !ok {
		return fail("token audience (aud) is neither a string nor an array of strings")
	}
	if !slices.Contains(aud, a.cfg.Audience) {
		if len(aud) == 0 {
			return fail("token has no audience (aud) but this server is %s", a.cfg.Audience)
		}
		shown := make([]string, 0, 4)
		for i, s := range aud {
			if i == 3 {
				shown = append(shown, fmt.Sprintf("and %d more", len(aud)-3))
				break
			}
			shown = append(shown, clip(s))
		}
		return fail("token audience is [%s] but this server is %s", strings.Join(shown, " "), a.cfg.Audience)
	}

	var exp, nbf, iat *time.Time
	for _, d := range []struct {
		name string
		raw  json.RawMessage
		dst  **time.Time
	}{{"exp", c.Exp, &exp}, {"nbf", c.Nbf, &nbf}, {"iat", c.Iat, &iat}} {
		t, err := numericDate(d.name, d.raw)
		if err != nil {
			return fail("%s", err.Error())
		}
		*d.dst = t
	}
	now := a.now()
	if exp == nil {
		return fail("token has no expiry (exp)")
	}
	if !now.Before(exp.Add(a.skew)) {
		return fail("token expired at %s (now %s, skew %v)", stamp(*exp), stamp(now), a.skew)
	}
	if nbf != nil && now.Add(a.skew).Before(*nbf) {
		return fail("token is not valid before %s (now %s, skew %v)", stamp(*nbf), stamp(now), a.skew)
	}
	if iat != nil && now.Add(a.skew).Before(*iat) {
		return fail("token was issued in the future at %s (now %s, skew %v)", stamp(*iat), stamp(now), a.skew)
	}
	if c.Sub == "" {
		return fail("token has no subject (sub)")
	}

	p := &Principal{
		Subject:   c.Sub,
		Issuer:    c.Iss,
		ClientID:  c.ClientID,
		ExpiresAt: *exp,
		TokenID:   c.Jti,
	}
	if p.ClientID == "" {
		p.ClientID = c.Azp
	}
	for _, raw := range []struct {
		name string
		v    json.RawMessage
	}{{"scope", c.Scope}, {"scp", c.Scp}} {
		list, ok := stringOrList(raw.v)
		if !ok {
			return fail("token %s claim is neither a string nor an array of strings", raw.name)
		}
		for _, item := range list {
			for _, s := range strings.Fields(item) {
				if !slices.Contains(p.Scopes, s) {
					p.Scopes = append(p.Scopes, s)
				}
			}
		}
	}
	if a.cfg.RolesClaim != "" {
		roles, err := a.roles(payload)
		if err != nil {
			return fail("%s", err.Error())
		}
		p.Roles = roles
	}
	return p, nil
}

// roles reads Config.RolesClaim: a top-level claim of that name, else a dotted path.
// A string is one role; an array must hold only strings.
func (a *Authenticator) roles(payload []byte) ([]string, error) {
	name := a.cfg.RolesClaim
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		return nil, err
	}
	raw, ok := top[name]
	if !ok && strings.Contains(name, ".") {
		path := strings.Split(name, ".")
		cur := top
		for i, seg := range path {
			v, found := cur[seg]
			if !found {
				break
			}
			if i == len(path)-1 {
				raw, ok = v, true
				break
			}
			cur = nil
			if json.Unmarshal(v, &cur) != nil || cur == nil {
				break
			}
		}
	}
	if !ok {
		return nil, nil
	}
	list, okList := stringOrList(raw)
	if !okList {
		return nil, fmt.Errorf("token roles claim %q is neither a string nor an array of strings", clip(name))
	}
	list = slices.DeleteFunc(list, func(s string) bool { return s == "" })
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// stringOrList decodes a claim that is absent or null (nil, true), a string or an array
// of strings.
func stringOrList(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, true
	}
	return nil, false
}

// claimError shortens encoding/json errors to the claim and the problem.
func claimError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("claim %q is a JSON %s, not a %s", te.Field, te.Value, te.Type)
	}
	return err.Error()
}
