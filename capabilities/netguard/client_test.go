package netguard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loopbackRule grants 127.0.0.1:port over http with privateNetwork: allow.
func loopbackRule(port int) Rule {
	return Rule{Host: "127.0.0.1", Ports: []int{port}, Schemes: []string{"http"}, PrivateNetwork: "allow"}
}

func TestLoopbackRequest(t *testing.T) {
	var gotHost, gotAuth, gotBody, gotMethod string
	var conns connCounter
	srv, port := watchedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotHost, gotAuth, gotBody, gotMethod = r.Host, r.Header.Get("Authorization"), string(b), r.Method
		w.Header().Set("X-Answer", "42")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "hello")
	}), conns.hook)
	c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{loopbackRule(port)}})
	resp, err := c.Do(context.Background(), &Request{
		Method: "POST",
		URL:    srv.URL + "/path?q=1",
		Header: http.Header{"Authorization": {"Bearer t"}, "Host": {"evil.example.com"}},
		Body:   []byte("payload"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTeapot || string(resp.Body) != "hello" || resp.Header.Get("X-Answer") != "42" {
		t.Errorf("response %d %q %v", resp.Status, resp.Body, resp.Header)
	}
	if gotHost != hostPort("127.0.0.1", port) || gotAuth != "Bearer t" || gotBody != "payload" || gotMethod != "POST" {
		t.Errorf("server saw host %q auth %q body %q method %q", gotHost, gotAuth, gotBody, gotMethod)
	}

	// The same server without privateNetwork: allow is refused before any
	// connection is made.
	before := conns.count(http.StateNew)
	r := loopbackRule(port)
	r.PrivateNetwork = ""
	c2 := mustNew(t, Policy{Plugin: "p", Rules: []Rule{r}})
	_, err = c2.Do(context.Background(), get(srv.URL))
	if d := asDenied(t, err); d.IP != netip.MustParseAddr("127.0.0.1") || !strings.Contains(d.Reason, "loopback") {
		t.Errorf("denied: %v", d)
	}
	if n := conns.count(http.StateNew) - before; n != 0 {
		t.Errorf("server saw %d new connections", n)
	}
}

func TestRefusedMethods(t *testing.T) {
	c := mustNew(t, Policy{Rules: []Rule{loopbackRule(1)}})
	if _, err := c.Do(context.Background(), &Request{Method: "CONNECT", URL: "http://127.0.0.1:1/"}); err == nil {
		t.Error("CONNECT allowed")
	}
	if _, err := c.Do(context.Background(), nil); err == nil {
		t.Error("nil request allowed")
	}
	if _, err := c.Do(context.Background(), &Request{Method: "BAD METHOD", URL: "http://127.0.0.1:1/"}); err == nil || errors.Is(err, ErrDenied) {
		t.Errorf("bad method: %v", err)
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.ServerName)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-CA case logs a handshake error
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := serverPort(t, srv)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	// httptest's certificate is for example.com and 127.0.0.1; make
	// example.com resolve to the server.
	fn := newFakeNet(t)
	fn.name("example.com", addrs("127.0.0.1"))
	rules := []Rule{
		{Host: "127.0.0.1", Ports: []int{port}, Schemes: []string{"https"}, PrivateNetwork: "allow"},
		{Host: "example.com", Ports: []int{port}, Schemes: []string{"https"}, PrivateNetwork: "allow"},
	}
	c := mustNew(t, Policy{Rules: rules}, WithRootCAs(pool), WithResolver(fn))
	if c.transport.TLSClientConfig.MinVersion != tls.VersionTLS12 || c.transport.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS config is not the safe default")
	}
	for _, u := range []string{srv.URL, fmt.Sprintf("https://example.com:%d/", port)} {
		resp, err := c.Do(context.Background(), get(u))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		// HTTP/2 goes through the same guarded dialer.
		if !strings.HasPrefix(string(resp.Body), "HTTP/2.0 ") {
			t.Errorf("%s: %q", u, resp.Body)
		}
	}
	// The same port over http is not granted.
	_, err := c.Do(context.Background(), get(fmt.Sprintf("http://127.0.0.1:%d/", port)))
	if d := asDenied(t, err); !strings.Contains(d.Reason, "only as") {
		t.Errorf("%v", d)
	}
	// Without the test CA the certificate is refused.
	c2 := mustNew(t, Policy{Rules: rules})
	if _, err := c2.Do(context.Background(), get(srv.URL)); err == nil || errors.Is(err, ErrDenied) {
		t.Errorf("untrusted certificate: err = %v", err)
	}
}

// TestRebinding: the name is resolved once per connection, every answer is
// checked, and only a checked IP literal is dialled.
func TestRebinding(t *testing.T) {
	rule := Rule{Host: "rebind.example.com", Ports: []int{443}, Schemes: []string{"https"}}

	t.Run("public then loopback", func(t *testing.T) {
		fn := newFakeNet(t)
		fn.name("rebind.example.com", addrs("93.184.216.34"), addrs("127.0.0.1"))
		c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{rule}}, fn.options()...)
		_, err := c.Do(context.Background(), get("https://rebind.example.com/"))
		if !errors.Is(err, errNoRoute) {
			t.Fatalf("first: %v", err)
		}
		_, err = c.Do(context.Background(), get("https://rebind.example.com/"))
		if d := asDenied(t, err); d.IP != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("second: %v", d)
		}
		if got := fn.Dials(); len(got) != 1 || got[0] != "tcp4 93.184.216.34:443" {
			t.Errorf("dials %q", got)
		}
		if got := fn.Lookups(); len(got) != 2 {
			t.Errorf("lookups %q, want one per connection", got)
		}
	})

	t.Run("mixed answer", func(t *testing.T) {
		fn := newFakeNet(t)
		fn.name("rebind.example.com", addrs("93.184.216.34", "10.0.0.1", "8.8.8.8"))
		c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{rule}}, fn.options()...)
		_, err := c.Do(context.Background(), get("https://rebind.example.com/"))
		if d := asDenied(t, err); d.IP != netip.MustParseAddr("10.0.0.1") {
			t.Errorf("%v", d)
		}
		if len(fn.Dials()) != 0 {
			t.Errorf("dials %q", fn.Dials())
		}
	})

	t.Run("mapped answers are unmapped and deduplicated", func(t *testing.T) {
		fn := newFakeNet(t)
		fn.name("rebind.example.com", addrs("::ffff:93.184.216.34", "93.184.216.34", "2606:2800:220:1::1"))
		c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{rule}}, fn.options()...)
		_, err := c.Do(context.Background(), get("https://rebind.example.com/"))
		if !errors.Is(err, errNoRoute) {
			t.Fatal(err)
		}
		want := []string{"tcp4 93.184.216.34:443", "tcp6 [2606:2800:220:1::1]:443"}
		if got := fn.Dials(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("dials %q, want %q", got, want)
		}
	})

	t.Run("granted name to loopback server without allow", func(t *testing.T) {
		var conns connCounter
		_, port := watchedServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), conns.hook)
		fn := newFakeNet(t)
		fn.name("rebind.example.com", addrs("127.0.0.1"))
		r := Rule{Host: "rebind.example.com", Ports: []int{port}, Schemes: []string{"http"}}
		// The real dialer: the refusal must come before any connect.
		c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{r}}, WithResolver(fn))
		_, err := c.Do(context.Background(), get(fmt.Sprintf("http://rebind.example.com:%d/", port)))
		if d := asDenied(t, err); !strings.Contains(d.Error(), "it resolved to 127.0.0.1, a loopback address") {
			t.Errorf("%v", d)
		}
		if n := conns.count(http.StateNew); n != 0 {
			t.Errorf("server saw %d connections", n)
		}
	})

	t.Run("no addresses", func(t *testing.T) {
		fn := newFakeNet(t)
		fn.name("rebind.example.com", nil)
		c := mustNew(t, Policy{Rules: []Rule{rule}}, fn.options()...)
		if _, err := c.Do(context.Background(), get("https://rebind.example.com/")); err == nil || len(fn.Dials()) != 0 {
			t.Errorf("err %v dials %q", err, fn.Dials())
		}
	})
}

