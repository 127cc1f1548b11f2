//go:build wasip1

// Command fetch is a Warden plugin that fetches a URL through the host. The
// host checks every request against the plugin's network grant, so the
// plugin can reach only what the operator allowed. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fetch.wasm ./examples/fetch
package main

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wardenmcp/warden/sdk"
)

// defaultMaxBytes is how much of a body the tool shows unless told otherwise.
const defaultMaxBytes = 64 << 10

// GetArgs are the arguments of the get tool.
type GetArgs struct {
	URL      string `json:"url" jsonschema:"description=Absolute http or https URL to fetch,required,format=uri"`
	MaxBytes int    `json:"max_bytes,omitempty" jsonschema:"description=Show at most this many bytes of the body (default 65536),min=1,max=1048576"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{
		Name:        "get",
		Description: "Fetch a URL with HTTP GET and return the status, the main headers and the body (truncated). Only hosts granted to this plugin can be reached.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(true)},
	}, get)
}

func get(c *sdk.Context, in GetArgs) (*sdk.Result, error) {
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("expected an absolute http or https URL, found %q", in.URL)
	}
	max := in.MaxBytes
	if max <= 0 {
		max = defaultMaxBytes
	}
	sdk.Log.Debug("fetching", "url", u.Redacted())
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method: "GET",
		URL:    u.String(),
		Header: map[string]string{"Accept": "text/*, application/json;q=0.9, */*;q=0.5", "User-Agent": "warden-fetch/0.1"},
	})
	if err != nil {
		return nil, err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", resp.StatusCode)
	var names []string
	for k := range resp.Header {
		switch k {
		case "content-type", "content-length", "last-modified", "location", "etag":
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %s\n", k, resp.Header[k])
	}
	b.WriteByte('\n')
	body := resp.Body
	truncated := len(body) > max
	if truncated {
		body = trimPartialRune(body[:max])
	}
	if utf8.Valid(body) {
		b.Write(body)
	} else {
		fmt.Fprintf(&b, "[binary body of %d bytes not shown]", len(resp.Body))
		truncated = false
	}
	if truncated {
		fmt.Fprintf(&b, "\n[truncated: showing %d of %d bytes]", len(body), len(resp.Body))
	}
	return sdk.Text(b.String()), nil
}

// trimPartialRune drops the bytes of a UTF-8 sequence cut in half at the end
// of b.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}
