package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// Prompt is a prompt as a v2 plugin declared it.
type Prompt struct {
	Name       string
	Definition json.RawMessage // the MCP Prompt object
}

// Resource is a resource as a v2 plugin declared it.
type Resource struct {
	URI        string
	Definition json.RawMessage // the MCP Resource object
}

// ResourceTemplate is a resource template as a v2 plugin declared it.
type ResourceTemplate struct {
	URITemplate string
	Definition  json.RawMessage // the MCP ResourceTemplate object
}

// MaxDefinitionBytes bounds one declared prompt, resource or template.
const MaxDefinitionBytes = 64 << 10

// Prompts returns the plugin's prompts in declaration order.
func (p *Plugin) Prompts() []Prompt { return append([]Prompt(nil), p.prompts...) }

// Resources returns the plugin's static resources.
func (p *Plugin) Resources() []Resource { return append([]Resource(nil), p.resources...) }

// ResourceTemplates returns the plugin's resource templates.
func (p *Plugin) ResourceTemplates() []ResourceTemplate {
	return append([]ResourceTemplate(nil), p.templates...)
}

// hasExport reports whether the module exports name with the ABI's
// () -> i32 signature.
func (p *Plugin) hasExport(name string) bool {
	f := p.compiled.ExportedFunctions()[name]
	return f != nil && len(f.ParamTypes()) == 0 && len(f.ResultTypes()) == 1
}

// listExtras asks a v2 plugin for its prompts, resources and templates, at
// load, in the throwaway instance that listed its tools.
func (p *Plugin) listExtras(ctx context.Context, ls *lister) error {
	if p.abi != ABIv2 {
		return nil
	}
	list := func(export, key string, each func(i int, raw json.RawMessage) error) error {
		if !p.hasExport(export) {
			return nil
		}
		out, err := ls.call(ctx, export, []byte(`{"request":{},"context":{}}`))
		if err != nil {
			return fmt.Errorf("%s: %w", export, err)
		}
		var m map[string][]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			return fmt.Errorf("%s: want a JSON object {%q: [...]}: %w", export, key, err)
		}
		if len(m[key]) > MaxTools {
			return fmt.Errorf("%s: %d entries; at most %d are allowed", export, len(m[key]), MaxTools)
		}
		for i, raw := range m[key] {
			if len(raw) > MaxDefinitionBytes {
				return fmt.Errorf("%s: %s[%d] is %d bytes; at most %d are allowed", export, key, i, len(raw), MaxDefinitionBytes)
			}
			if err := each(i, raw); err != nil {
				return fmt.Errorf("%s: %s[%d]: %w", export, key, i, err)
			}
		}
		return nil
	}
	seen := map[string]bool{}
	err := list("list_prompts", "prompts", func(i int, raw json.RawMessage) error {
		var d struct {
			Name      string `json:"name"`
			Arguments []struct {
				Name string `json:"name"`
			} `json:"arguments"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if err := CheckToolName(d.Name); err != nil {
			return fmt.Errorf("prompt %w", err)
		}
		if seen["p:"+d.Name] {
			return fmt.Errorf("prompt %q is declared twice", d.Name)
		}
		seen["p:"+d.Name] = true
		p.prompts = append(p.prompts, Prompt{Name: d.Name, Definition: raw})
		return nil
	})
	if err != nil {
		return err
	}
	err = list("list_resources", "resources", func(i int, raw json.RawMessage) error {
		var d struct {
			URI  string `json:"uri"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if u, err := url.Parse(d.URI); err != nil || u.Scheme == "" {
			return fmt.Errorf("uri %q is not an absolute URI", d.URI)
		}
		if seen["r:"+d.URI] {
			return fmt.Errorf("resource %q is declared twice", d.URI)
		}
		seen["r:"+d.URI] = true
		p.resources = append(p.resources, Resource{URI: d.URI, Definition: raw})
		return nil
	})
	if err != nil {
		return err
	}
	return list("list_resource_templates", "resourceTemplates", func(i int, raw json.RawMessage) error {
		var d struct {
			URITemplate string `json:"uriTemplate"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if d.URITemplate == "" || !bytes.Contains([]byte(d.URITemplate), []byte(":")) {
			return fmt.Errorf("uriTemplate %q is not an absolute URI template", d.URITemplate)
		}
		if seen["t:"+d.URITemplate] {
			return fmt.Errorf("template %q is declared twice", d.URITemplate)
		}
		seen["t:"+d.URITemplate] = true
		p.templates = append(p.templates, ResourceTemplate{URITemplate: d.URITemplate, Definition: raw})
		return nil
	})
}

// GetPrompt renders prompt name with args (a JSON object of strings) in a
// fresh instance confined to sb and returns the MCP GetPromptResult.
func (p *Plugin) GetPrompt(ctx context.Context, name string, args json.RawMessage, sb *Sandbox) (json.RawMessage, error) {
	known := false
	for _, pr := range p.prompts {
		known = known || pr.Name == name
	}
	if !known {
		return nil, &CallError{Plugin: p.name, Tool: name, Kind: ErrUnknownTool, Detail: "the plugin has no prompt of that name"}
	}
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	return p.invoke(ctx, "get_prompt", name, map[string]any{"name": name, "arguments": args}, sb, "messages")
}

// ReadResource reads uri (a static resource or one matching a template) in
// a fresh instance confined to sb and returns the MCP ReadResourceResult.
func (p *Plugin) ReadResource(ctx context.Context, uri string, sb *Sandbox) (json.RawMessage, error) {
	if !p.hasExport("read_resource") {
		return nil, &CallError{Plugin: p.name, Tool: uri, Kind: ErrUnknownTool, Detail: "the plugin serves no resources"}
	}
	return p.invoke(ctx, "read_resource", uri, map[string]any{"uri": uri}, sb, "contents")
}

// invoke runs a v2 export with {"request": params, "context": {}} under the
// same admission, limits and redaction as a tool call, and checks that the
// output is a JSON object holding want.
func (p *Plugin) invoke(ctx context.Context, export, label string, params any, sb *Sandbox, want string) (json.RawMessage, error) {
	if sb == nil {
		sb = &Sandbox{}
	}
	input := marshalJSON(map[string]any{"request": params, "context": map[string]any{}})
	out, _, err := p.execute(ctx, export, input, sb, label)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil || m[want] == nil {
		return nil, &CallError{Plugin: p.name, Tool: label, Kind: ErrBadOutput, Detail: fmt.Sprintf("%s: want a JSON object with %q, found %s", export, want, snippet(out))}
	}
	return out, nil
}

// Complete asks a v2 plugin for completions of a prompt or resource-template
// argument. params is the MCP CompleteRequest params with the plugin's own
// names ({"ref":…, "argument":{"name","value"}, "context":…}); the result
// is the MCP CompleteResult.
func (p *Plugin) Complete(ctx context.Context, params json.RawMessage, sb *Sandbox) (json.RawMessage, error) {
	if !p.hasExport("complete") {
		return json.RawMessage(`{"completion":{"values":[]}}`), nil
	}
	return p.invoke(ctx, "complete", "complete", params, sb, "completion")
}
