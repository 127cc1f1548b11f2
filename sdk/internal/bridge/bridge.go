// Package bridge connects package sdk to the host it runs in and lets
// package sdktest drive it, without widening sdk's exported API.
//
// Package sdk installs the Extism host on wasip1 and a host that offers
// nothing elsewhere; sdktest replaces it with a fake for unit tests.
package bridge

// Host is the set of host services the SDK uses. Byte slices are the
// contents of Extism host-memory blocks.
type Host interface {
	// ConfigGet returns the value of a config key (granted secrets are
	// config values) and whether it is set.
	ConfigGet(key string) (string, bool)
	// HTTPRequest performs an HTTP request described by req, the JSON object
	// {"url", "method", "headers"}, with an optional body. It returns the
	// status code, the response headers as a JSON object (or nil), and the
	// response body.
	HTTPRequest(req, body []byte) (status int, headers, respBody []byte, err error)
	// Log writes msg at level (0 trace … 4 error).
	Log(level int, msg string)
	// LogLevel is the lowest level the host records; larger than 4 is off.
	LogLevel() int
	// Progress reports the call's progress; report is the JSON object
	// {"progress": n, "total": n, "message": "..."} (total 0: unknown).
	Progress(report []byte)
}

var (
	// Current is the host in use.
	Current Host
	// Dispatch runs one export ("list_tools", "call_tool", "describe",
	// "call", "list_prompts", "get_prompt", "list_resources",
	// "list_resource_templates", "read_resource", "complete") on an input
	// and returns its output, or the message an ABI failure reports.
	// Package sdk sets it.
	Dispatch func(export string, input []byte) ([]byte, error)
)
