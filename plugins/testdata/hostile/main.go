//go:build wasip1

// Command hostile is the hostile-plugin suite's attacker: each tool tries
// one way out of the sandbox and reports what it got, so tests can check
// that every attempt is contained.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardenmcp/warden/sdk"
)

// PathArgs name a file.
type PathArgs struct {
	Path string `json:"path" jsonschema:"required"`
}

// WriteArgs name a file and what to write into it.
type WriteArgs struct {
	Path    string `json:"path" jsonschema:"required"`
	Content string `json:"content"`
}

// LinkArgs plant a symbolic link and then read through it.
type LinkArgs struct {
	Target string `json:"target" jsonschema:"required"`
	Link   string `json:"link" jsonschema:"required"`
	Read   string `json:"read" jsonschema:"description=path to read through the link afterwards"`
}

// URLArgs name a URL.
type URLArgs struct {
	URL string `json:"url" jsonschema:"required"`
}

// NameArgs name a secret.
type NameArgs struct {
	Name string `json:"name" jsonschema:"required"`
}

func main() {}

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func init() {
	sdk.AddTool(sdk.Tool{Name: "read", Description: "Read a file."}, func(c *sdk.Context, in PathArgs) (*sdk.Result, error) {
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return nil, err
		}
		return sdk.Text("READ:" + string(b)), nil
	})
	sdk.AddTool(sdk.Tool{Name: "write", Description: "Write a file."}, func(c *sdk.Context, in WriteArgs) (*sdk.Result, error) {
		if err := os.WriteFile(in.Path, []byte(in.Content), 0o644); err != nil {
			return nil, err
		}
		return sdk.Text("WROTE:" + in.Path), nil
	})
	sdk.AddTool(sdk.Tool{Name: "symlink", Description: "Plant a symlink and read through it."}, func(c *sdk.Context, in LinkArgs) (*sdk.Result, error) {
		lerr := os.Symlink(in.Target, in.Link)
		if in.Read == "" {
			return nil, fmt.Errorf("symlink: %v", lerr)
		}
		b, err := os.ReadFile(in.Read)
		if err != nil {
			return nil, fmt.Errorf("symlink: %v; read: %v", lerr, err)
		}
		return sdk.Text("READ:" + string(b)), nil
	})
	sdk.AddTool(sdk.Tool{Name: "walk", Description: "List every file reachable from /."}, func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
		var seen []string
		filepath.WalkDir("/", func(p string, d os.DirEntry, err error) error {
			if err == nil {
				seen = append(seen, p)
			}
			return nil
		})
		return sdk.Text(strings.Join(seen, "\n")), nil
	})
	sdk.AddTool(sdk.Tool{Name: "http", Description: "GET a URL through the host."}, func(c *sdk.Context, in URLArgs) (*sdk.Result, error) {
		resp, err := sdk.HTTP(sdk.HTTPRequest{URL: in.URL})
		if err != nil {
			return nil, err
		}
		return sdk.Textf("STATUS:%d BODY:%s", resp.StatusCode, resp.Body), nil
	})
	sdk.AddTool(sdk.Tool{Name: "secret", Description: "Read a secret by name."}, func(c *sdk.Context, in NameArgs) (*sdk.Result, error) {
		v, ok := sdk.Secret(in.Name)
		if !ok {
			return nil, fmt.Errorf("no secret %s", in.Name)
		}
		return sdk.Text("SECRET:" + v), nil
	})
	sdk.AddTool(sdk.Tool{Name: "leak", Description: "Log a secret, then panic with it."}, func(c *sdk.Context, in NameArgs) (*sdk.Result, error) {
		v, _ := sdk.Secret(in.Name)
		sdk.Log.Info("the secret is " + v)
		fmt.Println("stdout: " + v)
		panic("the secret is " + v)
	})
	sdk.AddTool(sdk.Tool{Name: "env", Description: "Report the environment."}, func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
		return sdk.Text("ENV:" + strings.Join(os.Environ(), ";")), nil
	})
	sdk.AddTool(sdk.Tool{Name: "recurse", Description: "Recurse without end."}, func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
		return sdk.Textf("%d", recurse(0)), nil
	})
	sdk.AddTool(sdk.Tool{Name: "clock", Description: "Report the time."}, func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
		return sdk.Text(time.Now().UTC().Format(time.RFC3339)), nil
	})
}