// TestSocketCheck exercises the net.Dialer control hook on its own: it
// refuses what the pre-dial check would have let through only by mistake.
func TestSocketCheck(t *testing.T) {
	c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{{Host: "svc.example.com", Ports: []int{443}, Schemes: []string{"https"}}}})
	h := &hop{t: target{scheme: "https", host: "svc.example.com", port: 443}, rules: c.rules}
	want := netip.MustParseAddrPort("93.184.216.34:443")
	cases := []struct {
		network, address string
		allowPrivate     bool
		ok               bool
	}{
		{"tcp4", "93.184.216.34:443", false, true},
		{"tcp6", "[::ffff:93.184.216.34]:443", false, true},
		{"tcp4", "93.184.216.35:443", false, false},
		{"tcp4", "93.184.216.34:80", false, false},
		{"udp4", "93.184.216.34:443", false, false},
		{"tcp4", "garbage", false, false},
	}
	for _, tc := range cases {
		err := c.checkSocket(h, want, tc.allowPrivate, tc.network, tc.address)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: err %v", tc.network, tc.address, err)
		}
		if err != nil {
			asDenied(t, err)
		}
	}
	for _, tc := range addrCases {
		a := netip.MustParseAddr(tc.addr).Unmap()
		ap := netip.AddrPortFrom(a, 443)
		network := "tcp4"
		if a.Is6() {
			network = "tcp6"
		}
		for _, allow := range []bool{false, true} {
			err := c.checkSocket(h, ap, allow, network, ap.String())
			ok := tc.kind == kindPublic || tc.kind == kindPrivate && allow
			if (err == nil) != ok {
				t.Errorf("socket %s allow=%v: err %v", ap, allow, err)
			}
		}
	}
}

