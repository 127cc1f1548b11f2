package sdktest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/sdk"
	"github.com/wardenmcp/warden/sdk/sdktest"
)

type echoArgs struct {
	Text string `json:"text" jsonschema:"required"`
}

func init() {
	sdk.AddTool(sdk.Tool{Name: "echo", Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true)}},
		func(c *sdk.Context, in echoArgs) (*sdk.Result, error) {
			return sdk.Text(in.Text), nil
		})
	sdk.AddTool(sdk.Tool{Name: "post"}, func(c *sdk.Context, in echoArgs) (*sdk.Result, error) {
		resp, err := sdk.HTTP(sdk.HTTPRequest{Method: "POST", URL: "https://svc.example/echo",
			Header: map[string]string{"X-Key": "k"}, Body: []byte(in.Text)})
		if err != nil {
			return nil, err
		}
		return sdk.Textf("%d %s %s", resp.StatusCode, resp.Header["x-seen"], resp.Body), nil
	})

	sdk.AddPrompt(sdk.Prompt{Name: "ask", Title: "Ask"}, func(c *sdk.Context, in struct {
		Question string `json:"question" jsonschema:"description=What to ask,required"`
	}) (*sdk.PromptResult, error) {
		if in.Question == "fail" {
			return nil, errors.New("will not ask that")
		}
		return &sdk.PromptResult{Messages: []sdk.PromptMessage{sdk.UserText(in.Question), sdk.AssistantText("Let me see.")}}, nil
	})
	sdk.AddResource(sdk.Resource{URI: "test://logo", Name: "logo", MIMEType: "image/png"},
		func(c *sdk.Context, uri string) (*sdk.ResourceResult, error) {
			return sdk.BlobResource("", "", []byte{0x89, 'P', 'N', 'G'}), nil
		})
	sdk.AddResourceTemplate(sdk.ResourceTemplate{URITemplate: "test://item/{id}", Name: "item"},
		func(c *sdk.Context, uri string, vars map[string]string) (*sdk.ResourceResult, error) {
			return sdk.TextResource(uri, "text/plain", "item "+vars["id"]), nil
		})
	sdk.SetCompletion(func(c *sdk.Context, ref sdk.CompletionRef, arg, value string) ([]string, error) {
		return []string{ref.Name + ref.URI + "/" + arg + "/" + value}, nil
	})
}

func TestPrompts(t *testing.T) {
	prompts, err := sdktest.Prompts()
	if err != nil {
		t.Fatal(err)
	}
	want := []sdktest.Prompt{{Name: "ask", Title: "Ask", Arguments: []sdktest.PromptArgument{{Name: "question", Description: "What to ask", Required: true}}}}
	if !reflect.DeepEqual(prompts, want) {
		t.Fatalf("prompts %+v", prompts)
	}
	res, err := sdktest.GetPrompt("ask", map[string]string{"question": "Why?"})
	if err != nil || !reflect.DeepEqual(res.Messages, []sdk.PromptMessage{sdk.UserText("Why?"), sdk.AssistantText("Let me see.")}) {
		t.Fatalf("GetPrompt = %+v, %v", res, err)
	}
	for args, want := range map[string]string{
		`{"question":"fail"}`: "will not ask that",
		`{}`:                  `invalid arguments for prompt "ask": question: required property is missing`,
	} {
		var m map[string]string
		json.Unmarshal([]byte(args), &m)
		if _, err := sdktest.GetPrompt("ask", m); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("GetPrompt(%s): err = %v, want %s", args, err, want)
		}
	}
	if _, err := sdktest.GetPrompt("nope", nil); err == nil || err.Error() != `unknown prompt "nope": this plugin has prompts ask` {
		t.Errorf("unknown prompt: %v", err)
	}
}

