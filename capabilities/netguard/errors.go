package netguard

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrDenied is matched by errors.Is for every request the grant refuses.
var ErrDenied = errors.New("netguard: request denied by the plugin's network grant")

// ErrTooLarge is matched by errors.Is when a request or response body is
// larger than the policy allows.
var ErrTooLarge = errors.New("netguard: body too large")

// DeniedError says which request a grant refused and why. Its message names
// the plugin, what it asked for and what the grant allows; it never holds
// the URL's path or query, request headers or bodies, which may carry
// secrets.
type DeniedError struct {
	// Plugin is the policy's plugin name.
	Plugin string
	// Host is the normalised host name or IP literal asked for; a
	// Go-quoted string when it is not a valid host; empty when the URL had
	// none or could not be parsed.
	Host string
	// Port is the port asked for, explicit or the scheme's default; 0 when
	// unknown.
	Port int
	// Scheme is the URL's scheme.
	Scheme string
	// IP is the address that was refused, when the refusal is about the
	// address a name resolved to (or an IP literal's class).
	IP netip.Addr
	// Reason is the clause that explains the refusal, e.g. "the grant
	// allows no hosts".
	Reason string
	// RedirectFrom is "host:port" of the server whose redirect led here,
	// or empty for the first request.
	RedirectFrom string
	// Allowed is a copy of the grant's rules, for callers that want to
	// show them.
	Allowed []Rule
}

// Error returns a sentence such as "plugin fetch asked for
// api.github.com:443 over https; the grant allows no hosts".
func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString("plugin ")
	if e.Plugin != "" {
		b.WriteString(e.Plugin)
	} else {
		b.WriteString("(unnamed)")
	}
	if e.RedirectFrom != "" {
		b.WriteString(" was redirected from ")
		b.WriteString(e.RedirectFrom)
		b.WriteString(" to ")
	} else {
		b.WriteString(" asked for ")
	}
	b.WriteString(e.target())
	b.WriteString("; ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

func (e *DeniedError) target() string {
	var t string
	switch {
	case e.Host == "":
		t = "a URL"
	case e.Port != 0:
		t = net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	default:
		t = e.Host
	}
	if e.Scheme != "" {
		t += " over " + e.Scheme
	}
	return t
}
