package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host/internal/ratelimit"
	"github.com/wardenmcp/warden/host/internal/telemetry"
	"github.com/wardenmcp/warden/plugins"
)

// Plugin is one loaded plugin as the endpoint serves it: the module, the
// grant its calls run under, and the operator's view of its tools.
type Plugin struct {
	// Name is the name the plugin is installed under; its tools are served
	// as "<Name>.<tool>".
	Name string
	// Module is the verified, loaded module.
	Module *plugins.Plugin
	// Grant is what each call may touch (nil grants nothing).
	Grant *capabilities.Grant
	// Expose, when not empty, is the subset of the plugin's tools to serve.
	Expose []string
	// Tools holds per-tool overrides from warden.yaml.
	Tools map[string]ToolOverride
	// Scopes are needed (all of them) for every tool, prompt and resource
	// of the plugin when authentication is on.
	Scopes []string
	// RateLimit limits each subject's calls to each of the plugin's tools,
	// prompts and resources, as "60/m", "10/s" or "1000/h"; empty means
	// unlimited.
	RateLimit string
	// Probe is the plugin's health check for /readyz?deep=1; nil: none.
	Probe *Probe
	// Signer is who signed the module, for the status page.
	Signer string

	rate *ratelimit.Rate
}

// ToolOverride is the operator's word on a tool, which wins over the
// plugin's own claims.
type ToolOverride struct {
	// Scopes are needed for this tool in addition to the plugin's.
	Scopes      []string
	Description string
	Title       string
	Annotations Annotations
}

// Annotations are tool hints as the operator states them; nil leaves a hint
// to the plugin (when it is the cautious value) or to the client's default.
type Annotations struct {
	ReadOnlyHint    *bool `yaml:"readOnlyHint" json:"readOnlyHint,omitempty"`
	DestructiveHint *bool `yaml:"destructiveHint" json:"destructiveHint,omitempty"`
	IdempotentHint  *bool `yaml:"idempotentHint" json:"idempotentHint,omitempty"`
	OpenWorldHint   *bool `yaml:"openWorldHint" json:"openWorldHint,omitempty"`
}

// pluginNameRE is the plugin name rule: no '.', which separates the plugin
// from the tool in served names.
var pluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// maxServedName is the longest tool name MCP clients are asked to handle.
const maxServedName = 128

// servedTool is one tool of the catalog.
type servedTool struct {
	plugin *Plugin
	tool   string // the plugin's own name for it
	def    mcp.Tool
	scopes []string // all needed: the plugin's and the tool's own
	args   *argValidator
	// tasks is whether the tool may (optional), must (required) or must
	// not (forbidden) run as an MCP task.
	tasks plugins.TaskSupport
}

// catalog is an immutable set of plugins and the MCP server built for them.
// A reload builds a new catalog and swaps it in; calls in flight keep the
// one they started on.
type catalog struct {
	plugins       []*Plugin
	tools         map[string]*servedTool
	order         []string
	mcp           *server.MCPServer
	http          *server.StreamableHTTPServer
	prompts       int
	resources     int
	promptOwner   map[string]*Plugin
	promptArgs    map[string][]string // served prompt name → required argument names
	uriOwner      map[string]*Plugin
	templateOwner map[string]*Plugin
	templates     []templateRoute
	// taskTools counts the tools that may run as tasks; the tasks
	// capability is advertised only when there is one.
	taskTools int
}

