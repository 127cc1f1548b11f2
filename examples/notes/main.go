//go:build wasip1

// Command notes is a Warden plugin that shows the three kinds of things a
// plugin can serve: a tool (add), a prompt (summarize), and resources (the
// fixed notes://readme and the template notes://topic/{name}). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o notes.wasm ./examples/notes
//
// The plugin is pure: the host runs every call in a fresh instance, so
// nothing survives a call and there is no store of notes. add formats a
// note and returns it; the client keeps it if it wants to. The topic
// resources are blank note pages to start from, not saved notes.
package main

import (
	"strings"

	"github.com/wardenmcp/warden/sdk"
)

// AddArgs are the arguments of the add tool.
type AddArgs struct {
	Title string `json:"title" jsonschema:"description=The note's title,required,minLength=1,maxLength=200"`
	Body  string `json:"body" jsonschema:"description=The note's text (Markdown),required,maxLength=20000"`
}

// SummarizeArgs are the arguments of the summarize prompt. Prompt
// arguments are strings.
type SummarizeArgs struct {
	Topic string `json:"topic" jsonschema:"description=The topic whose notes to summarize,required,minLength=1"`
}

const readme = `# Notes

This plugin formats notes; it does not store them.

- The **add** tool turns a title and a body into a Markdown note.
- The **summarize** prompt asks the model to summarize your notes on a topic.
- ` + "`notes://topic/{name}`" + ` is a blank note page for a topic.

Every call runs in a fresh instance, so nothing is kept between calls.
`

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{
		Name:        "add",
		Description: "Format a note from a title and a body and return it as Markdown. Nothing is stored: keep the returned text.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)},
	}, func(c *sdk.Context, in AddArgs) (*sdk.Result, error) {
		return sdk.Text(note(in.Title, in.Body)), nil
	})

	sdk.AddPrompt(sdk.Prompt{
		Name:        "summarize",
		Title:       "Summarize notes",
		Description: "Ask the model to summarize the notes on a topic.",
	}, func(c *sdk.Context, in SummarizeArgs) (*sdk.PromptResult, error) {
		return &sdk.PromptResult{
			Description: "Summarize the notes on " + in.Topic,
			Messages: []sdk.PromptMessage{sdk.UserText(
				"Summarize my notes on " + in.Topic + " in a few bullet points. " +
					"Keep the facts, drop repetition, and list open questions last."),
			},
		}, nil
	})

	sdk.AddResource(sdk.Resource{
		URI:         "notes://readme",
		Name:        "readme",
		Title:       "About the notes plugin",
		Description: "What this plugin does and does not do.",
		MIMEType:    "text/markdown",
	}, func(c *sdk.Context, uri string) (*sdk.ResourceResult, error) {
		return sdk.TextResource(uri, "", readme), nil
	})

	sdk.AddResourceTemplate(sdk.ResourceTemplate{
		URITemplate: "notes://topic/{name}",
		Name:        "topic",
		Title:       "Blank note page",
		Description: "A blank Markdown note page for a topic, to fill in.",
		MIMEType:    "text/markdown",
	}, func(c *sdk.Context, uri string, vars map[string]string) (*sdk.ResourceResult, error) {
		return sdk.TextResource(uri, "", note(vars["name"], "_No notes yet._")), nil
	})
}

// note formats a note as Markdown: the title as a heading, then the body.
func note(title, body string) string {
	title = strings.Join(strings.Fields(title), " ")
	return "# " + title + "\n\n" + strings.TrimSpace(body) + "\n"
}
