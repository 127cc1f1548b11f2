//go:build wasip1

// Command slow is a plugin whose tools take a while and say how far they
// got: each step sleeps and then reports its progress with sdk.Progress.
// work may run as an MCP task (TaskOptional); report must (TaskRequired).
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o slow.wasm ./examples/slow
//
// and call it with
//
//	go run ./cmd/warden call --grant examples/grants/slow.yaml slow.wasm work '{"steps":3}'
//
// Reporting progress makes the plugin import extism:host/user::warden_progress,
// which Warden provides.
package main

import (
	"fmt"
	"time"

	"github.com/wardenmcp/warden/sdk"
)

// WorkArgs are the arguments of the work tool.
type WorkArgs struct {
	Steps      int `json:"steps" jsonschema:"description=How many steps to take,minimum=1,maximum=600,default=10"`
	StepMillis int `json:"stepMillis" jsonschema:"description=How long each step takes in milliseconds,minimum=1,maximum=10000,default=200"`
}

// ReportArgs are the arguments of the report tool.
type ReportArgs struct {
	Steps      int `json:"steps" jsonschema:"description=How many steps to take,minimum=1,maximum=600,default=5"`
	StepMillis int `json:"stepMillis" jsonschema:"description=How long each step takes in milliseconds,minimum=1,maximum=10000,default=200"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{
		Name:        "work",
		Description: "Take steps × stepMillis milliseconds, reporting progress after each step.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)},
		TaskSupport: sdk.TaskOptional,
	}, func(c *sdk.Context, in WorkArgs) (*sdk.Result, error) {
		return run(in.Steps, in.StepMillis, 10), nil
	})

	sdk.AddTool(sdk.Tool{
		Name:        "report",
		Description: "Prepare a report in steps, reporting progress after each; clients must run it as a task.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)},
		TaskSupport: sdk.TaskRequired,
	}, func(c *sdk.Context, in ReportArgs) (*sdk.Result, error) {
		return run(in.Steps, in.StepMillis, 5), nil
	})
}

// run takes steps steps of stepMillis each (the defaults when zero) and
// reports progress after each one. The host's sleep ends early when the
// call is cancelled or times out, and the host then stops the plugin.
func run(steps, stepMillis, defaultSteps int) *sdk.Result {
	if steps == 0 {
		steps = defaultSteps
	}
	if stepMillis == 0 {
		stepMillis = 200
	}
	for i := 1; i <= steps; i++ {
		time.Sleep(time.Duration(stepMillis) * time.Millisecond)
		sdk.Progress(float64(i), float64(steps), fmt.Sprintf("step %d of %d", i, steps))
	}
	return sdk.Text(fmt.Sprintf("done: %d steps", steps))
}
