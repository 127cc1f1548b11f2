//go:build wasip1

// Command secrets is a Warden plugin that signs messages with HMAC-SHA256
// using the secret SIGNING_KEY. The operator's grant decides whether the
// plugin gets the secret and where its value comes from; the plugin never
// sees any other secret. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o secrets.wasm ./examples/secrets
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/wardenmcp/warden/sdk"
)

// keyName is the secret this plugin asks for in its manifest.
const keyName = "SIGNING_KEY"

// SignArgs are the arguments of the sign tool.
type SignArgs struct {
	Message string `json:"message" jsonschema:"description=The message to sign (its UTF-8 bytes),required"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{
		Name:        "sign",
		Description: "Sign a message with HMAC-SHA256 using the operator's SIGNING_KEY and return the signature in hex.",
		Annotations: sdk.Annotations{ReadOnlyHint: sdk.Bool(true), IdempotentHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)},
	}, func(c *sdk.Context, in SignArgs) (*sdk.Result, error) {
		key, ok := sdk.Secret(keyName)
		if !ok || key == "" {
			return nil, errors.New("the secret " + keyName + " is not granted to this plugin: add it under secrets in the plugin's grant")
		}
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(in.Message))
		return sdk.Text(hex.EncodeToString(mac.Sum(nil))), nil
	})
}