// TestSocketCheckStopsConnect skips the pre-dial check and hands the real
// dialer a loopback address the hop may not reach: the control hook must
// refuse it before connect, so the server never sees a connection.
func TestSocketCheckStopsConnect(t *testing.T) {
	var conns connCounter
	_, port := watchedServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), conns.hook)
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))

	var calledAfter atomic.Bool
	own := &net.Dialer{Control: func(string, string, syscall.RawConn) error { calledAfter.Store(true); return nil }}
	for _, opts := range [][]Option{nil, {WithDialer(own)}} {
		c := mustNew(t, Policy{Plugin: "p"}, opts...)
		h := &hop{t: target{scheme: "http", host: "svc.example.com", port: port}}
		_, err := c.connect(context.Background(), h, ap, false)
		if d := asDenied(t, err); d.IP != ap.Addr() {
			t.Errorf("%v", d)
		}
		// Allowed, the same connect goes through (and runs the caller's own
		// control hook after the guard's).
		conn, err := c.connect(context.Background(), h, ap, true)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	if !calledAfter.Load() {
		t.Error("the caller's Control hook did not run")
	}
	// The two allowed connects, nothing else.
	deadline := time.Now().Add(2 * time.Second)
	for conns.count(http.StateClosed) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := conns.count(http.StateNew); n != 2 {
		t.Errorf("server saw %d connections, want 2", n)
	}
}

