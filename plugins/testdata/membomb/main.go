//go:build wasip1

// Command membomb is a test plugin for memory limits: grow allocates and
// touches 1 MiB slices until the module runs out of memory.
package main

import "github.com/wardenmcp/warden/sdk"

var hoard [][]byte

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "grow", Description: "Allocate memory until the plugin dies."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			for {
				b := make([]byte, 1<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				hoard = append(hoard, b)
			}
		})
}
