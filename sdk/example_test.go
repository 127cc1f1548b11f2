package sdk_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wardenmcp/warden/sdk"
	"github.com/wardenmcp/warden/sdk/sdktest"
)

// GreetArgs are the arguments of the greet tool in the examples.
type GreetArgs struct {
	Name string `json:"name" jsonschema:"description=Who to greet,required"`
}

func ExampleAddTool() {
	// In a plugin this call sits in an init function.
	sdk.AddTool(sdk.Tool{
		Name:        "greet",
		Description: "Say hello",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true)},
	}, func(c *sdk.Context, in GreetArgs) (*sdk.Result, error) {
		return sdk.Text("Hello, " + in.Name + "!"), nil
	})

	res, _ := sdktest.Call("greet", map[string]any{"name": "Ada"})
	fmt.Println(res.Content[0].Text)

	// Arguments that do not match the schema never reach the handler.
	res, _ = sdktest.Call("greet", map[string]any{"name": 42})
	fmt.Println(res.IsError, res.Content[0].Text)
	// Output:
	// Hello, Ada!
	// true invalid arguments for tool "greet": name: expected a string, found number 42
}

// Digest is the structured result of the checksum tool.
type Digest struct {
	Algorithm string `json:"algorithm"`
	Sum       int    `json:"sum"`
}

func ExampleAddStructuredTool() {
	type Args struct {
		Text string `json:"text" jsonschema:"required,maxLength=1024"`
	}
	sdk.AddStructuredTool(sdk.Tool{Name: "checksum", Description: "Add up the bytes of a text"},
		func(c *sdk.Context, in Args) (Digest, error) {
			sum := 0
			for i := 0; i < len(in.Text); i++ {
				sum += int(in.Text[i])
			}
			return Digest{Algorithm: "bytesum", Sum: sum}, nil
		})

	tools, _ := sdktest.Tools()
	for _, t := range tools {
		if t.Name == "checksum" {
			fmt.Println(string(t.OutputSchema))
		}
	}
	res, _ := sdktest.Call("checksum", map[string]any{"text": "abc"})
	fmt.Println(res.StructuredContent)
	fmt.Println(res.Content[0].Text)
	// Output:
	// {"type":"object","properties":{"algorithm":{"type":"string"},"sum":{"type":"integer"}},"required":["algorithm","sum"],"additionalProperties":false}
	// map[algorithm:bytesum sum:294]
	// {"algorithm":"bytesum","sum":294}
}

func ExampleAddTool_errors() {
	sdk.AddTool(sdk.Tool{Name: "divide"}, func(c *sdk.Context, in struct {
		A float64 `json:"a" jsonschema:"required"`
		B float64 `json:"b" jsonschema:"required"`
	}) (*sdk.Result, error) {
		if in.B == 0 {
			// A Go error is a tool result with isError set, not a failed call.
			return nil, errors.New("cannot divide by zero")
		}
		return sdk.Textf("%g", in.A/in.B), nil
	})

	res, err := sdktest.Call("divide", map[string]any{"a": 1, "b": 0})
	fmt.Println(res.IsError, res.Content[0].Text, err)

	// Asking for a tool the plugin does not have is a failed call.
	_, err = sdktest.Call("multiply", nil)
	fmt.Println(strings.SplitN(err.Error(), ":", 2)[0])
	// Output:
	// true cannot divide by zero <nil>
	// unknown tool "multiply"
}

func ExampleHTTP() {
	host := &sdktest.Host{
		HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "you asked for %s", r.URL.Path)
		}),
	}
	defer host.Install()()

	resp, err := sdk.HTTP(sdk.HTTPRequest{URL: "https://api.example.com/status"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, resp.Header["content-type"], string(resp.Body))
	// Output:
	// 200 text/plain you asked for /status
}

func ExampleSecret() {
	defer (&sdktest.Host{Config: map[string]string{"API_TOKEN": "s3cr3t"}}).Install()()

	if token, ok := sdk.Secret("API_TOKEN"); ok {
		fmt.Println("token has", len(token), "characters")
	}
	if _, ok := sdk.Secret("OTHER"); !ok {
		fmt.Println("OTHER is not granted")
	}
	// Output:
	// token has 6 characters
	// OTHER is not granted
}

func ExampleLogger() {
	host := &sdktest.Host{LogLevel: sdk.LevelInfo}
	defer host.Install()()

	sdk.Log.Debug("not recorded: below the host's level")
	sdk.Log.Info("fetched", "url", "https://example.com", "bytes", 512)
	for _, e := range host.Logs() {
		fmt.Println(e.Level, e.Message)
	}
	// Output:
	// 2 fetched url=https://example.com bytes=512
}