// TestDialOnlyForCheckedRequests: the transport's dial function refuses a
// connection no hop asked for, or for another address than the hop's.
func TestDialOnlyForCheckedRequests(t *testing.T) {
	fn := newFakeNet(t)
	c := mustNew(t, Policy{Rules: []Rule{loopbackRule(80)}}, fn.options()...)
	if _, err := c.dialContext(context.Background(), "tcp", "127.0.0.1:80"); err == nil {
		t.Error("dial without a hop")
	}
	h := &hop{t: target{scheme: "http", host: "127.0.0.1", ip: netip.MustParseAddr("127.0.0.1"), port: 80}, rules: c.rules}
	ctx := context.WithValue(context.Background(), hopKey{}, h)
	if _, err := c.dialContext(ctx, "tcp", "127.0.0.2:80"); err == nil {
		t.Error("dial of another address")
	}
	if len(fn.Dials()) != 0 {
		t.Errorf("dials %q", fn.Dials())
	}
}

func TestRedirects(t *testing.T) {
	type seen struct {
		path, method, body, auth, cookie, other string
	}
	var mu sync.Mutex
	var log []seen
	record := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		log = append(log, seen{r.URL.Path, r.Method, string(b), r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("X-Other")})
		mu.Unlock()
	}
	takeLog := func() []seen {
		mu.Lock()
		defer mu.Unlock()
		l := log
		log = nil
		return l
	}
	var bConns connCounter
	srvB, bPort := watchedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.WriteString(w, "B")
	}), bConns.hook)
	srvA, aPort := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		q := r.URL.Query()
		switch r.URL.Path {
		case "/to":
			w.Header().Set("Location", q.Get("u"))
			code := http.StatusFound
			if c := q.Get("code"); c != "" {
				fmt.Sscan(c, &code)
			}
			w.WriteHeader(code)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/nolocation":
			w.WriteHeader(http.StatusFound)
		default:
			io.WriteString(w, "A"+r.URL.Path)
		}
	}))
	fn := newFakeNet(t)
	fn.name("a.example.com", addrs("203.0.113.10"))
	fn.name("b.example.com", addrs("203.0.113.11"))
	fn.name("internal.example.com", addrs("10.0.0.5"))
	fn.route("203.0.113.10:"+fmt.Sprint(aPort), srvA)
	fn.route("203.0.113.11:"+fmt.Sprint(bPort), srvB)
	// Documentation addresses are not public: the test grants them with
	// privateNetwork: allow and routes them to the loopback servers.
	rules := []Rule{
		{Host: "a.example.com", Ports: []int{aPort}, Schemes: []string{"http"}, PrivateNetwork: "allow"},
		{Host: "b.example.com", Ports: []int{bPort}, Schemes: []string{"http"}, PrivateNetwork: "allow"},
		{Host: "internal.example.com", Ports: []int{80}, Schemes: []string{"http"}},
		{Host: "127.0.0.1", Ports: []int{bPort}, Schemes: []string{"http"}},
		{Host: "169.254.169.254", Ports: []int{80}, Schemes: []string{"http"}, PrivateNetwork: "allow"},
	}
	c := mustNew(t, Policy{Plugin: "fetch", Rules: rules}, fn.options()...)
	a := fmt.Sprintf("http://a.example.com:%d", aPort)
	b := fmt.Sprintf("http://b.example.com:%d", bPort)
	from := hostPort("a.example.com", aPort)

	denied := []struct {
		to, msg string
	}{
		{fmt.Sprintf("http://127.0.0.1:%d/", bPort), fmt.Sprintf("plugin fetch was redirected from %s to 127.0.0.1:%d over http; 127.0.0.1 is a loopback address", from, bPort)},
		{"http://127.0.0.1/", fmt.Sprintf("plugin fetch was redirected from %s to 127.0.0.1:80 over http; the grant allows that host only as 127.0.0.1:%d over http", from, bPort)},
		{"http://169.254.169.254/latest/meta-data/", "to 169.254.169.254:80 over http; 169.254.169.254 is a cloud metadata address"},
		{"http://[::ffff:169.254.169.254]/", "to [::ffff:169.254.169.254]:80 over http; the grant allows only"},
		{"http://internal.example.com/", "to internal.example.com:80 over http; it resolved to 10.0.0.5, a private address (RFC 1918), and the grant does not set privateNetwork: allow for internal.example.com"},
		{"http://evil.example.net/", "to evil.example.net:80 over http; the grant allows only"},
		{"https://b.example.com/", "to b.example.com:443 over https; the grant allows that host only as b.example.com"},
		{"http://user:pw@b.example.com/", "user information"},
		{"file:///etc/passwd", "only http and https"},
	}
	for _, tc := range denied {
		_, err := c.Do(context.Background(), get(a+"/to?u="+urlQueryEscape(tc.to)))
		d := asDenied(t, err)
		if d.RedirectFrom != from || !strings.Contains(d.Error(), tc.msg) {
			t.Errorf("redirect to %s:\n got  %v\n want %q (from %s)", tc.to, d, tc.msg, from)
		}
		if strings.Contains(d.Error(), "/latest") || strings.Contains(d.Error(), "pw") {
			t.Errorf("message leaks the URL: %v", d)
		}
	}
	for _, d := range fn.Dials() {
		if !strings.HasSuffix(d, fmt.Sprintf("203.0.113.10:%d", aPort)) {
			t.Errorf("dialled %s", d)
		}
	}
	if n := bConns.count(http.StateNew); n != 0 {
		t.Errorf("server B saw %d connections", n)
	}
	takeLog()

	// A redirect to another granted host drops credentials; one on the
	// same origin keeps them.
	hdr := http.Header{"Authorization": {"Bearer s3cret"}, "Cookie": {"sid=1"}, "X-Other": {"kept"}}
	resp, err := c.Do(context.Background(), &Request{URL: a + "/to?u=" + urlQueryEscape(b+"/final"), Header: hdr})
	if err != nil || string(resp.Body) != "B" {
		t.Fatalf("cross-host redirect: %v %v", resp, err)
	}
	l := takeLog()
	if len(l) != 2 || l[0].auth != "Bearer s3cret" || l[1].auth != "" || l[1].cookie != "" || l[1].other != "kept" {
		t.Errorf("cross-host redirect: server saw %+v", l)
	}
	resp, err = c.Do(context.Background(), &Request{URL: a + "/to?u=/same", Header: hdr})
	if err != nil || string(resp.Body) != "A/same" {
		t.Fatalf("same-host redirect: %v %v", resp, err)
	}
	if l := takeLog(); len(l) != 2 || l[1].auth != "Bearer s3cret" || l[1].cookie != "sid=1" {
		t.Errorf("same-host redirect: server saw %+v", l)
	}
	// Credentials dropped once stay dropped when a later hop comes back.
	back := b + "/x"
	resp, err = c.Do(context.Background(), &Request{URL: a + "/to?u=" + urlQueryEscape(back), Header: hdr})
	if err != nil || string(resp.Body) != "B" {
		t.Fatal(err)
	}
	takeLog()

	// Methods and bodies.
	for _, tc := range []struct {
		code                 int
		method, wantM, wantB string
	}{
		{http.StatusFound, "POST", "GET", ""},
		{http.StatusMovedPermanently, "POST", "GET", ""},
		{http.StatusSeeOther, "PUT", "GET", ""},
		{http.StatusTemporaryRedirect, "POST", "POST", "body"},
		{http.StatusPermanentRedirect, "PUT", "PUT", "body"},
	} {
		u := fmt.Sprintf("%s/to?code=%d&u=%s", a, tc.code, urlQueryEscape(b+"/m"))
		if _, err := c.Do(context.Background(), &Request{Method: tc.method, URL: u, Body: []byte("body")}); err != nil {
			t.Fatal(err)
		}
		l := takeLog()
		if len(l) != 2 || l[1].method != tc.wantM || l[1].body != tc.wantB {
			t.Errorf("%d %s: server saw %+v", tc.code, tc.method, l)
		}
	}

	// Chains are followed up to MaxRedirects.
	if _, err := c.Do(context.Background(), get(a+"/loop")); err == nil || !strings.Contains(err.Error(), "too many redirects (more than 5)") {
		t.Errorf("loop: %v", err)
	}
	if l := takeLog(); len(l) != 6 {
		t.Errorf("loop: %d requests, want 6", len(l))
	}
	c1 := mustNew(t, Policy{Rules: rules, MaxRedirects: 1}, fn.options()...)
	if _, err := c1.Do(context.Background(), get(a+"/to?u=/x")); err != nil {
		t.Errorf("one redirect with MaxRedirects 1: %v", err)
	}
	if _, err := c1.Do(context.Background(), get(a+"/to?u="+urlQueryEscape("/to?u=/x"))); err == nil {
		t.Error("two redirects with MaxRedirects 1 succeeded")
	}
	cNone := mustNew(t, Policy{Rules: rules, MaxRedirects: -1}, fn.options()...)
	resp, err = cNone.Do(context.Background(), get(a+"/to?u=http://evil.example.net/"))
	if err != nil || resp.Status != http.StatusFound || resp.Header.Get("Location") != "http://evil.example.net/" {
		t.Errorf("MaxRedirects -1: %v %v", resp, err)
	}
	resp, err = c.Do(context.Background(), get(a+"/nolocation"))
	if err != nil || resp.Status != http.StatusFound {
		t.Errorf("no Location: %v %v", resp, err)
	}
}

func urlQueryEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "?", "%3F", "#", "%23", "+", "%2B", "=", "%3D", " ", "%20")
	return r.Replace(s)
}

func TestResponseCap(t *testing.T) {
	const max = 1000
	srv, port := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		if r.URL.Query().Get("chunked") != "" {
			for i := 0; i < n; i += 100 {
				io.WriteString(w, strings.Repeat("x", min(100, n-i)))
				w.(http.Flusher).Flush()
			}
			return
		}
		if r.URL.Query().Get("lie") != "" {
			w.Header().Set("Content-Length", fmt.Sprint(max*10))
		}
		io.WriteString(w, strings.Repeat("x", n))
	}))
	c := mustNew(t, Policy{Rules: []Rule{loopbackRule(port)}, MaxResponseBytes: max})
	for _, tc := range []struct {
		query string
		ok    bool
	}{
		{"n=1000", true},
		{"n=1001", false},
		{"n=1000&chunked=1", true},
		{"n=5000&chunked=1", false},
		{"n=10&lie=1", false},
		{"n=0", true},
	} {
		resp, err := c.Do(context.Background(), get(srv.URL+"/?"+tc.query))
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.query, err)
			}
			continue
		}
		want := fmt.Sprintf("response from host 127.0.0.1:%d exceeded %d bytes", port, max)
		if err == nil || !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), want) || resp != nil {
			t.Errorf("%s: err %v, want %q", tc.query, err, want)
		}
	}
}