func (s *Server) buildCatalog(set []*Plugin) (*catalog, error) {
	c := &catalog{plugins: set, tools: map[string]*servedTool{}, promptOwner: map[string]*Plugin{}, promptArgs: map[string][]string{}, uriOwner: map[string]*Plugin{}, templateOwner: map[string]*Plugin{}}
	seen := map[string]bool{}
	var errs []error
	for _, p := range set {
		if !pluginNameRE.MatchString(p.Name) {
			errs = append(errs, fmt.Errorf("plugin name %q: want 1-63 lower-case letters, digits, '_' or '-' (no '.', which separates plugin and tool)", p.Name))
			continue
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("plugin %q is listed twice", p.Name))
			continue
		}
		seen[p.Name] = true
		if p.Probe != nil {
			if _, ok := p.Module.Tool(p.Probe.Tool); !ok {
				errs = append(errs, fmt.Errorf("plugin %q: probe tool %q does not exist (it has %s)", p.Name, p.Probe.Tool, toolNames(p.Module)))
				continue
			}
		}
		p.rate = nil
		if p.RateLimit != "" {
			r, err := ratelimit.ParseRate(p.RateLimit)
			if err != nil {
				errs = append(errs, fmt.Errorf("plugin %q: rateLimit: %w", p.Name, err))
				continue
			}
			p.rate = &r
		}
		if p.Grant != nil && p.Grant.Plugin != "" && p.Grant.Plugin != p.Name {
			errs = append(errs, fmt.Errorf("plugin %q: its grant is for plugin %q", p.Name, p.Grant.Plugin))
			continue
		}
		expose := map[string]bool{}
		for _, name := range p.Expose {
			if _, ok := p.Module.Tool(name); !ok {
				errs = append(errs, fmt.Errorf("plugin %q: expose lists %q, which the plugin does not have (it has %s)", p.Name, name, toolNames(p.Module)))
			}
			expose[name] = true
		}
		for name := range p.Tools {
			if _, ok := p.Module.Tool(name); !ok {
				errs = append(errs, fmt.Errorf("plugin %q: tools.%s overrides a tool the plugin does not have (it has %s)", p.Name, name, toolNames(p.Module)))
			}
		}
		for _, t := range p.Module.Tools() {
			if len(expose) > 0 && !expose[t.Name] {
				continue
			}
			served := p.Name + "." + t.Name
			if len(served) > maxServedName {
				errs = append(errs, fmt.Errorf("tool %q is %d characters; served names are limited to %d", served, len(served), maxServedName))
				continue
			}
			if other, dup := c.tools[served]; dup {
				errs = append(errs, fmt.Errorf("tool name %q is served by both plugin %q and plugin %q", served, other.plugin.Name, p.Name))
				continue
			}
			scopes := append(append([]string(nil), p.Scopes...), p.Tools[t.Name].Scopes...)
			av, err := compileArgs(served, t.InputSchema)
			if err != nil {
				errs = append(errs, fmt.Errorf("tool %q: inputSchema does not compile: %w", served, err))
				continue
			}
			c.tools[served] = &servedTool{plugin: p, tool: t.Name, def: toolDef(served, t, p.Tools[t.Name]), scopes: scopes, args: av, tasks: taskSupport(t)}
			c.order = append(c.order, served)
			if taskSupport(t) != plugins.TaskForbidden {
				c.taskTools++
			}
		}
	}
	if err := joinErrs(errs); err != nil {
		return nil, err
	}
	c.mcp = server.NewMCPServer("warden", Version,
		server.WithToolCapabilities(false),
		server.WithPromptCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithCompletions(),
		server.WithPromptCompletionProvider(completer{s: s, c: c}),
		server.WithResourceCompletionProvider(completer{s: s, c: c}),
		server.WithRecovery(),
		server.WithToolFilter(func(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
			out := tools[:0:0]
			for _, t := range tools {
				if st, ok := c.tools[t.Name]; ok && s.visible(ctx, st.scopes) {
					out = append(out, t)
				}
			}
			return out
		}),
		server.WithPromptFilter(func(ctx context.Context, prompts []mcp.Prompt) []mcp.Prompt {
			out := prompts[:0:0]
			for _, pr := range prompts {
				if p, ok := c.promptOwner[pr.Name]; ok && s.visible(ctx, p.Scopes) {
					out = append(out, pr)
				}
			}
			return out
		}),
		server.WithInstructions("Tools are named <plugin>.<tool>; each call runs in a fresh sandbox."),
		server.WithHooks(s.taskCapabilityHooks(c)),
	)
	for _, name := range c.order {
		st := c.tools[name]
		c.mcp.AddTool(st.def, s.toolHandler(st))
	}
	if err := s.addExtras(c); err != nil {
		return nil, err
	}
	c.http = server.NewStreamableHTTPServer(c.mcp,
		server.WithStateLess(true),
		server.WithDisableStreaming(true),
		server.WithEndpointPath(s.opts.Endpoint),
		server.WithStreamableHTTPLogger(s.opts.Logger),
	)
	return c, nil
}

func toolNames(p *plugins.Plugin) string {
	var names []string
	for _, t := range p.Tools() {
		names = append(names, t.Name)
	}
	if len(names) == 0 {
		return "no tools"
	}
	return strings.Join(names, ", ")
}

