package sdk

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

// Resource describes a resource with a fixed URI, as MCP clients see it in
// resources/list.
type Resource struct {
	// URI identifies the resource: an absolute URI such as
	// "notes://readme". The host serves it under the same URI, and no two
	// plugins may serve the same one.
	URI string `json:"uri"`
	// Name is a short name for the resource; MCP requires one.
	Name string `json:"name"`
	// Title is an optional human-readable name.
	Title string `json:"title,omitempty"`
	// Description says what the resource holds.
	Description string `json:"description,omitempty"`
	// MIMEType is the media type of the resource's contents, if known. It
	// is also the default for contents that do not set their own.
	MIMEType string `json:"mimeType,omitempty"`
}

// ResourceTemplate describes a family of resources whose URIs match an RFC
// 6570 level-1 template, such as "notes://topic/{name}".
type ResourceTemplate struct {
	// URITemplate is an absolute URI in which each {name} stands for a
	// variable part. Only level-1 expressions are supported: a single
	// variable name of letters, digits, '_' and inner '.', without
	// operators, lists or modifiers. Two variables may not be adjacent.
	URITemplate string `json:"uriTemplate"`
	// Name is a short name for the family; MCP requires one.
	Name string `json:"name"`
	// Title is an optional human-readable name.
	Title string `json:"title,omitempty"`
	// Description says what the resources hold.
	Description string `json:"description,omitempty"`
	// MIMEType is the media type of the resources' contents, if they all
	// share one. It is also the default for contents that do not set their
	// own.
	MIMEType string `json:"mimeType,omitempty"`
}

// ResourceResult is an MCP ReadResourceResult: what reading a resource
// returns.
type ResourceResult struct {
	// Contents are the resource's contents: usually one, several for a
	// resource that stands for a collection. They are written as an empty
	// array, never null, when there are none.
	Contents []ResourceContents `json:"contents"`
}

// ResourceContents is one item of a ResourceResult: text, or binary data
// when Blob is not nil.
type ResourceContents struct {
	// URI is the URI of this item. When empty, it is the URI that was read.
	URI string
	// MIMEType is the item's media type. When empty, it is the MIMEType of
	// the Resource or ResourceTemplate that was read.
	MIMEType string
	// Text is the contents of a text item.
	Text string
	// Blob holds the bytes of a binary item; the wire form is base64. A
	// non-nil Blob makes the item binary, even when it is empty.
	Blob []byte
}

// TextResource returns a result holding one text item.
func TextResource(uri, mimeType, text string) *ResourceResult {
	return &ResourceResult{Contents: []ResourceContents{{URI: uri, MIMEType: mimeType, Text: text}}}
}

// BlobResource returns a result holding one binary item.
func BlobResource(uri, mimeType string, data []byte) *ResourceResult {
	if data == nil {
		data = []byte{}
	}
	return &ResourceResult{Contents: []ResourceContents{{URI: uri, MIMEType: mimeType, Blob: data}}}
}

// AddText appends a text item to r and returns r.
func (r *ResourceResult) AddText(uri, mimeType, text string) *ResourceResult {
	r.Contents = append(r.Contents, ResourceContents{URI: uri, MIMEType: mimeType, Text: text})
	return r
}

// AddBlob appends a binary item to r and returns r.
func (r *ResourceResult) AddBlob(uri, mimeType string, data []byte) *ResourceResult {
	if data == nil {
		data = []byte{}
	}
	r.Contents = append(r.Contents, ResourceContents{URI: uri, MIMEType: mimeType, Blob: data})
	return r
}

// MarshalJSON writes the MCP form of r.
func (r ResourceResult) MarshalJSON() ([]byte, error) {
	return appendResourceResult(nil, &r, "", ""), nil
}

// appendResourceResult appends the JSON form of r to dst, filling in
// contents without a URI or media type from uri and mimeType.
func appendResourceResult(dst []byte, r *ResourceResult, uri, mimeType string) []byte {
	dst = append(dst, `{"contents":[`...)
	for i := range r.Contents {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendResourceContents(dst, &r.Contents[i], uri, mimeType)
	}
	return append(dst, "]}"...)
}

