package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/plugins"
)

func newGrantsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "Review capability grants",
	}
	cmd.AddCommand(newGrantsCheckCmd(), newGrantsDiffCmd())
	return cmd
}

func newGrantsCheckCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "check [--strict] PATH...",
		Short: "Lint grant files for review; non-zero exit on errors",
		Long: `Parse and lint grant files (apiVersion: warden.dev/v1, kind: Grant). A PATH may be a
file or a directory, whose *.yaml and *.yml files are checked.

Each finding is one line, sorted, so the report diffs well in a pull request:
  PATH:LINE: SEVERITY: FIELD: MESSAGE
Errors are grants that would be refused or are dangerous (sensitive host mounts);
warnings are what a reviewer should look at (wildcards, rw mounts, private
networks, plaintext http, unredacted secrets, missing limits).

Exit status: 0 no errors (warnings allowed unless --strict), 1 errors found,
2 bad usage.`,
		Example: `  warden grants check grants/
  warden grants check --strict grants/fetch.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("grants check needs at least one PATH (a grant file or a directory of them)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := grantFiles(args)
			if err != nil {
				return usageError{err}
			}
			out := cmd.OutOrStdout()
			var errs, warns int
			for _, f := range files {
				g, err := capabilities.LoadGrant(f)
				if err != nil {
					var list capabilities.ErrorList
					if !errors.As(err, &list) {
						fmt.Fprintf(out, "%s: error: %v\n", f, err)
						errs++
						continue
					}
					for _, fe := range list {
						fmt.Fprintf(out, "%s:%d: error: %s: %s\n", f, fe.Line, fe.Field, fe.Msg)
						errs++
					}
					continue
				}
				findings := capabilities.Lint(g)
				if err := capabilities.WriteFindings(out, f, findings); err != nil {
					return err
				}
				for _, fd := range findings {
					switch fd.Severity {
					case capabilities.SeverityError:
						errs++
					case capabilities.SeverityWarning:
						warns++
					}
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d file(s) checked: %d error(s), %d warning(s)\n", len(files), errs, warns)
			if errs > 0 || (strict && warns > 0) {
				return exitError{exitFailure, fmt.Errorf("grants check found %d error(s) and %d warning(s)", errs, warns)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	return cmd
}

// grantFiles expands directories into their YAML files, sorted.
func grantFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml files", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

func newGrantsDiffCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff PLUGIN.wasm GRANT.yaml",
		Short: "Compare what a plugin requests (its manifest) with what a grant gives",
		Long: `Compare the capabilities a plugin requests in its embedded manifest with what a grant
gives it, one line per capability:
  match        requested and granted
  not-granted  requested but not granted: using it will fail
  over-grant   granted but not requested (or wider than requested)
  unstated     granted to a plugin without a manifest: the grant is the only statement
  mismatch     the grant names a different plugin

Exit status: 0 when grant and request agree (or the plugin has no manifest),
1 when anything is not granted, over-granted or mismatched, 2 bad usage.`,
		Example: `  warden grants diff examples/fetch.wasm examples/grants/fetch.yaml`,
		Args:    argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return usagef("read plugin: %w", err)
			}
			m, err := plugins.ReadManifest(wasm)
			if err != nil {
				return usagef("%s: %w", args[0], err)
			}
			g, err := capabilities.LoadGrant(args[1])
			if err != nil {
				return usageError{err}
			}
			rep := capabilities.Diff(m, g)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				if m == nil {
					fmt.Fprintf(out, "# %s embeds no manifest: the grant is the only statement of what it may do\n", args[0])
				}
				fmt.Fprint(out, rep.String())
			}
			bad := rep.Count(capabilities.StatusNotGranted) + rep.Count(capabilities.StatusOverGrant) + rep.Count(capabilities.StatusMismatch)
			if bad > 0 {
				var parts []string
				for _, s := range []capabilities.Status{capabilities.StatusNotGranted, capabilities.StatusOverGrant, capabilities.StatusMismatch} {
					if n := rep.Count(s); n > 0 {
						parts = append(parts, fmt.Sprintf("%d %s", n, s))
					}
				}
				return exitError{exitFailure, fmt.Errorf("grant and request differ: %s", strings.Join(parts, ", "))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}