func TestRequestBodyCap(t *testing.T) {
	c := mustNew(t, Policy{Rules: []Rule{loopbackRule(1)}, MaxRequestBytes: 10})
	_, err := c.Do(context.Background(), &Request{Method: "POST", URL: "http://127.0.0.1:1/", Body: make([]byte, 11)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err %v", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, port := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Write([]byte("start"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer close(release)
	c := mustNew(t, Policy{Rules: []Rule{loopbackRule(port)}, Timeout: 200 * time.Millisecond})
	for _, path := range []string{"/headers", "/body"} {
		start := time.Now()
		_, err := c.Do(context.Background(), get(srv.URL+path))
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 200ms (the policy's limit)") {
			t.Errorf("%s: err %v", path, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %s", path, d)
		}
	}
	// The caller's own deadline applies too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c2 := mustNew(t, Policy{Rules: []Rule{loopbackRule(port)}})
	if _, err := c2.Do(ctx, get(srv.URL)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller deadline: %v", err)
	}
}

// TestNoProxy: the environment's proxy settings are ignored.
func TestNoProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy, _ := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		io.WriteString(w, "proxy")
	}))
	srv, port := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "direct")
	}))
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	// A name, not 127.0.0.1: the standard library never proxies loopback
	// literals, so a name is what would be proxied.
	fn := newFakeNet(t)
	fn.name("svc.example.com", addrs("127.0.0.1"))
	r := Rule{Host: "svc.example.com", Ports: []int{port}, Schemes: []string{"http"}, PrivateNetwork: "allow"}
	c := mustNew(t, Policy{Rules: []Rule{r}}, WithResolver(fn))
	if c.transport.Proxy != nil {
		t.Fatal("transport has a Proxy function")
	}
	resp, err := c.Do(context.Background(), get(fmt.Sprintf("http://svc.example.com:%d/", port)))
	if err != nil || string(resp.Body) != "direct" || proxied.Load() != 0 {
		t.Errorf("resp %v err %v proxied %d", resp, err, proxied.Load())
	}
	_ = srv
}

