//go:build wasip1

// Command hello is the smallest Warden plugin: two pure tools, greet and
// echo. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm ./examples/hello
package main

import "github.com/wardenmcp/warden/sdk"

// GreetArgs are the arguments of the greet tool.
type GreetArgs struct {
	Name string `json:"name" jsonschema:"description=Who to greet,required,minLength=1"`
}

// EchoArgs are the arguments of the echo tool.
type EchoArgs struct {
	Text string `json:"text" jsonschema:"description=The text to send back unchanged,required"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{
		Name:        "greet",
		Description: "Say hello to someone by name.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)},
	}, func(c *sdk.Context, in GreetArgs) (*sdk.Result, error) {
		return sdk.Text("Hello, " + in.Name + "!"), nil
	})

	sdk.AddTool(sdk.Tool{
		Name:        "echo",
		Description: "Return the given text unchanged.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)},
	}, func(c *sdk.Context, in EchoArgs) (*sdk.Result, error) {
		return sdk.Text(in.Text), nil
	})
}
