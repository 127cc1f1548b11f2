// Package netguard enforces a grant's network allow-list on outbound HTTP
// requests made on behalf of a plugin.
//
// A Client, built by New from a Policy, is the only way a plugin's request
// leaves the host. For every request, and again for every redirect hop, it
//
//   - parses the URL: http or https only, no user information, an ASCII
//     host (IDNs in punycode), no legacy numeric IPv4 forms, no IPv6 zones;
//   - matches the host, port and scheme against the rules: an exact host
//     or IP literal, or "*.suffix" for any name below suffix (not suffix
//     itself); case and a trailing dot do not matter;
//   - resolves the name once per connection, refuses the connection if any
//     address is not allowed, and connects to a checked IP literal so
//     nothing resolves the name again (DNS rebinding cannot swap in
//     another address);
//   - checks the socket address once more in net.Dialer's control hook,
//     just before the kernel connects.
//
// An address that is not public (see Classify) is refused unless a rule
// that allowed the request sets privateNetwork: allow. Rules add up: when
// several rules allow a request (say "api.example.com" and
// "*.example.com"), privateNetwork: allow on any of them is enough. If a
// name resolves to several addresses and any one of them is refused, the
// whole request is. Cloud metadata and
// credential endpoints (169.254.169.254, 169.254.170.2, 169.254.170.23,
// 169.254.0.23, 100.100.100.200, 168.63.129.16, 192.0.0.192,
// fd00:ec2::254, fd00:ec2::23, fd20:ce::254, and their IPv4-mapped, NAT64
// and 6to4 forms) are always refused, even with privateNetwork: allow and
// even when a rule names the address.
//
// A Client never uses a proxy (the environment's proxy settings are
// ignored), has its own connection pool that no other Client shares,
// drops Authorization and Cookie headers when a redirect leaves the
// origin, follows at most Policy.MaxRedirects redirects, and fails rather
// than truncates a response larger than Policy.MaxResponseBytes.
//
// Refusals are *DeniedError values that match ErrDenied. Their messages
// say what was asked for and what the grant allows, and never include the
// URL's path or query, headers or bodies.
package netguard
