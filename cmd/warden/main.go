// Command warden serves signed, sandboxed WebAssembly plugins as MCP tools.
//
// Run "warden --help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes that scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (a plugin trapped, a check found errors…)
	exitUsage   = 2 // the command line or an input file is wrong
)

// usageError marks errors caused by how the command was invoked.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "warden:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}

// exitError carries an exit code chosen by a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "warden",
		Short: "Serve signed, sandboxed WebAssembly plugins as MCP tools",
		Long: `Warden runs third-party MCP tools as WebAssembly plugins. Every tool call runs in a
fresh sandbox that can reach only the network hosts, files and secrets its grant names.

Start with:
  warden call PLUGIN.wasm TOOL '{"arg":"value"}'   run one tool call locally
  warden plugin inspect PLUGIN.wasm               see what a plugin declares

Exit codes: 0 success, 1 failure, 2 bad usage or bad input.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDemoCmd(), newCallCmd(), newPluginCmd(), newGrantsCmd(), newServeCmd())
	return root
}

// isCobraUsage recognises cobra's own unknown-command error, which it does
// not type.
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// argsBetween is cobra.RangeArgs with a usage error that names the command's
// expected arguments.
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			want := fmt.Sprintf("%d", min)
			if max != min {
				want = fmt.Sprintf("%d to %d", min, max)
			}
			return usagef("%s takes %s arguments, got %d (usage: %s)", cmd.CommandPath(), want, len(args), cmd.UseLine())
		}
		return nil
	}
}
