package testutil

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireInteropEnv names the environment variable that turns a missing
// Node project (no node_modules) from a skip into a failure. CI sets it, so
// the interop tests cannot silently stop running there.
const RequireInteropEnv = "WARDEN_REQUIRE_INTEROP"

// NodeProject returns the absolute path of the Node project at dir (relative
// to the module root, e.g. "host/testdata/interop") after checking that
// "npm ci" has run in it: node_modules/.bin/node (the node@22 package) must
// exist. When it does not, the test is skipped, or fails when
// WARDEN_REQUIRE_INTEROP is set.
func NodeProject(tb testing.TB, dir string) string {
	tb.Helper()
	abs := filepath.Join(ModuleRoot(tb), filepath.FromSlash(dir))
	if _, err := os.Stat(NodeBinary(abs)); err != nil {
		msg := "the Node project " + dir + " is not installed (" + err.Error() + "); run: npm ci --prefix " + dir
		if os.Getenv(RequireInteropEnv) != "" {
			tb.Fatalf("%s (%s is set, so this is a failure, not a skip)", msg, RequireInteropEnv)
		}
		tb.Skip(msg)
	}
	return abs
}

// NodeBinary is the Node executable the project at abs installs (the node
// npm package's binary).
func NodeBinary(abs string) string {
	return filepath.Join(abs, "node_modules", ".bin", "node")
}

// NodeResult is what a Node script run by RunNode did.
type NodeResult struct {
	Stdout, Stderr []byte
	Err            error // nil when the script exited 0
	Elapsed        time.Duration
}

// RunNode runs script (relative to the project at abs) with the project's
// Node, the given extra environment (KEY=VALUE) and arguments, in abs, and
// waits at most timeout. The script's stderr is also logged when it fails.
func RunNode(tb testing.TB, abs string, timeout time.Duration, env []string, script string, args ...string) NodeResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, NodeBinary(abs), append([]string{script}, args...)...)
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	res := NodeResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Err: err, Elapsed: time.Since(start)}
	if err != nil {
		tb.Logf("node %s %s: %v after %v\nstderr:\n%s", script, strings.Join(args, " "), err, res.Elapsed.Round(time.Millisecond), stderr.String())
	}
	return res
}
