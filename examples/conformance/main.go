//go:build wasip1

// Command conformance is a Warden plugin with the tools, prompts, resources
// and completions that the MCP conformance suite
// (@modelcontextprotocol/conformance) uses in its server scenarios, each
// answering what the scenario expects as far as a plugin written with sdk/
// can express it. Warden serves the tools and prompts as
// "conformance.<name>" and the resources under their own URIs;
// host/interop_test.go runs the suite against them, and
// host/testdata/interop/conformance-expected-failures.json says which
// scenarios cannot pass, and why. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o conformance.wasm ./examples/conformance
//
// Left out: the tools that need the server to reach the client during a
// call (sampling, elicitation, SSE resumption), which a stateless plugin
// cannot do. Tools whose scenario wants log or progress notifications do
// the work and log to the host's plugin log instead; content that sdk.Result
// and sdk.Content cannot hold (embedded resources) is left out of the
// results that want it.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"

	"github.com/wardenmcp/warden/sdk"
)

// NoArgs is the input of the tools that take no arguments.
type NoArgs struct{}

// Address is the nested object of json_schema_2020_12_tool's input.
type Address struct {
	Street string `json:"street,omitempty"`
	City   string `json:"city,omitempty"`
}

// SchemaArgs is the input of json_schema_2020_12_tool. The suite wants the
// schema to carry "$schema" and "$defs"; sdk derives schemas from Go types
// and never writes either, so only the shape (and additionalProperties:
// false) matches.
type SchemaArgs struct {
	Name    string   `json:"name,omitempty"`
	Address *Address `json:"address,omitempty"`
}

var pure = sdk.Annotations{ReadOnlyHint: sdk.Bool(true), IdempotentHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{
		Name:        "test_simple_text",
		Description: "Return a simple text response (conformance scenario tools-call-simple-text).",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		return sdk.Text("This is a simple text response for testing."), nil
	})

	sdk.AddTool(sdk.Tool{
		Name:        "test_image_content",
		Description: "Return a 1x1 red PNG image (conformance scenario tools-call-image).",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		return sdk.Image(redPixelPNG(), "image/png"), nil
	})

	sdk.AddTool(sdk.Tool{
		Name:        "test_audio_content",
		Description: "Return a short WAV clip (conformance scenario tools-call-audio).",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		return &sdk.Result{Content: []sdk.Content{{Type: "audio", Data: toneWAV(), MIMEType: "audio/wav"}}}, nil
	})

	sdk.AddTool(sdk.Tool{
		Name: "test_multiple_content_types",
		Description: "Return text and an image in one result (conformance scenario tools-call-mixed-content; " +
			"the scenario's third block, an embedded resource, cannot be expressed with sdk.Result).",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		return sdk.Text("Multiple content types test:").AddImage(redPixelPNG(), "image/png"), nil
	})

	sdk.AddTool(sdk.Tool{
		Name:        "test_error_handling",
		Description: "Always fail with a tool error (conformance scenario tools-call-error).",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		return nil, errors.New("This tool intentionally returns an error for testing")
	})

	sdk.AddTool(sdk.Tool{
		Name: "test_tool_with_logging",
		Description: "Log three messages about 50 ms apart, then return (conformance scenario tools-call-with-logging). " +
			"The messages go to the host's plugin log, not to the client as notifications/message.",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		sdk.Log.Info("Tool execution started")
		time.Sleep(50 * time.Millisecond)
		sdk.Log.Info("Tool processing data")
		time.Sleep(50 * time.Millisecond)
		sdk.Log.Info("Tool execution completed")
		return sdk.Text("Tool with logging executed successfully"), nil
	})

	sdk.AddTool(sdk.Tool{
		Name: "test_tool_with_progress",
		Description: "Work in three steps about 50 ms apart, then return (conformance scenario tools-call-with-progress). " +
			"A plugin cannot send notifications/progress, so the steps are only logged.",
		Annotations: pure,
	}, func(c *sdk.Context, _ NoArgs) (*sdk.Result, error) {
		for step := 0; step <= 100; step += 50 {
			sdk.Log.Info("progress", "progress", step, "total", 100)
			if step < 100 {
				time.Sleep(50 * time.Millisecond)
			}
		}
		return sdk.Text("Progress test completed"), nil
	})

	sdk.AddTool(sdk.Tool{
		Name:        "json_schema_2020_12_tool",
		Description: "Tool with JSON Schema 2020-12 features (conformance scenario json-schema-2020-12).",
		Annotations: pure,
	}, func(c *sdk.Context, in SchemaArgs) (*sdk.Result, error) {
		return sdk.Textf("Received: %s", c.Arguments), nil
	})
}

// redPixelPNG encodes a 1x1 opaque red PNG. It is written by hand rather
// than with image/png to keep the module small.
func redPixelPNG() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	// Width 1, height 1, bit depth 8, colour type 2 (RGB), deflate, no
	// filter, no interlace.
	chunk("IHDR", []byte{0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0})
	// One scanline: filter byte 0, then R G B, in a zlib stream made of one
	// stored deflate block.
	raw := []byte{0, 0xff, 0, 0}
	z := []byte{0x78, 0x01, 1, byte(len(raw)), 0, ^byte(len(raw)), 0xff}
	z = append(z, raw...)
	z = binary.BigEndian.AppendUint32(z, adler32(raw))
	chunk("IDAT", z)
	chunk("IEND", nil)
	return b.Bytes()
}

func adler32(p []byte) uint32 {
	a, b := uint32(1), uint32(0)
	for _, c := range p {
		a = (a + uint32(c)) % 65521
		b = (b + a) % 65521
	}
	return b<<16 | a
}

// toneWAV encodes 50 ms of a 440 Hz tone as 8 kHz mono 16-bit PCM WAV.
func toneWAV() []byte {
	const rate, n = 8000, 400
	pcm := make([]byte, 0, 2*n)
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		pcm = binary.LittleEndian.AppendUint16(pcm, uint16(v))
	}
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + len(pcm)))
	b.WriteString("WAVEfmt ")
	w(uint32(16))       // fmt chunk size
	w(uint16(1))        // PCM
	w(uint16(1))        // mono
	w(uint32(rate))     // sample rate
	w(uint32(rate * 2)) // byte rate
	w(uint16(2))        // block align
	w(uint16(16))       // bits per sample
	b.WriteString("data")
	w(uint32(len(pcm)))
	b.Write(pcm)
	return b.Bytes()
}
