//go:build wasip1

// Command logger is a test plugin for log handling: spam writes many lines
// to stdout, stderr and the host log, including terminal escape sequences,
// carriage returns and other control characters that the host must escape.
package main

import (
	"fmt"
	"os"

	"github.com/wardenmcp/warden/sdk"
)

// SpamArgs are the arguments of the spam tool.
type SpamArgs struct {
	Lines int `json:"lines,omitempty" jsonschema:"description=Lines to write to each stream (default 1000),min=0,max=1000000"`
}

const nasty = "\x1b[31mred\x1b[0m \rcarriage\x00nul \x07bell \x1b]0;title\x07 \u202eevil\n"

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "spam", Description: "Write lots of output to stdout, stderr and the log."},
		func(c *sdk.Context, in SpamArgs) (*sdk.Result, error) {
			n := in.Lines
			if n == 0 {
				n = 1000
			}
			for i := 0; i < n; i++ {
				fmt.Fprintf(os.Stdout, "stdout %d %s", i, nasty)
				fmt.Fprintf(os.Stderr, "stderr %d %s", i, nasty)
				switch i % 4 {
				case 0:
					sdk.Log.Debug(fmt.Sprintf("debug %d %s", i, nasty))
				case 1:
					sdk.Log.Info(fmt.Sprintf("info %d %s", i, nasty))
				case 2:
					sdk.Log.Warn(fmt.Sprintf("warn %d %s", i, nasty))
				default:
					sdk.Log.Error(fmt.Sprintf("error %d %s", i, nasty))
				}
			}
			return sdk.Textf("wrote %d lines to each stream", n), nil
		})
}
