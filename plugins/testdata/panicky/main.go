//go:build wasip1

// Command panicky is a test plugin for failures: boom panics (an ABI
// failure carrying the panic message); fail returns a Go error (an isError
// result).
package main

import (
	"errors"

	"github.com/wardenmcp/warden/sdk"
)

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "boom", Description: "Panic."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			panic("boom: the plugin panicked on purpose")
		})
	sdk.AddTool(sdk.Tool{Name: "fail", Description: "Return an error."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			return nil, errors.New("fail: the tool failed on purpose")
		})
}