// MarshalJSON writes the MCP form of c: TextResourceContents, or
// BlobResourceContents with base64 "blob" when c.Blob is not nil.
func (c ResourceContents) MarshalJSON() ([]byte, error) {
	return appendResourceContents(nil, &c, "", ""), nil
}

func appendResourceContents(dst []byte, c *ResourceContents, uri, mimeType string) []byte {
	if c.URI != "" {
		uri = c.URI
	}
	if c.MIMEType != "" {
		mimeType = c.MIMEType
	}
	dst = append(dst, `{"uri":`...)
	dst = jsonv.AppendString(dst, uri)
	dst = appendOptional(dst, "mimeType", mimeType)
	if c.Blob != nil {
		dst = append(dst, `,"blob":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, c.Blob)
		dst = append(dst, '"')
	} else {
		dst = append(dst, `,"text":`...)
		dst = jsonv.AppendString(dst, c.Text)
	}
	return append(dst, '}')
}

// resourceContentsJSON is the wire form of both kinds of contents.
type resourceContentsJSON struct {
	URI      string  `json:"uri"`
	MIMEType string  `json:"mimeType,omitempty"`
	Text     string  `json:"text,omitempty"`
	Blob     *string `json:"blob,omitempty"`
}

// UnmarshalJSON reads the MCP form of resource contents.
func (c *ResourceContents) UnmarshalJSON(data []byte) error {
	var w resourceContentsJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*c = ResourceContents{URI: w.URI, MIMEType: w.MIMEType, Text: w.Text}
	if w.Blob != nil {
		b, err := base64.StdEncoding.DecodeString(*w.Blob)
		if err != nil {
			return fmt.Errorf("resource blob: %w", err)
		}
		if b == nil {
			b = []byte{}
		}
		c.Blob = b
	}
	return nil
}

// AddResource registers a resource with a fixed URI. Reading that URI runs
// h, which gets the URI and returns the contents (TextResource and
// BlobResource build common ones).
//
// MCP has no error result for resources, so a non-nil error from h makes
// the read_resource export fail, with the error's text as the message, as
// does reading a URI the plugin does not serve.
//
// AddResource is meant to be called from init functions. A URI that is not
// absolute, a missing name or a URI registered twice is reported by every
// export rather than by a panic at start-up.
func AddResource(r Resource, h func(c *Context, uri string) (*ResourceResult, error)) {
	addResource(defaultRegistry, r, h)
}

func addResource(r *registry, res Resource, h func(c *Context, uri string) (*ResourceResult, error)) {
	what := fmt.Sprintf("resource %q", res.URI)
	switch {
	case h == nil:
		r.defErrs = append(r.defErrs, fmt.Errorf("%s: nil handler", what))
		return
	case res.Name == "":
		r.defErrs = append(r.defErrs, fmt.Errorf("%s: no name (MCP requires one)", what))
		return
	}
	if err := checkURI(res.URI); err != nil {
		r.defErrs = append(r.defErrs, fmt.Errorf("%s: %w", what, err))
		return
	}
	if _, dup := r.resourceByURI[res.URI]; dup {
		r.defErrs = append(r.defErrs, fmt.Errorf("%s is registered twice", what))
		return
	}
	e := &resourceEntry{res: res, run: h}
	if r.resourceByURI == nil {
		r.resourceByURI = map[string]*resourceEntry{}
	}
	r.resourceByURI[res.URI] = e
	r.resources = append(r.resources, e)
}

// AddResourceTemplate registers a family of resources whose URIs match
// t.URITemplate. Reading a URI that matches runs h with the URI and the
// template's variables, percent-decoded. A variable matches one or more
// characters other than '/', '?' and '#' (a level-1 expansion
// percent-encodes those); when a URI could match in more than one way,
// each variable takes the shortest value that lets the rest match. Static
// resources win over templates, and earlier templates over later ones.
//
// As for AddResource, a non-nil error from h makes read_resource fail with
// its text, and a malformed template, a missing name or a template
// registered twice is reported by every export.
func AddResourceTemplate(t ResourceTemplate, h func(c *Context, uri string, vars map[string]string) (*ResourceResult, error)) {
	addResourceTemplate(defaultRegistry, t, h)
}

func addResourceTemplate(r *registry, t ResourceTemplate, h func(c *Context, uri string, vars map[string]string) (*ResourceResult, error)) {
	what := fmt.Sprintf("resource template %q", t.URITemplate)
	switch {
	case h == nil:
		r.defErrs = append(r.defErrs, fmt.Errorf("%s: nil handler", what))
		return
	case t.Name == "":
		r.defErrs = append(r.defErrs, fmt.Errorf("%s: no name (MCP requires one)", what))
		return
	}
	parts, err := parseTemplate(t.URITemplate)
	if err != nil {
		r.defErrs = append(r.defErrs, fmt.Errorf("%s: %w", what, err))
		return
	}
	for _, e := range r.templates {
		if e.tmpl.URITemplate == t.URITemplate {
			r.defErrs = append(r.defErrs, fmt.Errorf("%s is registered twice", what))
			return
		}
	}
	r.templates = append(r.templates, &templateEntry{tmpl: t, parts: parts, run: h})
}

// resourceEntry is a registered static resource.
type resourceEntry struct {
	res Resource
	run func(c *Context, uri string) (*ResourceResult, error)
}

// templateEntry is a registered resource template.
type templateEntry struct {
	tmpl  ResourceTemplate
	parts []tmplPart
	run   func(c *Context, uri string, vars map[string]string) (*ResourceResult, error)
}

// readResource runs a resource handler and encodes its result. A handler's
// error and a panic are ABI failures.
func readResource(uri, mimeType string, hostCtx json.RawMessage, run func(c *Context) (*ResourceResult, error)) (out []byte, err error) {
	c := &Context{Arguments: json.RawMessage("{}"), HostContext: hostCtx}
	defer func() {
		if p := recover(); p != nil {
			Log.Error(fmt.Sprintf("resource %q panicked: %v", uri, p), "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("resource %q panicked: %v", uri, p)
		}
	}()
	res, err := run(c)
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &ResourceResult{}
	}
	return appendResourceResult(nil, res, uri, mimeType), nil
}

// appendResourceDef appends the MCP Resource object.
func appendResourceDef(dst []byte, r *Resource) []byte {
	dst = append(dst, `{"uri":`...)
	dst = jsonv.AppendString(dst, r.URI)
	dst = append(dst, `,"name":`...)
	dst = jsonv.AppendString(dst, r.Name)
	dst = appendOptional(dst, "title", r.Title)
	dst = appendOptional(dst, "description", r.Description)
	dst = appendOptional(dst, "mimeType", r.MIMEType)
	return append(dst, '}')
}

// appendTemplateDef appends the MCP ResourceTemplate object.
func appendTemplateDef(dst []byte, t *ResourceTemplate) []byte {
	dst = append(dst, `{"uriTemplate":`...)
	dst = jsonv.AppendString(dst, t.URITemplate)
	dst = append(dst, `,"name":`...)
	dst = jsonv.AppendString(dst, t.Name)
	dst = appendOptional(dst, "title", t.Title)
	dst = appendOptional(dst, "description", t.Description)
	dst = appendOptional(dst, "mimeType", t.MIMEType)
	return append(dst, '}')
}

// checkURI checks that s is an absolute URI: a scheme, ':', and no white
// space or control characters.
func checkURI(s string) error {
	n := schemeLen(s)
	if n == 0 {
		return fmt.Errorf("not an absolute URI: expected a scheme such as \"notes:\" first")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return fmt.Errorf("has white space or a control character at byte %d", i)
		}
	}
	return nil
}

// schemeLen returns the length of s's scheme including the ':' (RFC 3986:
// a letter, then letters, digits, '+', '-' and '.'), or 0 when s does not
// start with one.
func schemeLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i + 1
		default:
			return 0
		}
	}
	return 0
}

// tmplPart is a literal run of a template, or a variable when name is set.
type tmplPart struct {
	lit  string
	name string
}

// parseTemplate splits an RFC 6570 level-1 template into literals and
// variables.
func parseTemplate(s string) ([]tmplPart, error) {
	if schemeLen(s) == 0 {
		return nil, fmt.Errorf("not an absolute URI template: expected a scheme such as \"notes:\" first")
	}
	var parts []tmplPart
	seen := map[string]bool{}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("'{' at byte %d is not closed", i)
			}
			expr := s[i+1 : i+end]
			if err := checkVarName(expr); err != nil {
				return nil, fmt.Errorf("{%s} at byte %d: %w", expr, i, err)
			}
			if seen[expr] {
				return nil, fmt.Errorf("variable {%s} appears twice", expr)
			}
			seen[expr] = true
			if len(parts) > 0 && parts[len(parts)-1].name != "" {
				return nil, fmt.Errorf("{%s} at byte %d follows another variable: put a literal between them", expr, i)
			}
			parts = append(parts, tmplPart{name: expr})
			i += end + 1
		case c == '}':
			return nil, fmt.Errorf("'}' at byte %d has no '{'", i)
		case c <= ' ' || c == 0x7f:
			return nil, fmt.Errorf("white space or a control character at byte %d", i)
		default:
			j := i
			for j < len(s) && s[j] != '{' && s[j] != '}' && s[j] > ' ' && s[j] != 0x7f {
				j++
			}
			parts = append(parts, tmplPart{lit: s[i:j]})
			i = j
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("has no {variable}: register a fixed URI with AddResource")
	}
	return parts, nil
}

// checkVarName accepts a level-1 variable name: letters, digits and '_',
// with single dots between them.
func checkVarName(name string) error {
	if name == "" {
		return fmt.Errorf("empty variable name")
	}
	if strings.ContainsAny(name[:1], "+#./;?&=,!@|") {
		return fmt.Errorf("operator %q is not supported: only level-1 templates ({name}) are", name[:1])
	}
	if strings.ContainsAny(name, ",") {
		return fmt.Errorf("lists of variables are not supported: only level-1 templates ({name}) are")
	}
	if strings.ContainsAny(name, ":*") {
		return fmt.Errorf("modifiers (':' and '*') are not supported: only level-1 templates ({name}) are")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_':
		case c == '.' && i+1 < len(name) && name[i+1] != '.':
		default:
			return fmt.Errorf("variable names are letters, digits and '_', with single dots between them")
		}
	}
	return nil
}

// match matches uri against the template and returns its variables,
// percent-decoded, or nil when it does not match.
//
// A variable's value is one or more characters other than '/', '?' and
// '#', and each variable takes the shortest value that lets the rest of
// the template match. The work is linear in the length of uri times the
// number of parts: ok[i][p] says whether parts i… match uri[p:], computed
// from the last part back, and the values are then read off from the
// first part on.
func (e *templateEntry) match(uri string) map[string]string {
	parts := e.parts
	n := len(uri)
	if first := parts[0]; first.name == "" && !strings.HasPrefix(uri, first.lit) {
		return nil // the common case: another scheme or path
	}
	ok := make([][]bool, len(parts)+1)
	end := make([]bool, n+1)
	end[n] = true
	ok[len(parts)] = end
	for i := len(parts) - 1; i >= 0; i-- {
		next, cur := ok[i+1], make([]bool, n+1)
		if lit := parts[i].lit; parts[i].name == "" {
			for p := 0; p+len(lit) <= n; p++ {
				cur[p] = next[p+len(lit)] && uri[p:p+len(lit)] == lit
			}
		} else {
			// cur[p]: some end in (p, limit] has next[end], where limit is
			// the first '/', '?' or '#' at or after p (or n).
			nearest, limit := -1, n // the smallest end > p with next[end]; the limit
			for p := n; p >= 0; p-- {
				if p < n && isValueStop(uri[p]) {
					limit = p
				}
				cur[p] = nearest >= 0 && nearest <= limit
				if next[p] {
					nearest = p
				}
			}
		}
		ok[i] = cur
	}
	if !ok[0][0] {
		return nil
	}
	vars := make(map[string]string, len(parts)/2+1)
	pos := 0
	for i, part := range parts {
		if part.name == "" {
			pos += len(part.lit)
			continue
		}
		end := pos + 1
		for !ok[i+1][end] {
			end++
		}
		vars[part.name] = percentDecode(uri[pos:end])
		pos = end
	}
	return vars
}

// isValueStop reports whether c ends a variable's value.
func isValueStop(c byte) bool { return c == '/' || c == '?' || c == '#' }

// percentDecode decodes %XX escapes; a '%' not followed by two hex digits
// is kept as it is.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
