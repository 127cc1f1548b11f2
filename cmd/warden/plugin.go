package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/atomicfile"
	"github.com/wardenmcp/warden/plugins"
)

func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Pack, inspect, sign, install and verify plugins",
	}
	cmd.AddCommand(newInspectCmd(), newPackCmd())
	cmd.AddCommand(registryCmds()...)
	return cmd
}

// inspection is what `plugin inspect --json` prints.
type inspection struct {
	Name      string                 `json:"name"`
	Digest    string                 `json:"digest"`
	Size      int                    `json:"size"`
	ABI       string                 `json:"abi"`
	MinMemory uint64                 `json:"minMemoryBytes"`
	Manifest  *capabilities.Manifest `json:"manifest"`
	Imports   []string               `json:"imports"`
	Exports   []string               `json:"exports"`
	Tools     []json.RawMessage      `json:"tools"`
}

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect PLUGIN.wasm",
		Short: "Show a plugin's manifest, ABI, imports, exports and tools",
		Long: `Show what a plugin declares: its embedded manifest (name, version, requested
capabilities, limits), which plugin ABI it exports, what it imports from the host,
and its tools with their schemas. Listing the tools runs the plugin once in an
empty sandbox (no network, files or secrets).`,
		Example: `  warden plugin inspect examples/hello.wasm
  warden plugin inspect --json plugin.wasm | jq '.tools[].name'`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return usagef("read plugin: %w", err)
			}
			rt, err := plugins.NewRuntime(ctx)
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			name := strings.TrimSuffix(filepath.Base(args[0]), ".wasm")
			if m, err := plugins.ReadManifest(wasm); err == nil && m != nil && m.Name != "" {
				name = m.Name
			}
			p, err := rt.Load(ctx, name, wasm)
			if err != nil {
				return err
			}
			defer p.Close(ctx)
			in := inspection{Name: p.Name(), Digest: p.Digest(), Size: p.Size(), ABI: p.ABI().String(),
				MinMemory: p.MinMemory(), Manifest: p.Manifest(), Imports: p.Imports(), Exports: p.Exports()}
			for _, t := range p.Tools() {
				in.Tools = append(in.Tools, t.Definition)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			printInspection(cmd.OutOrStdout(), &in, p.Tools())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func printInspection(w io.Writer, in *inspection, tools []plugins.Tool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", in.Name)
	fmt.Fprintf(tw, "digest:\t%s\n", in.Digest)
	fmt.Fprintf(tw, "size:\t%s\n", humanBytes(int64(in.Size)))
	fmt.Fprintf(tw, "abi:\t%s\n", in.ABI)
	fmt.Fprintf(tw, "memory at start:\t%s\n", humanBytes(int64(in.MinMemory)))
	tw.Flush()
	fmt.Fprintln(w)
	if m := in.Manifest; m != nil {
		fmt.Fprintf(w, "manifest: %s %s\n", m.Name, m.Version)
		if m.Description != "" {
			fmt.Fprintf(w, "  %s\n", m.Description)
		}
		c := m.Capabilities
		for _, n := range c.Network {
			fmt.Fprintf(w, "  requests network: %s ports %v schemes %v\n", n.Host, n.Ports, n.Schemes)
		}
		for _, f := range c.Filesystem {
			fmt.Fprintf(w, "  requests filesystem: %s (%s)\n", f.Guest, f.Mode)
		}
		for _, s := range c.Secrets {
			fmt.Fprintf(w, "  requests secret: %s\n", s.Name)
		}
		if !m.Limits.IsZero() {
			fmt.Fprintf(w, "  limits: memory %s, timeout %s, output %s\n", m.Limits.Memory, m.Limits.Timeout, m.Limits.Output)
		}
	} else {
		fmt.Fprintln(w, "manifest: none (the grant is the only statement of what this plugin may do)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "imports (%d):\n", len(in.Imports))
	for _, i := range in.Imports {
		fmt.Fprintf(w, "  %s\n", i)
	}
	fmt.Fprintf(w, "exports (%d):\n", len(in.Exports))
	for _, e := range in.Exports {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "tools (%d):\n", len(tools))
	for _, t := range tools {
		fmt.Fprintf(w, "  %s\n", t.Name)
		if t.Description != "" {
			fmt.Fprintf(w, "    %s\n", t.Description)
		}
		fmt.Fprintf(w, "    input:  %s\n", t.InputSchema)
		if t.OutputSchema != nil {
			fmt.Fprintf(w, "    output: %s\n", t.OutputSchema)
		}
		if t.Annotations != nil {
			fmt.Fprintf(w, "    annotations: %s\n", t.Annotations)
		}
	}
}

func newPackCmd() *cobra.Command {
	var manifestFile, out string
	cmd := &cobra.Command{
		Use:   "pack --manifest FILE.yaml IN.wasm -o OUT.wasm",
		Short: "Embed a manifest in a plugin (custom section warden.manifest)",
		Long: `Embed a manifest (apiVersion: warden.dev/v1, kind: Manifest) in a plugin module as the
custom section "warden.manifest", replacing any manifest it had. Sign the packed
module afterwards: the signature then covers the manifest too.

The output is written atomically (a temporary file renamed into place).`,
		Example: `  warden plugin pack --manifest examples/hello/manifest.yaml hello.wasm -o hello.wasm`,
		Args:    argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if manifestFile == "" || out == "" {
				return usagef("pack needs --manifest FILE.yaml and -o OUT.wasm")
			}
			data, err := os.ReadFile(manifestFile)
			if err != nil {
				return usagef("read manifest: %w", err)
			}
			m, err := capabilities.ParseManifestYAML(manifestFile, data)
			if err != nil {
				return usageError{err}
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return usagef("read plugin: %w", err)
			}
			packed, err := plugins.EmbedManifest(wasm, m)
			if err != nil {
				return usagef("%s: %w", args[0], err)
			}
			if err := atomicfile.WriteFile(out, packed, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "packed manifest %s %s into %s (%s)\n", m.Name, m.Version, out, humanBytes(int64(len(packed))))
			return nil
		},
	}
	cmd.Flags().StringVar(&manifestFile, "manifest", "", "manifest file (YAML)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the packed module (may be IN.wasm itself)")
	return cmd
}

// humanBytes formats n for people: "3.7 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
