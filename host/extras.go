package host

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/wardenmcp/warden/capabilities/netguard"
	"github.com/wardenmcp/warden/host/internal/telemetry"
	"github.com/wardenmcp/warden/plugins"
)

// addExtras registers the prompts (named <plugin>.<prompt>), resources and
// resource templates (routed by URI to the plugin that declared them) of
// every plugin. Two plugins may not serve the same URI or template.
func (s *Server) addExtras(c *catalog) error {
	owner := map[string]string{}
	var errs []error
	for _, p := range c.plugins {
		for _, pr := range p.Module.Prompts() {
			var def mcp.Prompt
			if err := json.Unmarshal(pr.Definition, &def); err != nil {
				errs = append(errs, fmt.Errorf("plugin %q: prompt %q: %w", p.Name, pr.Name, err))
				continue
			}
			def.Name = p.Name + "." + pr.Name
			c.promptOwner[def.Name] = p
			for _, a := range def.Arguments {
				if a.Required {
					c.promptArgs[def.Name] = append(c.promptArgs[def.Name], a.Name)
				}
			}
			c.mcp.AddPrompt(def, s.promptHandler(p, pr.Name, def.Name))
			c.prompts++
		}
		for _, r := range p.Module.Resources() {
			if o, dup := owner["r:"+r.URI]; dup {
				errs = append(errs, fmt.Errorf("resource %q is served by both plugin %q and plugin %q", r.URI, o, p.Name))
				continue
			}
			owner["r:"+r.URI] = p.Name
			c.uriOwner[r.URI] = p
			var def mcp.Resource
			if err := json.Unmarshal(r.Definition, &def); err != nil {
				errs = append(errs, fmt.Errorf("plugin %q: resource %q: %w", p.Name, r.URI, err))
				continue
			}
			c.mcp.AddResource(def, s.resourceHandler(p))
			c.resources++
		}
		for _, t := range p.Module.ResourceTemplates() {
			if o, dup := owner["t:"+t.URITemplate]; dup {
				errs = append(errs, fmt.Errorf("resource template %q is served by both plugin %q and plugin %q", t.URITemplate, o, p.Name))
				continue
			}
			owner["t:"+t.URITemplate] = p.Name
			c.templates = append(c.templates, templateRoute{re: templateRE(t.URITemplate), plugin: p})
			c.templateOwner[t.URITemplate] = p
			var def mcp.ResourceTemplate
			if err := json.Unmarshal(t.Definition, &def); err != nil {
				errs = append(errs, fmt.Errorf("plugin %q: resource template %q: %w", p.Name, t.URITemplate, err))
				continue
			}
			c.mcp.AddResourceTemplate(def, server.ResourceTemplateHandlerFunc(s.resourceHandler(p)))
			c.resources++
		}
	}
	return joinErrs(errs)
}

func (s *Server) promptHandler(p *Plugin, name, served string) server.PromptHandlerFunc {
	return func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		args, _ := json.Marshal(req.Params.Arguments)
		obs := s.observe(ctx, telemetry.MethodPromptsGet, served, p, args)
		sb, err := s.sandbox(obs.ctx, p)
		if err != nil {
			obs.end(nil, 0, false, err)
			return nil, err
		}
		defer sb.Close()
		out, err := p.Module.GetPrompt(obs.ctx, name, args, sb)
		obs.end(nil, len(out), false, err)
		if err != nil {
			return nil, err
		}
		raw := json.RawMessage(out)
		return mcp.ParseGetPromptResult(&raw)
	}
}

func (s *Server) resourceHandler(p *Plugin) server.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		args, _ := json.Marshal(map[string]string{"uri": req.Params.URI})
		obs := s.observe(ctx, telemetry.MethodResourcesRead, req.Params.URI, p, args)
		sb, err := s.sandbox(obs.ctx, p)
		if err != nil {
			obs.end(nil, 0, false, err)
			return nil, err
		}
		defer sb.Close()
		out, err := p.Module.ReadResource(obs.ctx, req.Params.URI, sb)
		obs.end(nil, len(out), false, err)
		if err != nil {
			return nil, err
		}
		raw := json.RawMessage(out)
		res, err := mcp.ParseReadResourceResult(&raw)
		if err != nil {
			return nil, err
		}
		return res.Contents, nil
	}
}

// sandbox builds a call's sandbox from the plugin's grant.
func (s *Server) sandbox(ctx context.Context, p *Plugin) (*plugins.Sandbox, error) {
	sb, err := s.opts.Runtime.SandboxFromGrant(ctx, p.Name, p.Grant, s.opts.Providers,
		netguard.WithRoundTripper(s.tel.HTTPTransport)) // a span per outbound request: host and status only
	if err != nil {
		return nil, fmt.Errorf("the host could not prepare the sandbox for plugin %s: %w", p.Name, err)
	}
	sb.Log = s.opts.PluginLogger
	sb.LogLevel = s.opts.PluginLogLevel
	return sb, nil
}
