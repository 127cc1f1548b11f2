package sdktest_test

import (
	"encoding/json"
	"io"
	"net/http"
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
}

func TestTools(t *testing.T) {
	tools, err := sdktest.Tools()
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 2 || tools[0].Name != "echo" || tools[1].Name != "post" {
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
