package sdk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

// Result is an MCP CallToolResult: what a tool call returns to the client.
type Result struct {
	// Content is what the client shows or gives to the model. It is written
	// as an empty array, never null, when there is none.
	Content []Content `json:"content"`
	// StructuredContent is a JSON object for clients that read structured
	// output; AddStructuredTool fills it in.
	StructuredContent any `json:"structuredContent,omitempty"`
	// IsError marks a failed call whose content explains the failure.
	IsError bool `json:"isError,omitempty"`
}

// Content is one block of a Result: text, an image or audio.
type Content struct {
	// Type is "text", "image" or "audio".
	Type string
	// Text is the text of a "text" block.
	Text string
	// Data holds the raw bytes of an "image" or "audio" block; the wire
	// form is base64.
	Data []byte
	// MIMEType is the media type of Data, e.g. "image/png".
	MIMEType string
}

// Text returns a result holding one text block.
func Text(s string) *Result {
	return &Result{Content: []Content{{Type: "text", Text: s}}}
}

// Textf returns a result holding one text block formatted as by
// fmt.Sprintf.
func Textf(format string, args ...any) *Result {
	return Text(fmt.Sprintf(format, args...))
}

// Image returns a result holding one image block.
func Image(data []byte, mimeType string) *Result {
	return &Result{Content: []Content{{Type: "image", Data: data, MIMEType: mimeType}}}
}

// AddText appends a text block to r and returns r.
func (r *Result) AddText(s string) *Result {
	r.Content = append(r.Content, Content{Type: "text", Text: s})
	return r
}

// AddImage appends an image block to r and returns r.
func (r *Result) AddImage(data []byte, mimeType string) *Result {
	r.Content = append(r.Content, Content{Type: "image", Data: data, MIMEType: mimeType})
	return r
}

// MarshalJSON writes the MCP form of r.
func (r Result) MarshalJSON() ([]byte, error) {
	return appendResult(nil, &r)
}

// contentJSON is the wire form of every kind of content block.
type contentJSON struct {
	Type     string  `json:"type"`
	Text     *string `json:"text,omitempty"`
	Data     *string `json:"data,omitempty"`
	MIMEType string  `json:"mimeType,omitempty"`
}

// MarshalJSON writes the MCP form of c: "text" for text blocks, base64
// "data" and "mimeType" for images and audio.
func (c Content) MarshalJSON() ([]byte, error) {
	return appendContent(nil, &c), nil
}

// appendResult appends the JSON form of r to dst. Results can be large
// (megabytes of text), so it writes them directly instead of going through
// encoding/json's Marshaler machinery, which re-scans every nested
// MarshalJSON output byte by byte.
func appendResult(dst []byte, r *Result) ([]byte, error) {
	dst = append(dst, `{"content":[`...)
	for i := range r.Content {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendContent(dst, &r.Content[i])
	}
	dst = append(dst, ']')
	if r.StructuredContent != nil {
		var data []byte
		switch v := r.StructuredContent.(type) {
		case json.RawMessage:
			data = v
		default:
			var err error
			if data, err = marshalJSON(v); err != nil {
				return nil, fmt.Errorf("structuredContent: %w", err)
			}
		}
		if len(data) > 0 && string(data) != "null" {
			dst = append(dst, `,"structuredContent":`...)
			dst = append(dst, data...)
		}
	}
	if r.IsError {
		dst = append(dst, `,"isError":true`...)
	}
	return append(dst, '}'), nil
}

func appendContent(dst []byte, c *Content) []byte {
	dst = append(dst, `{"type":`...)
	dst = jsonv.AppendString(dst, c.Type)
	switch {
	case c.Type == "text":
		dst = append(dst, `,"text":`...)
		dst = jsonv.AppendString(dst, c.Text)
	case c.Type == "image" || c.Type == "audio" || c.Data != nil:
		dst = append(dst, `,"data":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, c.Data)
		dst = append(dst, '"')
	case c.Text != "":
		dst = append(dst, `,"text":`...)
		dst = jsonv.AppendString(dst, c.Text)
	}
	if c.MIMEType != "" {
		dst = append(dst, `,"mimeType":`...)
		dst = jsonv.AppendString(dst, c.MIMEType)
	}
	return append(dst, '}')
}

// UnmarshalJSON reads the MCP form of a content block.
func (c *Content) UnmarshalJSON(data []byte) error {
	var w contentJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*c = Content{Type: w.Type, MIMEType: w.MIMEType}
	if w.Text != nil {
		c.Text = *w.Text
	}
	if w.Data != nil {
		d, err := base64.StdEncoding.DecodeString(*w.Data)
		if err != nil {
			return fmt.Errorf("content data: %w", err)
		}
		c.Data = d
	}
	return nil
}

// marshalJSON encodes v like json.Marshal but leaves <, > and & as they are.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
