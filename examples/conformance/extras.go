//go:build wasip1

package main

// The conformance suite's prompts, resources and completions. Warden
// serves the prompts as "conformance.<prompt>" and the resources under
// their own URIs.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wardenmcp/warden/sdk"
)

// PromptArgs are the arguments of test_prompt_with_arguments.
type PromptArgs struct {
	Arg1 string `json:"arg1" jsonschema:"description=First test argument,required"`
	Arg2 string `json:"arg2" jsonschema:"description=Second test argument,required"`
}

// EmbedArgs are the arguments of test_prompt_with_embedded_resource.
type EmbedArgs struct {
	ResourceURI string `json:"resourceUri" jsonschema:"description=URI of the resource to embed,required"`
}

func init() {
	sdk.AddPrompt(sdk.Prompt{
		Name:        "test_simple_prompt",
		Description: "A prompt without arguments (conformance scenario prompts-get-simple).",
	}, func(c *sdk.Context, _ struct{}) (*sdk.PromptResult, error) {
		return &sdk.PromptResult{Messages: []sdk.PromptMessage{sdk.UserText("This is a simple prompt for testing.")}}, nil
	})

	sdk.AddPrompt(sdk.Prompt{
		Name:        "test_prompt_with_arguments",
		Description: "A prompt with two required arguments (conformance scenario prompts-get-with-args).",
	}, func(c *sdk.Context, in PromptArgs) (*sdk.PromptResult, error) {
		return &sdk.PromptResult{Messages: []sdk.PromptMessage{
			sdk.UserText(fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", in.Arg1, in.Arg2)),
		}}, nil
	})

	sdk.AddPrompt(sdk.Prompt{
		Name: "test_prompt_with_embedded_resource",
		Description: "A prompt about a resource (conformance scenario prompts-get-embedded-resource; " +
			"the embedded resource block cannot be expressed with sdk.Content, so the resource is named in text).",
	}, func(c *sdk.Context, in EmbedArgs) (*sdk.PromptResult, error) {
		return &sdk.PromptResult{Messages: []sdk.PromptMessage{
			sdk.UserText("Please process the resource " + in.ResourceURI + "."),
		}}, nil
	})

	sdk.AddPrompt(sdk.Prompt{
		Name:        "test_prompt_with_image",
		Description: "A prompt with an image (conformance scenario prompts-get-with-image).",
	}, func(c *sdk.Context, _ struct{}) (*sdk.PromptResult, error) {
		return &sdk.PromptResult{Messages: []sdk.PromptMessage{
			{Role: "user", Content: sdk.Content{Type: "image", Data: redPixelPNG(), MIMEType: "image/png"}},
			sdk.UserText("Please analyze the image above."),
		}}, nil
	})

	sdk.AddResource(sdk.Resource{
		URI:         "test://static-text",
		Name:        "static-text",
		Description: "A static text resource (conformance scenario resources-read-text).",
		MIMEType:    "text/plain",
	}, func(c *sdk.Context, uri string) (*sdk.ResourceResult, error) {
		return sdk.TextResource(uri, "text/plain", "This is the content of the static text resource."), nil
	})

	sdk.AddResource(sdk.Resource{
		URI:         "test://static-binary",
		Name:        "static-binary",
		Description: "A static PNG image (conformance scenario resources-read-binary).",
		MIMEType:    "image/png",
	}, func(c *sdk.Context, uri string) (*sdk.ResourceResult, error) {
		return sdk.BlobResource(uri, "image/png", redPixelPNG()), nil
	})

	sdk.AddResourceTemplate(sdk.ResourceTemplate{
		URITemplate: "test://template/{id}/data",
		Name:        "template-data",
		Description: "Data for an ID (conformance scenario resources-templates-read).",
		MIMEType:    "application/json",
	}, func(c *sdk.Context, uri string, vars map[string]string) (*sdk.ResourceResult, error) {
		data, err := json.Marshal(map[string]any{"id": vars["id"], "templateTest": true, "data": "Data for ID: " + vars["id"]})
		if err != nil {
			return nil, err
		}
		return sdk.TextResource(uri, "application/json", string(data)), nil
	})

	// Suggestions for test_prompt_with_arguments' arguments (conformance
	// scenario completion-complete), from a fixed list.
	sdk.SetCompletion(func(c *sdk.Context, ref sdk.CompletionRef, arg, value string) ([]string, error) {
		var out []string
		for _, v := range []string{"paris", "park", "party", "test", "testing"} {
			if strings.HasPrefix(v, value) {
				out = append(out, v)
			}
		}
		return out, nil
	})
}
