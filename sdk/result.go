package sdk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	type plain Result
	p := plain(r)
	if p.Content == nil {
		p.Content = []Content{}
	}
	return marshalJSON(p)
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
	w := contentJSON{Type: c.Type, MIMEType: c.MIMEType}
	switch {
	case c.Type == "text":
		w.Text = &c.Text
	case c.Type == "image" || c.Type == "audio" || c.Data != nil:
		d := base64.StdEncoding.EncodeToString(c.Data)
		w.Data = &d
	case c.Text != "":
		w.Text = &c.Text
	}
	return marshalJSON(w)
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
