package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// errNoRoute is what fakeNet's dialer returns for an address it has no
// route for: it records the address and connects nowhere.
var errNoRoute = errors.New("fakeNet: recorded, not connected")

// fakeNet is an injected resolver and dialer. Names resolve to what the
// test says. A dial is recorded and connects only when the test routed its
// address to a loopback test server; otherwise no packet is sent. Tests
// that involve a non-loopback address go through fakeNet, so that even a
// bug in the guard cannot send traffic anywhere but 127.0.0.1.
type fakeNet struct {
	t *testing.T

	mu      sync.Mutex
	names   map[string][][]netip.Addr // successive answers; the last repeats
	routes  map[string]string         // "ip:port" -> loopback "127.0.0.1:port"
	lookups []string
	dials   []string
}

func newFakeNet(t *testing.T) *fakeNet {
	return &fakeNet{t: t, names: map[string][][]netip.Addr{}, routes: map[string]string{}}
}

// name makes host resolve to addrs, then to the next call's answers.
func (f *fakeNet) name(host string, answers ...[]netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[host] = answers
}

// route makes a dial of "ip:port" connect to the loopback server srv.
func (f *fakeNet) route(ipPort string, srv *httptest.Server) {
	u, err := url.Parse(srv.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(u.Host)
	if !ap.Addr().IsLoopback() {
		f.t.Fatalf("refusing to route to non-loopback %s", ap)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[ipPort] = ap.String()
}

func (f *fakeNet) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, host)
	answers, ok := f.names[host]
	if !ok || len(answers) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	a := answers[0]
	if len(answers) > 1 {
		f.names[host] = answers[1:]
	}
	return a, nil
}

func (f *fakeNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	f.mu.Lock()
	f.dials = append(f.dials, network+" "+address)
	dest, ok := f.routes[address]
	f.mu.Unlock()
	if !ok {
		return nil, errNoRoute
	}
	if !netip.MustParseAddrPort(dest).Addr().IsLoopback() {
		panic("fakeNet: non-loopback route " + dest)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", dest)
}

func (f *fakeNet) Dials() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dials...)
}

func (f *fakeNet) Lookups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lookups...)
}

// options returns the options that make a Client use f for everything.
func (f *fakeNet) options() []Option {
	return []Option{WithResolver(f), WithDialer(f)}
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// loopbackServer starts an httptest server on 127.0.0.1 and returns it
// with its port. It fails the test if the server is not on loopback.
func loopbackServer(t *testing.T, h http.Handler) (*httptest.Server, int) {
	t.Helper()
	return watchedServer(t, h, nil)
}

// watchedServer is loopbackServer with a ConnState hook, set before the
// server starts (httptest wraps it).
func watchedServer(t *testing.T, h http.Handler, state func(net.Conn, http.ConnState)) (*httptest.Server, int) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = state
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, serverPort(t, srv)
}

// connCounter counts a server's connection events by state.
type connCounter struct {
	mu     sync.Mutex
	states map[http.ConnState]int
}

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil {
		c.states = map[http.ConnState]int{}
	}
	c.states[s]++
}

func (c *connCounter) count(s http.ConnState) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.states[s]
}

func serverPort(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" {
		t.Fatalf("test server on %s, want 127.0.0.1", u.Hostname())
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustNew(t *testing.T, p Policy, opts ...Option) *Client {
	t.Helper()
	c, err := New(p, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func asDenied(t *testing.T, err error) *DeniedError {
	t.Helper()
	var d *DeniedError
	if !errors.As(err, &d) {
		t.Fatalf("error %v (%T) is not a *DeniedError", err, err)
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("errors.Is(%v, ErrDenied) = false", err)
	}
	return d
}

func get(url string) *Request { return &Request{Method: "GET", URL: url} }

func hostPort(host string, port int) string { return net.JoinHostPort(host, fmt.Sprint(port)) }
