package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/plugins"
)

func newCallCmd() *cobra.Command {
	var (
		grantFile string
		secrets   []string
		timeout   time.Duration
		cacheDir  string
		logLevel  string
	)
	cmd := &cobra.Command{
		Use:   "call [flags] PLUGIN.wasm TOOL [ARGS_JSON]",
		Short: "Run one tool call in a fresh sandbox (for development; no signature needed)",
		Long: `Run one tool call in a fresh sandbox and print the MCP CallToolResult JSON on stdout.

The plugin runs with nothing but computation unless --grant names a grant file
(apiVersion: warden.dev/v1, kind: Grant) that gives it network hosts, filesystem
mounts, secrets and limits. --secret NAME=VALUE hands the plugin one secret
directly (for local testing), masked in the output like a granted secret.

The plugin's name is the name in its manifest, else the file name without .wasm.
Plugin logs and stdout/stderr go to stderr as JSON lines, escaped and capped.

Exit status: 0 when the plugin returned a result (even one with "isError": true),
1 when the call could not run (bad module, unknown tool, trap, timeout, memory),
2 for bad usage or bad input (arguments that are not a JSON object, a bad grant).`,
		Example: `  warden call examples/hello.wasm greet '{"name":"Ada"}'
  warden call --grant examples/grants/fetch.yaml fetch.wasm get '{"url":"https://example.com"}'
  warden call --secret SIGNING_KEY=dev-key secrets.wasm sign '{"message":"hi"}'`,
		Args: argsBetween(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			path, tool := args[0], args[1]
			var callArgs json.RawMessage
			if len(args) == 3 {
				callArgs = json.RawMessage(args[2])
				if t := bytes.TrimSpace(callArgs); !json.Valid(t) || len(t) == 0 || t[0] != '{' {
					return usagef("ARGS_JSON must be a JSON object such as '{\"name\":\"Ada\"}'; got %.60q", args[2])
				}
			}
			level, err := parseLevel(logLevel)
			if err != nil {
				return usageError{err}
			}
			wasm, err := os.ReadFile(path)
			if err != nil {
				return usagef("read plugin: %w", err)
			}
			grant := &capabilities.Grant{}
			if grantFile != "" {
				if grant, err = capabilities.LoadGrant(grantFile); err != nil {
					return usageError{err}
				}
			}
			extra := map[string]string{}
			for _, s := range secrets {
				name, value, ok := strings.Cut(s, "=")
				if !ok || name == "" {
					return usagef("--secret wants NAME=VALUE, got %q", redactFlag(s))
				}
				extra[name] = value
			}

			var opts []plugins.Option
			if cacheDir != "" {
				opts = append(opts, plugins.WithCacheDir(cacheDir))
			}
			rt, err := plugins.NewRuntime(ctx, opts...)
			if err != nil {
				return err
			}
			defer rt.Close(ctx)

			name := strings.TrimSuffix(filepath.Base(path), ".wasm")
			if m, err := plugins.ReadManifest(wasm); err != nil {
				return err
			} else if m != nil && m.Name != "" {
				name = m.Name
			}
			if grant.Plugin != "" && grant.Plugin != name {
				return usagef("grant %s is for plugin %q, but this plugin is %q", grantFile, grant.Plugin, name)
			}
			p, err := rt.Load(ctx, name, wasm)
			if err != nil {
				return err
			}
			defer p.Close(ctx)

			sb, err := rt.SandboxFromGrant(ctx, name, grant, capabilities.DefaultProviders())
			if err != nil {
				return err
			}
			defer sb.Close()
			if len(extra) > 0 {
				// Flag secrets are masked like granted ones; the grant's
				// own opt-outs still apply to its secrets.
				redacted := map[string]string{}
				for _, s := range grant.Secrets {
					if v, ok := sb.Config[s.Name]; ok && s.Redacted() {
						redacted[s.Name] = v
					}
				}
				if sb.Config == nil {
					sb.Config = map[string]string{}
				}
				for k, v := range extra {
					sb.Config[k] = v
					redacted[k] = v
				}
				sb.Redactor = capabilities.NewRedactor(redacted)
			}
			if timeout > 0 {
				sb.Limits.Timeout = capabilities.Duration(timeout)
			}
			sb.Log = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
			sb.LogLevel = level

			res, err := p.Call(ctx, tool, callArgs, sb)
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, res.JSON, "", "  "); err != nil {
				return fmt.Errorf("format result: %w", err)
			}
			out.WriteByte('\n')
			_, err = cmd.OutOrStdout().Write(out.Bytes())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&grantFile, "grant", "", "grant file (YAML) giving the plugin network, filesystem, secrets and limits")
	f.StringArrayVar(&secrets, "secret", nil, "give the plugin secret `NAME=VALUE` (repeatable; masked in output)")
	f.DurationVar(&timeout, "timeout", 0, "stop the call after this long (default: the grant's limit, else 10s)")
	f.StringVar(&cacheDir, "cache-dir", defaultCacheDir(), "directory for compiled code and rewritten modules (mode 0700); empty disables the cache")
	f.StringVar(&logLevel, "log-level", "info", "lowest plugin log level shown on stderr: trace, debug, info, warn, error")
	return cmd
}

// redactFlag hides a secret's value in an error message about its flag.
func redactFlag(s string) string {
	if name, _, ok := strings.Cut(s, "="); ok {
		return name + "=…"
	}
	if len(s) > 3 {
		return s[:3] + "…"
	}
	return s
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return slog.LevelDebug - 4, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want trace, debug, info, warn or error", s)
}

// defaultCacheDir is the per-user compilation cache for development
// commands; `warden serve` keeps its cache inside the plugin store instead.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "warden", "compiled")
}
