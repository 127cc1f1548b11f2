//go:build wasip1

// Command loop is a test plugin for deadlines: spin never returns and never
// yields to the host; sleep blocks for the given number of milliseconds.
package main

import (
	"time"

	"github.com/wardenmcp/warden/sdk"
)

// SleepArgs are the arguments of the sleep tool.
type SleepArgs struct {
	MS int `json:"ms" jsonschema:"description=Milliseconds to sleep,required,min=0"`
}

var spins uint64

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "spin", Description: "Loop forever."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			for {
				spins++
			}
		})
	sdk.AddTool(sdk.Tool{Name: "sleep", Description: "Sleep for ms milliseconds."},
		func(c *sdk.Context, in SleepArgs) (*sdk.Result, error) {
			start := time.Now()
			time.Sleep(time.Duration(in.MS) * time.Millisecond)
			return sdk.Textf("slept %d ms", time.Since(start).Milliseconds()), nil
		})
}
