//go:build wasip1

// Command counter is a test plugin for instance isolation: count returns a
// package-level counter after incrementing it, so it is "1" on every fresh
// instance; random returns 16 bytes from crypto/rand in hex, which must
// differ between calls when the host gives plugins a real random source;
// runtime-random returns what the Go runtime's own generators give (which a
// memory image of the initialised module would replay unless reseeded).
// close-stdout, write-stdout and grow change state that a recycled instance
// must not carry into the next call: its descriptors and its memory size.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand1 "math/rand"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"syscall"

	"github.com/wardenmcp/warden/sdk"
)

var calls int

// atInit is drawn in the initialiser: with memory images every call sees
// the same value (documented), so the test only reports it.
var atInit = mrand.Uint64()

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
	sdk.AddTool(sdk.Tool{Name: "runtime-random", Description: "Return values from the Go runtime's random generators and a map's iteration order."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			m := map[int]bool{}
			for i := range 64 {
				m[i] = true
			}
			order := ""
			for k := range m {
				order += strconv.Itoa(k) + ","
				if len(order) > 12 {
					break
				}
			}
			return sdk.Text(fmt.Sprintf("v2=%x v1=%x map=%s init=%x", mrand.Uint64(), mrand1.Int63(), order, atInit)), nil
		})
	sdk.AddTool(sdk.Tool{Name: "close-stdout", Description: "Close file descriptor 1."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			return sdk.Text(fmt.Sprint(syscall.Close(1))), nil
		})
	sdk.AddTool(sdk.Tool{Name: "write-stdout", Description: "Write a line to stdout and say whether it worked."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			if _, err := os.Stdout.WriteString("hello\n"); err != nil {
				return sdk.Text(err.Error()), nil
			}
			return sdk.Text("ok"), nil
		})
	sdk.AddTool(sdk.Tool{Name: "grow", Description: "Grow the heap by 32 MiB and count."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			big := make([]byte, 32<<20)
			for i := range big {
				big[i] = byte(i)
			}
			calls++
			return sdk.Text(strconv.Itoa(calls + int(big[len(big)-1])*0)), nil
		})
}
