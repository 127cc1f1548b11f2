package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/wardenmcp/warden/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var listen string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo [--listen ADDR]",
		Short: "Build, sign, install and serve the example plugins on loopback",
		Long: `Build the example plugins with the Go toolchain, sign them with an ephemeral key,
install them into a temporary store with their grants, and serve them on a loopback
address exactly as "warden serve" would, then print how to connect (MCP Inspector,
Claude Code, Claude Desktop/Cursor, curl). Ctrl-C stops it and removes the temporary files.
Run it from a Warden checkout: go run ./cmd/warden demo`,
		Args: argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return demo.Run(cmd.Context(), demo.Options{
				Listen: listen, Out: cmd.OutOrStdout(), KeepDir: keep,
				Logger:    slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})),
				Loader:    &storeLoader{},
				ToolsHash: toolsHash,
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "loopback address to serve on")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory (store, keys, config) after exit")
	return cmd
}
