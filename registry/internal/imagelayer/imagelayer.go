// Package imagelayer extracts a plugin module from a container image
// layer: the "FROM scratch" images hyper-mcp publishes hold the module at
// /plugin.wasm in a single tar layer, usually gzip-compressed. Extraction
// reads only from memory, never writes to disk, and is bounded in every
// dimension (compressed size is the caller's, uncompressed size, entry
// count, module size) so that a decompression bomb costs nothing.
package imagelayer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// PluginPath is where the module lives in the image, without the leading
// slash.
const PluginPath = "plugin.wasm"

// Limits bound an extraction.
type Limits struct {
	// MaxModule is the largest /plugin.wasm accepted, in bytes.
	MaxModule int64
	// MaxTar is the most uncompressed tar data read, headers and the
	// contents of every entry included.
	MaxTar int64
	// MaxEntries is the most tar entries read.
	MaxEntries int
}

// ErrTooLarge is wrapped by errors about a layer that exceeds a limit.
var ErrTooLarge = errors.New("layer exceeds a size limit")

// Extract returns the contents of /plugin.wasm from layer, a tar archive
// that is gzip-compressed when gzipped is true. It refuses a layer with no
// /plugin.wasm or more than one, a /plugin.wasm that is not a regular file
// (a symbolic or hard link, a directory), any entry whose name climbs out
// of the root with "..", and anything over the limits.
func Extract(layer []byte, gzipped bool, lim Limits) ([]byte, error) {
	var r io.Reader = bytes.NewReader(layer)
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("layer is not gzip data: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	cr := &capReader{r: r, max: lim.MaxTar}
	tr := tar.NewReader(cr)
	var module []byte
	found := false
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if cr.over {
				return nil, fmt.Errorf("%w: the layer expands to more than %d bytes of tar data", ErrTooLarge, lim.MaxTar)
			}
			return nil, fmt.Errorf("layer is not a valid tar archive: %w", err)
		}
		if n >= lim.MaxEntries {
			return nil, fmt.Errorf("%w: the layer has more than %d entries", ErrTooLarge, lim.MaxEntries)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return nil, err
		}
		if name != PluginPath {
			continue
		}
		if found {
			return nil, fmt.Errorf("layer holds /%s more than once: refusing an ambiguous image", PluginPath)
		}
		found = true
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("layer entry /%s is a %s, want a regular file", PluginPath, typeName(hdr.Typeflag))
		}
		if hdr.Size > lim.MaxModule {
			return nil, fmt.Errorf("%w: /%s is %d bytes, more than the %d allowed", ErrTooLarge, PluginPath, hdr.Size, lim.MaxModule)
		}
		module = make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, module); err != nil {
			if cr.over {
				return nil, fmt.Errorf("%w: the layer expands to more than %d bytes of tar data", ErrTooLarge, lim.MaxTar)
			}
			return nil, fmt.Errorf("reading /%s from the layer: %w", PluginPath, err)
		}
	}
	if !found {
		return nil, fmt.Errorf("layer has no /%s: not a plugin image", PluginPath)
	}
	return module, nil
}

// cleanName returns name relative to the image root, or an error if it
// is empty or climbs out of the root.
func cleanName(name string) (string, error) {
	if strings.ContainsRune(name, 0) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("layer entry name %q has a NUL or backslash: refusing a path trick", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("layer entry name %q contains \"..\": refusing a path trick", name)
		}
	}
	c := path.Clean("/" + name)
	return strings.TrimPrefix(c, "/"), nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeDir:
		return "directory"
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}

// capReader reads at most max bytes from r and then fails.
type capReader struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		c.over = true
		return 0, ErrTooLarge
	}
	if rem := c.max - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
