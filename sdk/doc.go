// Package sdk is the guest SDK for Warden plugins: MCP tools written in Go,
// compiled to WebAssembly with the standard Go toolchain, and run by a host
// that speaks the Extism ABI (Warden, or any Extism host).
//
// # Writing a plugin
//
// A plugin is a main package with an empty main function that registers its
// tools in an init function:
//
//	//go:build wasip1
//
//	package main
//
//	import "github.com/wardenmcp/warden/sdk"
//
//	type GreetArgs struct {
//		Name string `json:"name" jsonschema:"description=Who to greet,required"`
//	}
//
//	func main() {}
//
//	func init() {
//		sdk.AddTool(sdk.Tool{Name: "greet", Description: "Say hello",
//			Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true)}},
//			func(c *sdk.Context, in GreetArgs) (*sdk.Result, error) {
//				return sdk.Text("Hello, " + in.Name + "!"), nil
//			})
//	}
//
// Build it as a WebAssembly reactor module (Go 1.24 or later, no TinyGo):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greet.wasm .
//
// The module exports list_tools and call_tool (the v2 shape) and describe
// and call (the v1 shape), each taking its input from and writing its output
// to the host as docs/ABI.md describes, so it runs in Warden and in other
// Extism-based MCP hosts. It also exports the optional v2 prompt and
// resource exports (list_prompts, get_prompt, list_resources,
// list_resource_templates, read_resource and complete), which answer with
// empty lists when the plugin registers none. _initialize runs the init functions that
// register the tools; Warden runs it once at load and starts every call from an image of the
// initialised state (see docs/ABI.md), after the SDK's warden_prepare export has derived every
// schema, so init functions should do their work there, not per call.
//
// # Arguments and their schema
//
// AddTool derives the tool's JSON Schema from the handler's argument type:
// a struct becomes an object with "additionalProperties": false whose
// properties are the fields encoding/json would write, under the same names
// (json tags, embedded structs, omitted "-" fields). Types map as follows:
// strings, booleans, integers (unsigned ones with "minimum": 0) and floats
// to their JSON types; slices and arrays to "array" with "items"; []byte to
// a base64 string; maps with string keys to objects with
// "additionalProperties"; nested structs to nested objects; time.Time to a
// "date-time" string; interfaces, json.RawMessage and types with their own
// UnmarshalJSON to any value. A pointer has the schema of what it points to.
// Schemas never use "$ref": a recursive type is described as a plain object
// where it recurs.
//
// A property is optional unless its field is tagged required; pointers are
// the way to tell an absent optional value from a zero one. Further keywords
// come from the jsonschema struct tag, a comma-separated list:
//
//	required                      the property must be present
//	description=TEXT              what the property means (for the model)
//	title=TEXT                    a short human-readable name
//	enum=A|B|C                    allowed values, parsed as the field's type
//	default=VALUE                 the value assumed when absent (documentation)
//	min=N, max=N                  minimum/maximum for numbers, minLength/
//	                              maxLength for strings, minItems/maxItems
//	                              for slices
//	minimum=N, maximum=N, exclusiveMinimum=N, exclusiveMaximum=N
//	minLength=N, maxLength=N, pattern=REGEXP, format=NAME
//	minItems=N, maxItems=N, uniqueItems
//	deprecated
//
// On a slice field, enum, minimum, maximum, minLength, maxLength, pattern and
// format constrain the elements. A segment that is not a known keyword
// continues the previous value, so "description=Host, port and path,required"
// is a description with commas followed by required. A separate
// `description:"..."` tag sets the description verbatim and wins over the
// jsonschema one. A malformed tag is reported when the tool is registered.
//
// Before a handler runs, its arguments are checked against the schema: type,
// required and unknown properties, enum, bounds, lengths and item counts
// (pattern and format are published for the host and the client to check:
// the SDK keeps package regexp out of plugins, since it adds size and
// start-up work to every instance). When
// they do not match, the caller gets a result with isError set that names
// each problem with what was expected and what was found, for example
// `invalid arguments for tool "greet": name: expected a string, found
// number 42`. A null value for an optional property counts as absent.
//
// # Results and errors
//
// A handler returns a *Result (Text, Textf and Image build common ones) or a
// Go error. A Go error becomes a result with isError set and the error's
// text, which the model can read and act on; it is not a protocol failure.
// AddStructuredTool registers a handler that returns a typed value: the tool
// declares an output schema derived from that type (every field not marked
// omitempty or omitzero is required) and each call returns the value as
// structuredContent, plus its JSON as a text block for older clients.
//
// The call itself fails, with the export returning non-zero and the message
// passed to error_set, only when the host asks for a tool the plugin does not
// have, when the request is not valid JSON of the expected shape, or when a
// handler panics (the panic value is the message; the stack goes to the
// plugin log).
//
// Tool definitions are checked when they are first needed, not at start-up,
// which every instance pays for. An invalid or duplicate name makes every
// export fail. An argument or result type without a JSON object form, or a
// malformed tag, makes list_tools and describe fail (so a host refuses the
// plugin when it loads it) and so does every call to that tool; each message
// names the tool and the problem. sdktest.Tools reports the same errors in
// unit tests.
//
// # Long-running tools
//
// A tool that takes a while can declare Tool.TaskSupport: TaskOptional lets
// a client run it as an MCP task (the call returns at once and the client
// polls for the result), TaskRequired makes clients run it that way, and
// TaskForbidden, like leaving it empty, keeps it an ordinary call. The value
// appears in the tool's definition as "execution": {"taskSupport": …}; any
// other value makes every export fail, like an invalid name. While it runs,
// the tool reports with Progress(done, total, message), done increasing from
// one report to the next. Sleeping (time.Sleep) ends early when the host
// cancels the call or its deadline passes, and the host then stops the
// plugin.
//
// # Prompts and resources
//
// AddPrompt registers a prompt: a named template that expands to messages
// (UserText and AssistantText build text ones). Its arguments are the string
// fields of the handler's argument type, described by the same `json` and
// `jsonschema` tags as tool arguments (description, title, required, and
// enum, minLength or maxLength to constrain them); MCP prompt arguments are
// strings, so other field types are refused.
//
// AddResource registers a resource with a fixed URI, and AddResourceTemplate
// a family of resources whose URIs match an RFC 6570 level-1 template such as
// "notes://topic/{name}"; the SDK matches URIs against templates and passes
// the handler the variables, percent-decoded. TextResource and BlobResource
// build results; contents without a URI or media type get those of the
// resource that was read. SetCompletion installs a handler that suggests
// values for prompt arguments and template variables.
//
// MCP has no error result for prompts and resources, so there a handler's Go
// error fails the request: the export returns non-zero with the error's text,
// which the host reports to the client. So do arguments that do not fit a
// prompt, a prompt or URI the plugin does not have, and a panic. Bad names
// and URIs, templates that are not level 1, and a second SetCompletion make
// every export fail; a prompt argument type that is not a struct of string
// fields, or a malformed tag, makes list_prompts fail, and get_prompt for
// that prompt.
//
// # Host services
//
// HTTP sends a request through the host, which checks it against the
// plugin's network grant. Config reads a configuration value and Secret a
// granted secret (hosts pass both as config values). Log writes to the
// host's per-call plugin log, skipping messages below the host's level.
// Progress reports how far a long call has got (the host forwards it to
// clients as MCP progress notifications); it imports Warden's host function
// extism:host/user::warden_progress, so a plugin that calls it needs Warden
// or an Extism host that provides that function.
// Standard output and standard error also reach the host's log, but the
// environment is empty and the file system holds only the grant's mounts.
//
// # Testing
//
// Package sdktest calls registered tools, prompts and resources on the build
// machine through the same dispatcher, with a fake host for config, secrets,
// HTTP, logs and progress reports.
package sdk