// TestClientsDoNotShareConnections: each Client has its own pool.
func TestClientsDoNotShareConnections(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]int{}
	var conns connCounter
	srv, port := watchedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr]++
		mu.Unlock()
		io.WriteString(w, r.RemoteAddr)
	}), conns.hook)
	p := Policy{Rules: []Rule{loopbackRule(port)}}
	c1, c2 := mustNew(t, p), mustNew(t, p)
	var got [2][]string
	for i := 0; i < 3; i++ {
		for j, c := range []*Client{c1, c2} {
			resp, err := c.Do(context.Background(), get(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			got[j] = append(got[j], string(resp.Body))
		}
	}
	for j := range got {
		for _, r := range got[j] {
			if r != got[j][0] {
				t.Errorf("client %d used several connections: %q", j+1, got[j])
			}
		}
	}
	if got[0][0] == got[1][0] {
		t.Errorf("clients shared connection %s", got[0][0])
	}
	if n := conns.count(http.StateNew); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}

	// Close closes the idle connection and refuses further requests.
	c1.Close()
	if _, err := c1.Do(context.Background(), get(srv.URL)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Do after Close: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for conns.count(http.StateClosed) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := conns.count(http.StateClosed); n != 1 {
		t.Errorf("%d connections closed after Close, want 1", n)
	}
	if _, err := c2.Do(context.Background(), get(srv.URL)); err != nil {
		t.Errorf("other client after Close: %v", err)
	}
}

// TestErrorsHideSecrets: no message holds the path, query, headers or
// body of the request.
func TestErrorsHideSecrets(t *testing.T) {
	const secret = "s3cretvalue"
	fn := newFakeNet(t)
	fn.name("internal.example.com", addrs("10.0.0.5"))
	fn.name("public.example.com", addrs("93.184.216.34"))
	fn.name("meta.example.com", addrs("169.254.169.254"))
	rules := []Rule{
		{Host: "internal.example.com"},
		{Host: "public.example.com"},
		{Host: "meta.example.com", PrivateNetwork: "allow"},
	}
	c := mustNew(t, Policy{Plugin: "p", Rules: rules, MaxRequestBytes: 100}, fn.options()...)
	for _, host := range []string{"internal.example.com", "public.example.com", "meta.example.com", "other.example.com", "public.example.com:444"} {
		for _, u := range []string{
			"https://" + host + "/" + secret + "?token=" + secret + "#" + secret,
			"https://user:" + secret + "@" + host + "/",
			"https://" + host + "/%zz" + secret,
		} {
			_, err := c.Do(context.Background(), &Request{
				Method: "POST", URL: u,
				Header: http.Header{"Authorization": {"Bearer " + secret}, "X-Api-Key": {secret}},
				Body:   []byte(secret),
			})
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %v", host, err)
			}
		}
	}
	_, err := c.Do(context.Background(), &Request{Method: "POST", URL: "https://public.example.com/?k=" + secret, Body: make([]byte, 101)})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("body cap: %v", err)
	}
}
