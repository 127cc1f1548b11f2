// Package nativesrv is the native baseline of Warden's benchmarks: an mcp-go
// stateless Streamable HTTP server with the same greet tool as
// examples/hello, compiled into the host process (no sandbox at all).
package nativesrv

import (
	"context"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Endpoint is the MCP path the handler serves.
const Endpoint = "/mcp"

// Handler returns the MCP endpoint at Endpoint: tool greet, arguments
// {"name": string}, answering the text "Hello, <name>!".
func Handler() http.Handler {
	s := server.NewMCPServer("warden-bench-native", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("greet",
		mcp.WithDescription("Say hello to someone by name."),
		mcp.WithString("name", mcp.Required(), mcp.MinLength(1), mcp.Description("Who to greet")),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), greet)
	mux := http.NewServeMux()
	mux.Handle(Endpoint, server.NewStreamableHTTPServer(s, server.WithStateLess(true), server.WithEndpointPath(Endpoint)))
	return mux
}

func greet(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	name, err := req.RequireString("name")
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	if name == "" {
		return mcp.NewToolResultError("name: must not be empty"), nil
	}
	return mcp.NewToolResultText("Hello, " + name + "!"), nil
}
