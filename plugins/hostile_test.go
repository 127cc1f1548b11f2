package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/capabilities/netguard"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

// fakeResolver answers every lookup from a fixed table, so tests can make a
// granted name resolve anywhere without DNS.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// loopbackDialer connects only to 127.0.0.1 and records every address it
// was asked for; anything else fails without a packet being sent.
type loopbackDialer struct {
	mu    sync.Mutex
	asked []string
}

func (d *loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	d.mu.Unlock()
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		return nil, fmt.Errorf("test dialer: refusing to dial non-loopback %s", addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// TestHostileSuite runs every attack of the hostile plugin against a
// realistic grant and checks that each is contained with a clear error, that
// nothing outside the grant was read or changed, and that the host keeps
// serving.
func TestHostileSuite(t *testing.T) {
	dir := t.TempDir()
	rw, ro := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	os.Mkdir(rw, 0o755)
	os.Mkdir(ro, 0o755)
	os.WriteFile(filepath.Join(ro, "keep.txt"), []byte("read-only data"), 0o644)
	outside := filepath.Join(dir, "outside.txt")
	os.WriteFile(outside, []byte("TOP SECRET"), 0o644)
	t.Setenv("WARDEN_TEST_HOST_ONLY", "host-environment-value")
	t.Setenv("WARDEN_TEST_TOKEN", "granted-token-value")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to-metadata" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/", http.StatusFound)
			return
		}
		if r.URL.Path == "/to-private-name" {
			http.Redirect(w, r, "http://internal.test:"+r.Host[strings.LastIndex(r.Host, ":")+1:]+"/", http.StatusFound)
			return
		}
		fmt.Fprint(w, "granted server")
	}))
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	port := su.Port()

	g := grant(t, fmt.Sprintf(`network:
  allow:
    - host: 127.0.0.1
      ports: [%[1]s]
      schemes: [http]
      privateNetwork: allow
    - host: rebound.test
      ports: [%[1]s]
      schemes: [http]
    - host: internal.test
      ports: [%[1]s]
      schemes: [http]
filesystem:
  - host: %[2]s
    guest: /rw
    mode: rw
  - host: %[3]s
    guest: /ro
    mode: ro
secrets:
  - name: TOKEN
    from: env:WARDEN_TEST_TOKEN
limits:
  memory: 48MiB
  timeout: 2s
  output: 256KiB
`, port, rw, ro))
	dialer := &loopbackDialer{}
	resolver := fakeResolver{
		"rebound.test":  {netip.MustParseAddr("127.0.0.1")}, // a granted name resolving to loopback
		"internal.test": {netip.MustParseAddr("10.0.0.7")},
	}
	sb, err := runtime(t).SandboxFromGrant(context.Background(), "hostile", g, capabilities.DefaultProviders(),
		netguard.WithResolver(resolver), netguard.WithDialer(dialer))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	hostile := load(t, "./plugins/testdata/hostile", "hostile")
	bomb := load(t, "./plugins/testdata/membomb", "membomb")
	loop := load(t, "./plugins/testdata/loop", "loop")
	big := load(t, "./plugins/testdata/bigout", "bigout")
	hello := load(t, "./examples/hello", "hello")

	tests := []struct {
		name string
		p    *plugins.Plugin
		tool string
		args string
		// Either the call fails with one of kinds (mentioning msg), or it
		// returns an isError result (mentioning msg).
		kinds []error
		msg   string
	}{
		{"read /etc/passwd", hostile, "read", `{"path":"/etc/passwd"}`, nil, "/etc/passwd"},
		{"read outside with ..", hostile, "read", `{"path":"/rw/../outside.txt"}`, nil, ""},
		{"read the host dir through ..", hostile, "read", `{"path":"/rw/../../outside.txt"}`, nil, ""},
		{"write into a read-only mount", hostile, "write", `{"path":"/ro/new.txt","content":"x"}`, nil, "Read-only file system"},
		{"overwrite in a read-only mount", hostile, "write", `{"path":"/ro/keep.txt","content":"x"}`, nil, "Read-only file system"},
		{"write outside every mount", hostile, "write", `{"path":"/outside.txt","content":"x"}`, nil, ""},
		{"escape with a relative symlink", hostile, "symlink", `{"target":"../outside.txt","link":"/rw/esc","read":"/rw/esc"}`, nil, ""},
		{"escape with a deep relative symlink", hostile, "symlink", `{"target":"../../../../../../etc/passwd","link":"/rw/deep","read":"/rw/deep"}`, nil, ""},
		{"escape with an absolute symlink", hostile, "symlink", `{"target":"/etc/passwd","link":"/rw/abs","read":"/rw/abs"}`, nil, ""},
		{"symlink to a parent dir", hostile, "symlink", `{"target":"..","link":"/rw/up","read":"/rw/up/outside.txt"}`, nil, ""},
		{"secret not granted", hostile, "secret", `{"name":"AWS_SECRET_ACCESS_KEY"}`, nil, "no secret AWS_SECRET_ACCESS_KEY"},
		{"host env by secret name", hostile, "secret", `{"name":"WARDEN_TEST_HOST_ONLY"}`, nil, "no secret"},
		{"http to a host not granted", hostile, "http", `{"url":"https://evil.example/steal"}`, []error{plugins.ErrDenied}, "evil.example:443"},
		{"http to loopback on another port", hostile, "http", `{"url":"http://127.0.0.1:1/"}`, []error{plugins.ErrDenied}, "127.0.0.1:1"},
		{"http to cloud metadata", hostile, "http", `{"url":"http://169.254.169.254/latest/meta-data/"}`, []error{plugins.ErrDenied}, "169.254.169.254"},
		{"http to a granted name resolving to loopback", hostile, "http", `{"url":"http://rebound.test:` + port + `/"}`, []error{plugins.ErrDenied}, "rebound.test"},
		{"http to a granted name resolving to RFC 1918", hostile, "http", `{"url":"http://internal.test:` + port + `/"}`, []error{plugins.ErrDenied}, "10.0.0.7"},
		{"redirect from a granted host to metadata", hostile, "http", `{"url":"` + srv.URL + `/to-metadata"}`, []error{plugins.ErrDenied}, "169.254.169.254"},
		{"redirect from a granted host to a private name", hostile, "http", `{"url":"` + srv.URL + `/to-private-name"}`, []error{plugins.ErrDenied}, "10.0.0.7"},
		{"exhaust memory", bomb, "grow", "", []error{plugins.ErrMemoryLimit}, "48MiB"},
		{"loop forever", loop, "spin", "", []error{plugins.ErrTimeout}, "2s"},
		{"recurse without end", hostile, "recurse", "", []error{plugins.ErrMemoryLimit, plugins.ErrTrap, plugins.ErrPluginFailed, plugins.ErrTimeout}, ""},
		{"return gigabytes", big, "big", `{"mb":1024}`, []error{plugins.ErrMemoryLimit, plugins.ErrOutputLimit}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			psb := sb
			if tt.p != hostile {
				psb = &plugins.Sandbox{Limits: sb.Limits}
				if tt.p != loop {
					// These attacks are about memory and output, not time: a
					// loaded CI machine under -race must not turn them into
					// timeouts.
					psb.Limits.Timeout = capabilities.Duration(60 * time.Second)
				}
			}
			res, err := tt.p.Call(context.Background(), tt.tool, []byte(tt.args), psb)
			var got string
			switch {
			case tt.kinds != nil:
				ok := false
				for _, k := range tt.kinds {
					ok = ok || errors.Is(err, k)
				}
				if !ok {
					t.Fatalf("err = %v (result %v), want one of %v", err, res, tt.kinds)
				}
				got = err.Error()
			case err != nil:
				t.Fatalf("want an isError result, got call error %v", err)
			default:
				if !res.IsError {
					t.Fatalf("the attack succeeded: %s", res.JSON)
				}
				got = text(t, res)
			}
			if !strings.Contains(got, tt.msg) {
				t.Errorf("message %q does not mention %q", got, tt.msg)
			}
			for _, leak := range []string{"TOP SECRET", "root:x:", "host-environment-value", "granted server", "READ:", "WROTE:"} {
				if strings.Contains(got, leak) {
					t.Fatalf("leaked %q: %s", leak, got)
				}
			}
			if got := text(t, mustCall(t, hello, "greet", `{"name":"next"}`, nil)); got != "Hello, next!" {
				t.Fatalf("the host stopped serving: %q", got)
			}
		})
	}

	// Nothing outside the grant changed, and the read-only mount is intact.
	if b, _ := os.ReadFile(outside); string(b) != "TOP SECRET" {
		t.Errorf("outside.txt = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "keep.txt")); string(b) != "read-only data" {
		t.Errorf("ro/keep.txt = %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); err == nil {
		t.Error("a file appeared outside the mounts")
	}
	// No packet was sent anywhere but loopback.
	for _, a := range dialer.asked {
		if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
			t.Errorf("the guard let the dialer be asked for %s", a)
		}
	}

	// What the plugin may do, it can: the sandbox is tight, not broken.
	allowed := []struct{ tool, args, want string }{
		{"read", `{"path":"/ro/keep.txt"}`, "READ:read-only data"},
		{"write", `{"path":"/rw/out.txt","content":"made inside"}`, "WROTE:/rw/out.txt"},
		{"symlink", `{"target":"out.txt","link":"/rw/alias","read":"/rw/alias"}`, "READ:made inside"},
		{"http", `{"url":"` + srv.URL + `/"}`, "STATUS:200 BODY:granted server"},
		{"secret", `{"name":"TOKEN"}`, "SECRET:[REDACTED:TOKEN]"},
		{"env", `{}`, "ENV:"},
	}
	for _, a := range allowed {
		res := mustCall(t, hostile, a.tool, a.args, sb)
		if got := text(t, res); res.IsError || got != a.want {
			t.Errorf("%s %s = %q (isError %v), want %q", a.tool, a.args, got, res.IsError, a.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(rw, "out.txt")); string(b) != "made inside" {
		t.Errorf("rw/out.txt = %q", b)
	}
	// The walk sees only the mounts.
	walk := text(t, mustCall(t, hostile, "walk", "", sb))
	for _, line := range strings.Split(walk, "\n") {
		if line != "" && line != "/" && !strings.HasPrefix(line, "/rw") && !strings.HasPrefix(line, "/ro") {
			t.Errorf("walk found %q outside the mounts", line)
		}
	}
	// A plugin that logs, prints and panics with its secret leaks it nowhere.
	var logs testutil.Buffer
	leakSB, err := runtime(t).SandboxFromGrant(context.Background(), "hostile", g, capabilities.DefaultProviders())
	if err != nil {
		t.Fatal(err)
	}
	defer leakSB.Close()
	leakSB.Log = newJSONLogger(&logs)
	_, err = hostile.Call(context.Background(), "leak", []byte(`{"name":"TOKEN"}`), leakSB)
	if err == nil || !strings.Contains(err.Error(), "[REDACTED:TOKEN]") {
		t.Errorf("leak: err = %v, want the panic message with the secret masked", err)
	}
	if !strings.Contains(logs.String(), "[REDACTED:TOKEN]") {
		t.Errorf("leak: the plugin's log line is missing: %s", logs.String())
	}
	for _, where := range []string{err.Error(), logs.String()} {
		if strings.Contains(where, "granted-token-value") {
			t.Fatalf("the secret leaked: %s", where)
		}
	}

	// A real clock.
	clock := text(t, mustCall(t, hostile, "clock", "", nil))
	if ts, err := time.Parse(time.RFC3339, clock); err != nil || time.Since(ts).Abs() > time.Minute {
		t.Errorf("guest clock = %q, want about now", clock)
	}
}