// toolDef builds the tool as clients see it. The plugin's annotations are
// claims: a hint survives only when it is the cautious value (a plugin can
// make itself look more dangerous, never safer); the operator's overrides
// win over everything.
func toolDef(served string, t plugins.Tool, o ToolOverride) mcp.Tool {
	desc := t.Description
	if o.Description != "" {
		desc = o.Description
	}
	def := mcp.NewToolWithRawSchema(served, desc, t.InputSchema)
	if t.OutputSchema != nil {
		def.RawOutputSchema = t.OutputSchema
	}
	var claimed mcp.ToolAnnotation
	if t.Annotations != nil {
		_ = json.Unmarshal(t.Annotations, &claimed)
	}
	ann := mcp.ToolAnnotation{Title: claimed.Title}
	if t.Title != "" {
		ann.Title = t.Title
	}
	if o.Title != "" {
		ann.Title = o.Title
	}
	keepIf := func(claim *bool, cautious bool) *bool {
		if claim != nil && *claim == cautious {
			return claim
		}
		return nil
	}
	ann.ReadOnlyHint = pick(o.Annotations.ReadOnlyHint, keepIf(claimed.ReadOnlyHint, false))
	ann.DestructiveHint = pick(o.Annotations.DestructiveHint, keepIf(claimed.DestructiveHint, true))
	ann.IdempotentHint = pick(o.Annotations.IdempotentHint, keepIf(claimed.IdempotentHint, false))
	ann.OpenWorldHint = pick(o.Annotations.OpenWorldHint, keepIf(claimed.OpenWorldHint, true))
	def.Annotations = ann
	if ts := taskSupport(t); ts != plugins.TaskForbidden {
		def.Execution = &mcp.ToolExecution{TaskSupport: mcp.TaskSupport(ts)}
	}
	return def
}

// taskSupport is t's execution.taskSupport, forbidden when unset or unknown.
func taskSupport(t plugins.Tool) plugins.TaskSupport {
	switch t.TaskSupport {
	case plugins.TaskOptional, plugins.TaskRequired:
		return t.TaskSupport
	}
	return plugins.TaskForbidden
}

func pick(a, b *bool) *bool {
	if a != nil {
		return a
	}
	return b
}

// toolHandler runs one tool call in a fresh sandbox built from the plugin's
// grant. Failures of the plugin (trap, timeout, limits, a capability it was
// not granted) are tool execution errors the model can see (isError); a
// full queue and a host-side failure are JSON-RPC errors.
func (s *Server) toolHandler(st *servedTool) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args, err := json.Marshal(req.Params.Arguments)
		if err != nil || string(args) == "null" {
			args = []byte("{}")
		}
		p := st.plugin
		obs := s.observe(ctx, telemetry.MethodToolsCall, st.def.Name, p, args)
		if err := st.args.check(args); err != nil {
			// A tool execution error (SEP-1303), so the model can correct itself.
			msg := fmt.Sprintf("invalid arguments for %s: %v", st.def.Name, err)
			obs.end(nil, 0, false, fmt.Errorf("%w: %s", plugins.ErrBadArguments, msg))
			return mcp.NewToolResultError(msg), nil
		}
		sb, err := s.sandbox(obs.ctx, p)
		if err != nil {
			s.opts.Logger.ErrorContext(ctx, "sandbox setup failed", slog.String("plugin", p.Name), slog.String("error", err.Error()))
			obs.end(nil, 0, false, err)
			return nil, err
		}
		defer sb.Close()
		res, err := p.Module.Call(obs.ctx, st.tool, args, sb)
		if err != nil {
			obs.end(nil, 0, false, err)
			switch {
			case errors.Is(err, plugins.ErrBusy), errors.Is(err, plugins.ErrCanceled):
				return nil, err
			}
			return mcp.NewToolResultError(err.Error()), nil
		}
		obs.end(&res.Stats, len(res.JSON), res.IsError, nil)
		// Call checked that the result is an object with a content array,
		// so mcp.ParseCallToolResult's first pass (which checks that) is
		// skipped.
		out := new(mcp.CallToolResult)
		if err := json.Unmarshal(res.JSON, out); err != nil {
			return mcp.NewToolResultError(fmt.Sprintf("%s: the plugin's result could not be read: %v", st.def.Name, err)), nil
		}
		return out, nil
	}
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
