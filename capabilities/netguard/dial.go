package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// dialContext is the transport's DialContext. It resolves the request's
// host once, refuses the connection if any address is not allowed, and
// connects only to an address it checked, by IP literal, so nothing
// downstream resolves the name again. With the default dialer the kernel's
// socket address is checked once more just before connect.
func (c *Client) dialContext(ctx context.Context, _, address string) (net.Conn, error) {
	h, _ := ctx.Value(hopKey{}).(*hop)
	if h == nil {
		return nil, errors.New("netguard: refusing a connection that no checked request asked for")
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || host != h.t.host || port != strconv.Itoa(h.t.port) {
		return nil, fmt.Errorf("netguard: refusing a connection to %q: the checked request was for %s", address, h.t.hostPort())
	}
	addrs, err := c.resolve(ctx, h.t)
	if err != nil {
		return nil, err
	}
	allowPrivate := h.allowsPrivate()
	for _, a := range addrs {
		if err := c.checkAddr(h, a, allowPrivate); err != nil {
			return nil, err
		}
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := c.connect(ctx, h, netip.AddrPortFrom(a, uint16(h.t.port)), allowPrivate)
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, ErrDenied) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// resolve returns the addresses t's host stands for, IPv4-mapped addresses
// unmapped and duplicates removed. An IP literal is its own address.
func (c *Client) resolve(ctx context.Context, t target) ([]netip.Addr, error) {
	if t.ip.IsValid() {
		return []netip.Addr{t.ip.Unmap()}, nil
	}
	found, err := c.resolver.LookupNetIP(ctx, "ip", t.host)
	if err != nil {
		return nil, fmt.Errorf("netguard: looking up %s: %w", t.host, err)
	}
	var addrs []netip.Addr
	for _, a := range found {
		if !a.IsValid() {
			return nil, fmt.Errorf("netguard: looking up %s: the resolver returned an invalid address", t.host)
		}
		a = a.Unmap()
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("netguard: looking up %s: no addresses", t.host)
	}
	return addrs, nil
}

// checkAddr refuses a metadata address always, and any other non-public
// address unless allowPrivate.
func (c *Client) checkAddr(h *hop, a netip.Addr, allowPrivate bool) error {
	cls := classify(a)
	if cls.kind == kindPublic || cls.kind == kindPrivate && allowPrivate {
		return nil
	}
	var how string
	if h.t.ip.IsValid() {
		if a == h.t.ip {
			how = a.String() + " is "
		} else {
			how = "that is " + a.String() + ", "
		}
	} else {
		how = "it resolved to " + a.String() + ", "
	}
	var reason string
	if cls.kind == kindMetadata {
		reason = how + cls.phrase() + ", which is always refused"
	} else {
		reason = how + cls.phrase() + ", and the grant does not set privateNetwork: allow for " + ruleHosts(h.rules)
	}
	e := c.denied(h.t, reason)
	e.IP = a
	return e
}

// ruleHosts lists the distinct hosts of rules, for a message.
func ruleHosts(rules []Rule) string {
	var hosts []string
	for _, r := range rules {
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	return strings.Join(hosts, " or ")
}

// connect opens a TCP connection to the checked address ap.
func (c *Client) connect(ctx context.Context, h *hop, ap netip.AddrPort, allowPrivate bool) (net.Conn, error) {
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	guard := func(_ context.Context, network, address string, _ syscall.RawConn) error {
		return c.checkSocket(h, ap, allowPrivate, network, address)
	}
	switch d := c.dialer.(type) {
	case nil:
		nd := &net.Dialer{ControlContext: guard}
		return nd.DialContext(ctx, network, ap.String())
	case *net.Dialer:
		nd := *d
		ctl, ctlCtx := d.Control, d.ControlContext
		nd.Control = nil
		nd.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
			if err := guard(ctx, network, address, rc); err != nil {
				return err
			}
			switch {
			case ctlCtx != nil:
				return ctlCtx(ctx, network, address, rc)
			case ctl != nil:
				return ctl(network, address, rc)
			}
			return nil
		}
		return nd.DialContext(ctx, network, ap.String())
	default:
		return d.DialContext(ctx, network, ap.String())
	}
}

// checkSocket is the net.Dialer control hook: it runs after the socket is
// created and before connect, with the address the kernel is about to
// connect to. It refuses anything but the checked address want, and checks
// that address's class again.
func (c *Client) checkSocket(h *hop, want netip.AddrPort, allowPrivate bool, network, address string) error {
	if network != "tcp4" && network != "tcp6" {
		return c.denied(h.t, fmt.Sprintf("the connection would use network %q, not TCP", network))
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return c.denied(h.t, "the socket address could not be parsed")
	}
	got := ap.Addr().Unmap()
	if got.WithZone("") != want.Addr().WithZone("") || ap.Port() != want.Port() {
		e := c.denied(h.t, fmt.Sprintf("the connection was about to go to %s instead of the checked address %s", netip.AddrPortFrom(got, ap.Port()), want))
		e.IP = got
		return e
	}
	return c.checkAddr(h, got, allowPrivate)
}
