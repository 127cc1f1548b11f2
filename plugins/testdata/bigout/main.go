//go:build wasip1

// Command bigout is a test plugin for output caps: big returns a text of the
// given number of MiB.
package main

import (
	"strings"

	"github.com/wardenmcp/warden/sdk"
)

// BigArgs are the arguments of the big tool.
type BigArgs struct {
	MB int `json:"mb" jsonschema:"description=Size of the text in MiB,required,min=0,max=1024"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "big", Description: "Return mb MiB of text."},
		func(c *sdk.Context, in BigArgs) (*sdk.Result, error) {
			return sdk.Text(strings.Repeat("x", in.MB<<20)), nil
		})
}
