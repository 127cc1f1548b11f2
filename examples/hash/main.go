//go:build wasip1

// Command hash is a Warden plugin with pure hashing and encoding tools that
// return structured content (each tool declares an output schema). Build it
// with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hash.wasm ./examples/hash
package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"

	"github.com/wardenmcp/warden/sdk"
)

// TextArgs is the input of tools that work on a piece of text.
type TextArgs struct {
	Text string `json:"text" jsonschema:"description=The text to process (its UTF-8 bytes),required"`
}

// DigestArgs is the input of the digest tool.
type DigestArgs struct {
	Text      string `json:"text" jsonschema:"description=The text to hash (its UTF-8 bytes),required"`
	Algorithm string `json:"algorithm,omitempty" jsonschema:"description=Hash function; sha256 when omitted,enum=sha1|sha256|sha384|sha512,default=sha256"`
}

// Base64Args is the input of base64_encode.
type Base64Args struct {
	Text string `json:"text" jsonschema:"description=The text to encode,required"`
	URL  bool   `json:"url,omitempty" jsonschema:"description=Use the URL-safe alphabet (RFC 4648 section 5)"`
}

// DecodeArgs is the input of base64_decode.
type DecodeArgs struct {
	Data string `json:"data" jsonschema:"description=Base64 text to decode; padding is optional,required"`
	URL  bool   `json:"url,omitempty" jsonschema:"description=The input uses the URL-safe alphabet"`
}

// Digest is the structured result of the hashing tools.
type Digest struct {
	Algorithm string `json:"algorithm" jsonschema:"description=The hash function used"`
	Digest    string `json:"digest" jsonschema:"description=The digest in lower-case hex"`
	Length    int    `json:"length" jsonschema:"description=Number of input bytes hashed"`
}

// Encoded is the structured result of the encoding tools.
type Encoded struct {
	Encoding string `json:"encoding" jsonschema:"description=The encoding applied or removed"`
	Output   string `json:"output" jsonschema:"description=The encoded or decoded text"`
	Length   int    `json:"length" jsonschema:"description=Number of input bytes"`
}

var pure = sdk.Annotations{ReadOnlyHint: sdk.Bool(true), IdempotentHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)}

func main() {}

func init() {
	sdk.AddStructuredTool(sdk.Tool{
		Name:        "sha256",
		Description: "Compute the SHA-256 digest of a text, in hex.",
		Annotations: pure,
	}, func(c *sdk.Context, in TextArgs) (Digest, error) {
		return digest("sha256", in.Text)
	})

	sdk.AddStructuredTool(sdk.Tool{
		Name:        "digest",
		Description: "Compute a SHA-1 or SHA-2 digest of a text, in hex.",
		Annotations: pure,
	}, func(c *sdk.Context, in DigestArgs) (Digest, error) {
		if in.Algorithm == "" {
			in.Algorithm = "sha256"
		}
		return digest(in.Algorithm, in.Text)
	})

	sdk.AddStructuredTool(sdk.Tool{
		Name:        "base64_encode",
		Description: "Encode a text as base64.",
		Annotations: pure,
	}, func(c *sdk.Context, in Base64Args) (Encoded, error) {
		enc, name := base64.StdEncoding, "base64"
		if in.URL {
			enc, name = base64.URLEncoding, "base64url"
		}
		return Encoded{Encoding: name, Output: enc.EncodeToString([]byte(in.Text)), Length: len(in.Text)}, nil
	})

	sdk.AddStructuredTool(sdk.Tool{
		Name:        "base64_decode",
		Description: "Decode base64 into text. Fails when the input is not base64 or does not decode to UTF-8 text.",
		Annotations: pure,
	}, func(c *sdk.Context, in DecodeArgs) (Encoded, error) {
		enc, name := base64.StdEncoding, "base64"
		if in.URL {
			enc, name = base64.URLEncoding, "base64url"
		}
		// Accept the input with or without padding.
		out, err := enc.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(in.Data, "="))
		if err != nil {
			return Encoded{}, fmt.Errorf("not %s: %v", name, err)
		}
		if !utf8.Valid(out) {
			return Encoded{}, fmt.Errorf("the data decodes to %d bytes that are not UTF-8 text", len(out))
		}
		return Encoded{Encoding: name, Output: string(out), Length: len(in.Data)}, nil
	})

	sdk.AddStructuredTool(sdk.Tool{
		Name:        "hex",
		Description: "Encode a text as lower-case hexadecimal.",
		Annotations: pure,
	}, func(c *sdk.Context, in TextArgs) (Encoded, error) {
		return Encoded{Encoding: "hex", Output: hex.EncodeToString([]byte(in.Text)), Length: len(in.Text)}, nil
	})
}

func digest(algorithm, text string) (Digest, error) {
	var h hash.Hash
	switch algorithm {
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return Digest{}, errors.New("unknown algorithm " + algorithm)
	}
	h.Write([]byte(text))
	return Digest{Algorithm: algorithm, Digest: hex.EncodeToString(h.Sum(nil)), Length: len(text)}, nil
}
