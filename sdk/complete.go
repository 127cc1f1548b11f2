package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

// CompletionRef names what an argument being completed belongs to.
type CompletionRef struct {
	// Type is "ref/prompt" for a prompt's argument or "ref/resource" for a
	// resource template's variable.
	Type string `json:"type"`
	// Name is the prompt's name, for "ref/prompt".
	Name string `json:"name,omitempty"`
	// URI is the resource template, for "ref/resource".
	URI string `json:"uri,omitempty"`
}

// Completion reference types.
const (
	RefPrompt   = "ref/prompt"
	RefResource = "ref/resource"
)

// maxCompletions is the most values an MCP CompleteResult may hold.
const maxCompletions = 100

// completeFunc is the handler SetCompletion installs.
type completeFunc func(c *Context, ref CompletionRef, arg, value string) ([]string, error)

// SetCompletion installs h as the plugin's completion handler, which the
// complete export runs to suggest values for a prompt argument or a
// template variable: ref says which prompt or template, arg names the
// argument or variable, and value is what the user has typed so far. h
// returns the suggestions, best first; only the first 100 are sent, and
// the result then says that there are more. The Context's Arguments holds
// the arguments the client has already resolved, as a JSON object.
//
// Without a handler, complete returns no suggestions. As for prompts and
// resources, a non-nil error from h makes complete fail with its text.
// SetCompletion is meant to be called once, from an init function; a
// second call is reported by every export.
func SetCompletion(h func(c *Context, ref CompletionRef, arg, value string) ([]string, error)) {
	setCompletion(defaultRegistry, h)
}

func setCompletion(r *registry, h completeFunc) {
	switch {
	case h == nil:
		r.defErrs = append(r.defErrs, errors.New("SetCompletion: nil handler"))
	case r.complete != nil:
		r.defErrs = append(r.defErrs, errors.New("SetCompletion is called more than once"))
	default:
		r.complete = h
	}
}

// runComplete runs the completion handler and encodes the CompleteResult.
func (r *registry) runComplete(ref CompletionRef, arg, value string, resolved, hostCtx json.RawMessage) (out []byte, err error) {
	var values []string
	if r.complete != nil {
		c := &Context{Arguments: resolved, HostContext: hostCtx}
		if ref.Type == RefPrompt {
			c.Prompt = ref.Name
		}
		defer func() {
			if p := recover(); p != nil {
				Log.Error(fmt.Sprintf("completion of %q panicked: %v", arg, p), "stack", string(debug.Stack()))
				out, err = nil, fmt.Errorf("completion of %q panicked: %v", arg, p)
			}
		}()
		if values, err = r.complete(c, ref, arg, value); err != nil {
			return nil, err
		}
	}
	b := append([]byte(nil), `{"completion":{"values":[`...)
	for i, v := range values[:min(len(values), maxCompletions)] {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonv.AppendString(b, v)
	}
	b = append(b, ']')
	if len(values) > maxCompletions {
		b = fmt.Appendf(b, `,"total":%d,"hasMore":true`, len(values))
	}
	return append(b, "}}"...), nil
}
