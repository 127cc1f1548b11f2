package main

import (
	"os"
	"github.com/wardenmcp/warden/sdk"
	"github.com/wardenmcp/warden/sdk/internal/bridge"
)

type GreetArgs struct {
	Name string `json:"name" jsonschema:"description=Who to greet,required,minLength=1"`
}

func main() {
	sdk.AddTool(sdk.Tool{Name: "greet"}, func(c *sdk.Context, in GreetArgs) (*sdk.Result, error) { return sdk.Text("Hello, " + in.Name + "!"), nil })
	out, _ := bridge.Dispatch(os.Args[1], []byte(os.Args[2]))
	os.Stdout.Write(out)
}
