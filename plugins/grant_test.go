package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/plugins"
)

func grant(t *testing.T, yaml string) *capabilities.Grant {
	t.Helper()
	g, err := capabilities.ParseGrant("test.yaml", []byte("apiVersion: warden.dev/v1\nkind: Grant\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func sandbox(t *testing.T, plugin string, g *capabilities.Grant) *plugins.Sandbox {
	t.Helper()
	sb, err := runtime(t).SandboxFromGrant(context.Background(), plugin, g, capabilities.DefaultProviders())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

func TestNetworkGrant(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port := u.Port()

	fetch := load(t, "./examples/fetch", "fetch")
	third, err := runtime(t).Load(context.Background(), "asplugin", mustRead(t, filepath.Join("testdata", "asplugin", "plugin.wasm")))
	if err != nil {
		t.Fatal(err)
	}
	allowLoopback := grant(t, fmt.Sprintf("network:\n  allow:\n    - host: 127.0.0.1\n      ports: [%s]\n      schemes: [http]\n      privateNetwork: allow\n", port))
	namedOnly := grant(t, "network:\n  allow:\n    - host: example.com\n")
	loopbackNoPrivate := grant(t, fmt.Sprintf("network:\n  allow:\n    - host: 127.0.0.1\n      ports: [%s]\n      schemes: [http]\n", port))

	tests := []struct {
		name    string
		p       *plugins.Plugin
		tool    string
		url     string
		g       *capabilities.Grant
		want    string // in the result text
		denied  string // in the error, when the call must be refused
		failure error
	}{
		{"sdk plugin, granted", fetch, "get", srv.URL + "/ok", allowLoopback, "hello from /ok", "", nil},
		{"third-party plugin, granted", third, "fetch_status", srv.URL + "/x", allowLoopback, "status=200", "", nil},
		{"no grant at all", fetch, "get", srv.URL, nil, "", "the grant allows no hosts", plugins.ErrDenied},
		{"host not granted", fetch, "get", srv.URL, namedOnly, "", "127.0.0.1:" + port, plugins.ErrDenied},
		{"third-party, host not granted", third, "fetch_status", srv.URL, namedOnly, "", "127.0.0.1:" + port, plugins.ErrDenied},
		{"loopback without privateNetwork", fetch, "get", srv.URL, loopbackNoPrivate, "", "loopback", plugins.ErrDenied},
		{"redirect to metadata", fetch, "get", srv.URL + "/redirect", allowLoopback, "", "169.254.169.254", plugins.ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := sandbox(t, tt.p.Name(), tt.g)
			res, err := call(t, tt.p, tt.tool, fmt.Sprintf(`{"url":%q}`, tt.url), sb)
			if tt.failure != nil {
				if !errors.Is(err, tt.failure) || !strings.Contains(err.Error(), tt.denied) {
					t.Fatalf("err = %v, want %v mentioning %q", err, tt.failure, tt.denied)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := text(t, res); !strings.Contains(got, tt.want) {
				t.Fatalf("text = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFilesystemGrant(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "report.txt"), []byte("quarterly numbers"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("outside the mount"), 0o644)
	os.Symlink("../secret.txt", filepath.Join(data, "escape"))

	files := load(t, "./examples/files", "files")
	g := grant(t, fmt.Sprintf("filesystem:\n  - host: %s\n    guest: /data\n    mode: ro\n", data))
	sb := sandbox(t, "files", g)

	tests := []struct {
		tool, path string
		want       string
		isError    bool
	}{
		{"list", "/data", "report.txt", false},
		{"read", "/data/report.txt", "quarterly numbers", false},
		{"read", "/data/../secret.txt", "", true},
		{"read", "/data/escape", "", true},
		{"read", "/etc/passwd", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.path, func(t *testing.T) {
			res := mustCall(t, files, tt.tool, fmt.Sprintf(`{"path":%q}`, tt.path), sb)
			got := text(t, res)
			if res.IsError != tt.isError || !strings.Contains(got, tt.want) {
				t.Fatalf("isError=%v text=%q; want isError=%v and %q", res.IsError, got, tt.isError, tt.want)
			}
			if strings.Contains(got, "outside the mount") || strings.Contains(got, "root:") {
				t.Fatalf("escaped the mount: %q", got)
			}
		})
	}
	// Without a grant the directory does not exist for the plugin.
	res := mustCall(t, files, "list", `{"path":"/data"}`, nil)
	if !res.IsError {
		t.Fatalf("list without a grant = %s, want isError", res.JSON)
	}
}

func TestGrantForAnotherPluginIsRefused(t *testing.T) {
	g := grant(t, "plugin: fetch\n")
	if _, err := runtime(t).SandboxFromGrant(context.Background(), "files", g, nil); err == nil || !strings.Contains(err.Error(), `"fetch"`) {
		t.Fatalf("err = %v", err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
