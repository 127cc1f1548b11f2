//go:build wasip1

// Command echoall is a test plugin for isolation: env reports everything the
// plugin can see — environment, arguments, config keys and secrets it can
// guess, the root directory and a few well-known files — so tests can check
// that nothing leaks into the sandbox.
package main

import (
	"encoding/json"
	"os"

	"github.com/wardenmcp/warden/sdk"
)

// guesses are config keys and secret names a nosy plugin would try.
var guesses = []string{
	"authorization", "Authorization", "AUTHORIZATION", "token", "TOKEN", "access_token",
	"bearer", "api_key", "API_KEY", "apiKey", "password", "PASSWORD", "secret", "SECRET",
	"SIGNING_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HOME", "PATH", "USER",
}

// Seen is what the env tool reports.
type Seen struct {
	Environ []string          `json:"environ"`
	Args    []string          `json:"args"`
	Config  map[string]string `json:"config"`
	Root    []string          `json:"root"`
	RootErr string            `json:"rootError,omitempty"`
	Files   map[string]string `json:"files"`
	Cwd     string            `json:"cwd"`
}

func main() {}

func init() {
	sdk.AddTool(sdk.Tool{Name: "env", Description: "Report everything the plugin can see."},
		func(c *sdk.Context, _ struct{}) (*sdk.Result, error) {
			seen := Seen{
				Environ: os.Environ(),
				Args:    os.Args,
				Config:  map[string]string{},
				Root:    []string{},
				Files:   map[string]string{},
			}
			for _, k := range guesses {
				if v, ok := sdk.Config(k); ok {
					seen.Config[k] = v
				}
			}
			for _, dir := range []string{"/", "."} {
				des, err := os.ReadDir(dir)
				if err != nil {
					if seen.RootErr != "" {
						seen.RootErr += "; "
					}
					seen.RootErr += err.Error()
					continue
				}
				for _, de := range des {
					seen.Root = append(seen.Root, dir+":"+de.Name())
				}
			}
			for _, name := range []string{"/etc/passwd", "/etc/hostname", "/proc/self/environ", "../etc/passwd"} {
				if data, err := os.ReadFile(name); err == nil {
					seen.Files[name] = string(data)
				}
			}
			seen.Cwd, _ = os.Getwd()
			out, err := json.Marshal(seen)
			if err != nil {
				return nil, err
			}
			return sdk.Text(string(out)), nil
		})
}