func TestResources(t *testing.T) {
	resources, err := sdktest.Resources()
	if err != nil || !reflect.DeepEqual(resources, []sdk.Resource{{URI: "test://logo", Name: "logo", MIMEType: "image/png"}}) {
		t.Fatalf("Resources = %+v, %v", resources, err)
	}
	templates, err := sdktest.ResourceTemplates()
	if err != nil || !reflect.DeepEqual(templates, []sdk.ResourceTemplate{{URITemplate: "test://item/{id}", Name: "item"}}) {
		t.Fatalf("ResourceTemplates = %+v, %v", templates, err)
	}
	res, err := sdktest.ReadResource("test://logo")
	want := []sdk.ResourceContents{{URI: "test://logo", MIMEType: "image/png", Blob: []byte{0x89, 'P', 'N', 'G'}}}
	if err != nil || !reflect.DeepEqual(res.Contents, want) {
		t.Fatalf("ReadResource(logo) = %+v, %v", res, err)
	}
	res, err = sdktest.ReadResource("test://item/a%20b")
	want = []sdk.ResourceContents{{URI: "test://item/a%20b", MIMEType: "text/plain", Text: "item a b"}}
	if err != nil || !reflect.DeepEqual(res.Contents, want) {
		t.Fatalf("ReadResource(item) = %+v, %v", res, err)
	}
	if _, err := sdktest.ReadResource("test://item/"); err == nil || !strings.HasPrefix(err.Error(), `unknown resource "test://item/": this plugin has resources test://logo and templates test://item/{id}`) {
		t.Errorf("unknown resource: %v", err)
	}
}

func TestComplete(t *testing.T) {
	values, err := sdktest.Complete(sdk.CompletionRef{Type: sdk.RefResource, URI: "test://item/{id}"}, "id", "4")
	if err != nil || !reflect.DeepEqual(values, []string{"test://item/{id}/id/4"}) {
		t.Fatalf("Complete = %q, %v", values, err)
	}
	if _, err := sdktest.Complete(sdk.CompletionRef{Type: "ref/other"}, "id", ""); err == nil {
		t.Fatal("bad reference accepted")
	}
}

func TestTools(t *testing.T) {
	tools, err := sdktest.Tools()
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 3 || tools[0].Name != "echo" || tools[1].Name != "post" || tools[2].Name != "countdown" {
		t.Fatalf("tools %+v", tools)
	}
	if tools[0].Annotations.ReadOnlyHint == nil || !*tools[0].Annotations.ReadOnlyHint {
		t.Errorf("annotations %+v", tools[0].Annotations)
	}
	if !json.Valid(tools[0].InputSchema) || tools[0].OutputSchema != nil {
		t.Errorf("schemas %s %s", tools[0].InputSchema, tools[0].OutputSchema)
	}
}

func TestCallForms(t *testing.T) {
	for _, args := range []any{
		map[string]string{"text": "hi"},
		json.RawMessage(`{"text":"hi"}`),
		struct {
			Text string `json:"text"`
		}{"hi"},
	} {
		res, err := sdktest.Call("echo", args)
		if err != nil || res.IsError || res.Content[0].Text != "hi" {
			t.Errorf("Call(%v) = %+v, %v", args, res, err)
		}
	}
	if _, err := sdktest.Call("echo", func() {}); err == nil {
		t.Error("unencodable arguments accepted")
	}
	out, err := sdktest.Invoke("call", []byte(`{"params":{"name":"echo","arguments":{"text":"v1"}}}`))
	if err != nil || string(out) != `{"content":[{"type":"text","text":"v1"}]}` {
		t.Errorf("v1 call: %s %v", out, err)
	}
}

func TestHostHTTP(t *testing.T) {
	res, err := sdktest.Call("post", map[string]string{"text": "x"})
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "no host") {
		t.Fatalf("without host: %+v %v", res, err)
	}
	restore := (&sdktest.Host{}).Install()
	res, err = sdktest.Call("post", map[string]string{"text": "x"})
	restore()
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "no HTTP handler") {
		t.Fatalf("without handler: %+v %v", res, err)
	}
	host := &sdktest.Host{HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Seen", r.Method)
		w.Header().Add("X-Seen", r.Header.Get("X-Key"))
		w.WriteHeader(http.StatusAccepted)
		w.Write(append([]byte(r.Host+r.URL.Path+":"), body...))
	})}
	defer host.Install()()
	res, err = sdktest.Call("post", map[string]string{"text": "payload"})
	if err != nil || res.IsError || res.Content[0].Text != "202 POST,k svc.example/echo:payload" {
		t.Fatalf("with handler: %+v %v", res, err)
	}
}
