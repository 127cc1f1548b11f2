//go:build wasip1

// Command progress is a test plugin for warden_progress: raw hands the host
// arbitrary report bytes (malformed ones included), bypassing the SDK's
// encoder; say reports through sdk.Progress.
package main

import (
	"github.com/wardenmcp/warden/sdk"
)

//go:wasmimport extism:host/env alloc
func alloc(n uint64) uint64

//go:wasmimport extism:host/env store_u8
func storeU8(off uint64, v uint32)

//go:wasmimport extism:host/env free
func free(off uint64)

//go:wasmimport extism:host/user warden_progress
func wardenProgress(report uint64)

// RawArgs are the arguments of the raw tool.
type RawArgs struct {
	// Reports are sent as they are; an empty one is sent as offset 0.
	Reports []string `json:"reports" jsonschema:"required"`
}

// Report is one sdk.Progress call.
type Report struct {
	Progress float64 `json:"progress"`
	Total    float64 `json:"total"`
	Message  string  `json:"message"`
}

// SayArgs are the arguments of the say tool.
type SayArgs struct {
	Reports []Report `json:"reports" jsonschema:"required"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "raw", Description: "Send raw progress reports."},
		func(c *sdk.Context, in RawArgs) (*sdk.Result, error) {
			for _, r := range in.Reports {
				if r == "" {
					wardenProgress(0)
					continue
				}
				off := alloc(uint64(len(r)))
				for i := 0; i < len(r); i++ {
					storeU8(off+uint64(i), uint32(r[i]))
				}
				wardenProgress(off)
				free(off)
			}
			return sdk.Textf("sent %d", len(in.Reports)), nil
		})
	sdk.AddTool(sdk.Tool{Name: "say", Description: "Report progress through the SDK.", TaskSupport: sdk.TaskRequired},
		func(c *sdk.Context, in SayArgs) (*sdk.Result, error) {
			for _, r := range in.Reports {
				sdk.Progress(r.Progress, r.Total, r.Message)
			}
			return sdk.Textf("said %d", len(in.Reports)), nil
		})
}