func ExampleText() {
	res := sdk.Text("two blocks").AddText("second")
	data, _ := res.MarshalJSON()
	fmt.Println(string(data))
	// Output:
	// {"content":[{"type":"text","text":"two blocks"},{"type":"text","text":"second"}]}
}

// SummaryArgs are the arguments of the summarize prompt in the examples.
// Prompt arguments are strings.
type SummaryArgs struct {
	Topic string `json:"topic" jsonschema:"description=What to summarize,required"`
	Tone  string `json:"tone" jsonschema:"description=How to sound,enum=plain|formal"`
}

func ExampleAddPrompt() {
	// In a plugin this call sits in an init function.
	sdk.AddPrompt(sdk.Prompt{Name: "summarize", Description: "Summarize notes on a topic"},
		func(c *sdk.Context, in SummaryArgs) (*sdk.PromptResult, error) {
			text := "Summarize my notes about " + in.Topic + "."
			if in.Tone != "" {
				text += " Keep it " + in.Tone + "."
			}
			return &sdk.PromptResult{Messages: []sdk.PromptMessage{sdk.UserText(text)}}, nil
		})

	prompts, _ := sdktest.Prompts()
	for _, a := range prompts[0].Arguments {
		fmt.Printf("%s (required %v): %s\n", a.Name, a.Required, a.Description)
	}
	res, _ := sdktest.GetPrompt("summarize", map[string]string{"topic": "Go", "tone": "plain"})
	fmt.Println(res.Messages[0].Role, res.Messages[0].Content.Text)

	// MCP has no error result for prompts: bad arguments fail the request.
	_, err := sdktest.GetPrompt("summarize", nil)
	fmt.Println(err)
	// Output:
	// topic (required true): What to summarize
	// tone (required false): How to sound
	// user Summarize my notes about Go. Keep it plain.
	// invalid arguments for prompt "summarize": topic: required property is missing (expected a string)
}

func ExampleAddResource() {
	sdk.AddResource(sdk.Resource{URI: "docs://readme", Name: "readme", MIMEType: "text/markdown"},
		func(c *sdk.Context, uri string) (*sdk.ResourceResult, error) {
			// An empty URI or media type is filled in from the Resource.
			return sdk.TextResource("", "", "# Read me"), nil
		})

	res, _ := sdktest.ReadResource("docs://readme")
	c := res.Contents[0]
	fmt.Println(c.URI, c.MIMEType, c.Text)

	// A URI the plugin does not serve fails the request.
	_, err := sdktest.ReadResource("docs://missing")
	msg, _, _ := strings.Cut(err.Error(), ": this plugin has")
	fmt.Println(msg)
	// Output:
	// docs://readme text/markdown # Read me
	// unknown resource "docs://missing"
}

func ExampleAddResourceTemplate() {
	sdk.AddResourceTemplate(sdk.ResourceTemplate{URITemplate: "docs://page/{slug}.{lang}", Name: "page"},
		func(c *sdk.Context, uri string, vars map[string]string) (*sdk.ResourceResult, error) {
			if vars["lang"] != "en" {
				// A Go error fails the read with its text.
				return nil, fmt.Errorf("no %s translation of %q", vars["lang"], vars["slug"])
			}
			return sdk.TextResource(uri, "text/plain", "page "+vars["slug"]), nil
		})

	res, _ := sdktest.ReadResource("docs://page/getting%20started.en")
	fmt.Println(res.Contents[0].Text)
	_, err := sdktest.ReadResource("docs://page/faq.fr")
	fmt.Println(err)
	// Output:
	// page getting started
	// no fr translation of "faq"
}

func ExampleSetCompletion() {
	topics := []string{"go", "gophers", "rust", "wasm"}
	sdk.SetCompletion(func(c *sdk.Context, ref sdk.CompletionRef, arg, value string) ([]string, error) {
		if ref.Type != sdk.RefPrompt || ref.Name != "summarize" || arg != "topic" {
			return nil, nil
		}
		var out []string
		for _, t := range topics {
			if strings.HasPrefix(t, value) {
				out = append(out, t)
			}
		}
		return out, nil
	})

	values, _ := sdktest.Complete(sdk.CompletionRef{Type: sdk.RefPrompt, Name: "summarize"}, "topic", "go")
	fmt.Println(values)
	// Output:
	// [go gophers]
}
