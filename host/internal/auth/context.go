package auth

import (
	"context"
	"net/http"
)

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal that NewContext or Middleware stored in ctx.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Middleware authenticates each request before next sees it: a refused request is
// answered with WriteChallenge; an accepted one reaches next with its Principal in the
// context (see FromContext) and without its Authorization header, so the token cannot
// travel further (the MCP specification forbids token passthrough).
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			a.WriteChallenge(w, err)
			return
		}
		r2 := r.WithContext(NewContext(r.Context(), p))
		r2.Header = r.Header.Clone()
		r2.Header.Del("Authorization")
		next.ServeHTTP(w, r2)
	})
}
