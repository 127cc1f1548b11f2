package host

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// completer routes completion/complete to the plugin that owns the prompt
// or resource template, under the same checks, limits and audit as any
// other plugin code.
type completer struct {
	s *Server
	c *catalog
}

// empty is the answer for anything the caller may not see or that does not
// exist: indistinguishable, like hidden tools.
var empty = &mcp.Completion{Values: []string{}}

func (k completer) CompletePromptArgument(ctx context.Context, prompt string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	p, ok := k.c.promptOwner[prompt]
	if !ok || !k.s.visible(ctx, p.Scopes) {
		return empty, nil
	}
	local := strings.TrimPrefix(prompt, p.Name+".")
	return k.run(ctx, p, prompt, map[string]any{"type": "ref/prompt", "name": local}, arg, cc)
}

func (k completer) CompleteResourceArgument(ctx context.Context, uri string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	p, ok := k.c.templateOwner[uri]
	if !ok {
		p = k.c.resourceOwner(uri)
	}
	if p == nil || !k.s.visible(ctx, p.Scopes) {
		return empty, nil
	}
	return k.run(ctx, p, uri, map[string]any{"type": "ref/resource", "uri": uri}, arg, cc)
}

func (k completer) run(ctx context.Context, p *Plugin, name string, ref map[string]any, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	params, _ := json.Marshal(map[string]any{"ref": ref, "argument": arg, "context": cc})
	obs := k.s.observe(ctx, "completion/complete", name, p, params)
	sb, err := k.s.sandbox(obs.ctx, p)
	if err != nil {
		obs.end(nil, 0, false, err)
		return nil, err
	}
	defer sb.Close()
	out, err := p.Module.Complete(obs.ctx, params, sb)
	obs.end(nil, len(out), false, err)
	if err != nil {
		return nil, err
	}
	var res struct {
		Completion mcp.Completion `json:"completion"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	if res.Completion.Values == nil {
		res.Completion.Values = []string{}
	}
	return &res.Completion, nil
}
