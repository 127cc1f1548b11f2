package host_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/testutil"
)

// TestStatusPageInChromium renders the status page in a real headless
// Chromium: the DOM it builds must show the plugins and their calls, and
// the screenshot must be a real image. WARDEN_UPDATE_SCREENSHOT=1 refreshes
// docs/status-page.png.
func TestStatusPageInChromium(t *testing.T) {
	chromium := testutil.Chromium(t)
	module(t, "hello", "./examples/hello")
	s, err := host.New(host.Options{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Swap([]*host.Plugin{
		{Name: "hello", Module: module(t, "hello", "./examples/hello"), Signer: "sha256:246b02e8a585…"},
		{Name: "hash", Module: module(t, "hash", "./examples/hash")},
	}, []host.PluginStatus{{Name: "fetch", Error: "plugin \"fetch\": signature by another key"}}); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(s)
	defer api.Close()
	for i := 0; i < 5; i++ {
		post(t, api.URL, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, nil)
	}
	post(t, api.URL, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{}}, nil)
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()

	dir := t.TempDir()
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1100,700"}
		cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	dom := string(run("--dump-dom", admin.URL+"/"))
	for _, want := range []string{"hello.greet", "hash.sha256", "sha256:246b02e8a585", "Refused plugins", "signature by another key", "nothing but computation"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	shot := filepath.Join(dir, "status.png")
	run("--screenshot="+shot, admin.URL+"/")
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 5000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	if os.Getenv("WARDEN_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile(filepath.Join(testutil.ModuleRoot(t), "docs", "status-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
