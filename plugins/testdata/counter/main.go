//go:build wasip1

// Command counter is a test plugin for instance isolation: count returns a
// package-level counter after incrementing it, so it is "1" on every fresh
// instance; random returns 16 bytes from crypto/rand in hex, which must
// differ between calls when the host gives plugins a real random source.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"

	"github.com/wardenmcp/warden/sdk"
)

var calls int

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "count", Description: "Increment a global counter and return it."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			calls++
			return sdk.Text(strconv.Itoa(calls)), nil
		})
	sdk.AddTool(sdk.Tool{Name: "random", Description: "Return 16 random bytes in hex."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, err
			}
			return sdk.Text(hex.EncodeToString(b[:])), nil
		})
}
