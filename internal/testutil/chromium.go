package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireChromiumEnv makes a missing Chromium fail the test instead of
// skipping it (CI sets it).
const RequireChromiumEnv = "WARDEN_REQUIRE_CHROMIUM"

// Chromium returns the path of a headless-capable Chromium (Debian's
// chromium package), skipping the test when there is none unless
// WARDEN_REQUIRE_CHROMIUM is set.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{os.Getenv("WARDEN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(RequireChromiumEnv) != "" {
		tb.Fatalf("%s is set but no chromium was found (apt-get install chromium)", RequireChromiumEnv)
	}
	tb.Skip("no chromium on PATH (apt-get install chromium); set " + RequireChromiumEnv + " to make this a failure")
	return ""
}
