package testutil

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// RegistryBinary is where Debian's docker-registry package installs the
// registry (github.com/docker/distribution). The environment variable
// WARDEN_REGISTRY_BIN overrides it.
const RegistryBinary = "/usr/bin/docker-registry"

// RequireRegistryEnv names the environment variable that turns a missing
// registry binary from a skipped test into a failed one. CI sets it.
const RequireRegistryEnv = "WARDEN_REQUIRE_REGISTRY"

// StartRegistry starts a private OCI distribution registry (Debian's
// docker-registry) on a free port of 127.0.0.1, storing its data in a
// temporary directory, and returns its address "127.0.0.1:PORT". The
// registry speaks plain HTTP and needs no credentials; it is stopped when
// the test ends. StartRegistry skips the test when the binary is missing,
// unless the environment variable WARDEN_REQUIRE_REGISTRY is set, in which
// case it fails it.
func StartRegistry(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv("WARDEN_REGISTRY_BIN")
	if bin == "" {
		bin = RegistryBinary
		if _, err := os.Stat(bin); err != nil {
			if p, err := exec.LookPath("docker-registry"); err == nil {
				bin = p
			}
		}
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv(RequireRegistryEnv) != "" {
			tb.Fatalf("%s is set but the registry binary %s is missing (apt-get install docker-registry): %v", RequireRegistryEnv, bin, err)
		}
		tb.Skipf("no OCI registry to test against: %s is missing (apt-get install docker-registry, or set WARDEN_REGISTRY_BIN); set %s to make this a failure", bin, RequireRegistryEnv)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := startRegistry(tb, bin)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	tb.Fatalf("starting %s: %v", bin, lastErr)
	return ""
}

// syncBuffer is a bytes.Buffer safe for the registry's output goroutines
// and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startRegistry(tb testing.TB, bin string) (string, error) {
	tb.Helper()
	dir := tb.TempDir()
	// Pick a free port. Another process may take it before the registry
	// binds it; StartRegistry then tries again.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: warden-test-registry
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return "", err
	}
	var out syncBuffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			return "", fmt.Errorf("registry exited before serving:\n%s", out.String())
		default:
		}
		resp, err := client.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("registry did not answer on %s within 20s (last error %v):\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			tb.Logf("registry output:\n%s", out.String())
		}
	})
	return addr, nil
}
