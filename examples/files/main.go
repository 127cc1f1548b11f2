//go:build wasip1

// Command files is a Warden plugin that lists and reads files under the
// directory the host mounts at /data. Nothing else of the host's file
// system exists for it. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o files.wasm ./examples/files
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/wardenmcp/warden/sdk"
)

// root is the guest path the grant mounts.
const root = "/data"

// maxRead caps how much of a file the read tool returns.
const maxRead = 512 << 10

// PathArgs are the arguments of both tools.
type PathArgs struct {
	Path string `json:"path,omitempty" jsonschema:"description=Path relative to /data (or absolute under /data); empty means /data itself"`
}

// Entry is one directory entry in a listing.
type Entry struct {
	Name string `json:"name" jsonschema:"description=File or directory name"`
	Dir  bool   `json:"dir" jsonschema:"description=Whether the entry is a directory"`
	Size int64  `json:"size" jsonschema:"description=Size in bytes (0 for directories)"`
}

// Listing is the structured result of the list tool.
type Listing struct {
	Path    string  `json:"path" jsonschema:"description=The directory listed"`
	Entries []Entry `json:"entries" jsonschema:"description=Its entries sorted by name"`
}

func main() {}

func init() {
	ro := sdk.Annotations{ReadOnlyHint: sdk.Bool(true), OpenWorldHint: sdk.Bool(false)}
	sdk.AddStructuredTool(sdk.Tool{
		Name:        "list",
		Description: "List a directory under /data.",
		Annotations: ro,
	}, list)
	sdk.AddTool(sdk.Tool{
		Name:        "read",
		Description: fmt.Sprintf("Read a text file under /data (at most %d KiB are returned).", maxRead>>10),
		Annotations: ro,
	}, read)
}

// resolve maps a user path to a guest path under root. The host enforces the
// mount; resolving lexically here only makes the error messages clearer.
func resolve(p string) string {
	clean := path.Clean("/" + p)
	if clean == root || strings.HasPrefix(clean, root+"/") {
		return clean
	}
	return path.Join(root, clean)
}

func list(c *sdk.Context, in PathArgs) (Listing, error) {
	dir := resolve(in.Path)
	des, err := os.ReadDir(dir)
	if err != nil {
		return Listing{}, describe(err, dir)
	}
	out := Listing{Path: dir, Entries: []Entry{}}
	for _, de := range des {
		e := Entry{Name: de.Name(), Dir: de.IsDir()}
		if !e.Dir {
			if info, err := de.Info(); err == nil {
				e.Size = info.Size()
			}
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

func read(c *sdk.Context, in PathArgs) (*sdk.Result, error) {
	name := resolve(in.Path)
	f, err := os.Open(name)
	if err != nil {
		return nil, describe(err, name)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, describe(err, name)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s is a directory: use the list tool", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRead+1))
	if err != nil {
		return nil, describe(err, name)
	}
	truncated := len(data) > maxRead
	if truncated {
		data = data[:maxRead]
		for i := 0; i < utf8.UTFMax-1 && len(data) > 0; i++ {
			if r, size := utf8.DecodeLastRune(data); r != utf8.RuneError || size != 1 {
				break
			}
			data = data[:len(data)-1]
		}
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s is a binary file of %d bytes; only text files can be read", name, info.Size())
	}
	res := sdk.Text(string(data))
	if truncated {
		res.AddText(fmt.Sprintf("[truncated: showing %d of %d bytes]", len(data), info.Size()))
	}
	return res, nil
}

// describe turns a file system error into a message for the caller.
func describe(err error, name string) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist (the plugin sees only %s, as mounted by its grant)", name, root)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", name)
	}
	return fmt.Errorf("%s: %v", name, err)
}
