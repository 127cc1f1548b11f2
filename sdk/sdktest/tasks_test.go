package sdktest_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/wardenmcp/warden/sdk"
	"github.com/wardenmcp/warden/sdk/sdktest"
)

// This file's name sorts after sdktest_test.go, so its tool registers
// after echo and post.

type countdownArgs struct {
	From int `json:"from" jsonschema:"required,minimum=1"`
}

func init() {
	sdk.AddTool(sdk.Tool{Name: "countdown", TaskSupport: sdk.TaskOptional},
		func(c *sdk.Context, in countdownArgs) (*sdk.Result, error) {
			for i := 1; i <= in.From; i++ {
				sdk.Progress(float64(i), float64(in.From), fmt.Sprintf("%d to go", in.From-i))
			}
			sdk.Progress(0.5, 0, "a step back: Warden would drop it; sdktest records it")
			return sdk.Text("liftoff"), nil
		})
}

func TestProgress(t *testing.T) {
	var h sdktest.Host
	defer h.Install()()
	res, err := sdktest.Call("countdown", map[string]int{"from": 3})
	if err != nil || res.IsError || res.Content[0].Text != "liftoff" {
		t.Fatalf("countdown = %+v, %v", res, err)
	}
	want := []sdktest.Progress{
		{Progress: 1, Total: 3, Message: "2 to go"},
		{Progress: 2, Total: 3, Message: "1 to go"},
		{Progress: 3, Total: 3, Message: "0 to go"},
		{Progress: 0.5, Message: "a step back: Warden would drop it; sdktest records it"},
	}
	if got := h.Progress(); !reflect.DeepEqual(got, want) {
		t.Errorf("progress %+v\nwant %+v", got, want)
	}
}

func TestTaskSupportInToolList(t *testing.T) {
	tools, err := sdktest.Tools()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sdk.TaskSupport{}
	for _, tool := range tools {
		got[tool.Name] = tool.Execution.TaskSupport
	}
	if want := map[string]sdk.TaskSupport{"echo": "", "post": "", "countdown": sdk.TaskOptional}; !reflect.DeepEqual(got, want) {
		t.Errorf("task support %v, want %v", got, want)
	}
}
