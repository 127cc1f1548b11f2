package registry

import (
	"bytes"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wardenmcp/warden/registry/internal/canonjson"
	"github.com/wardenmcp/warden/registry/internal/imagelayer"
)

// ImageChain ties a module taken from a plugin image (the "FROM scratch"
// image with /plugin.wasm that hyper-mcp publishes) to the signature,
// which covers the image manifest, not the module:
//
//  1. the Sigstore bundle verifies over the image manifest's bytes, whose
//     SHA-256 is ManifestDigest (a cosign image signature: a DSSE
//     statement whose subject is that digest, or a plain signature over
//     the bytes);
//  2. the manifest lists exactly one layer, LayerDigest, of type
//     LayerMediaType;
//  3. the layer blob's SHA-256 is LayerDigest;
//  4. the layer is a tar archive (gzip-compressed for the .tar+gzip and
//     .tar.gzip types) holding /plugin.wasm exactly once, as a regular
//     file, whose bytes are the module.
//
// The store keeps the manifest and the layer blob next to the module, so
// that every load redoes all four steps (CheckImageChain) and verifies the
// bundle again.
type ImageChain struct {
	ManifestDigest    string `json:"manifest"`
	ManifestMediaType string `json:"manifestMediaType"`
	LayerDigest       string `json:"layer"`
	LayerMediaType    string `json:"layerMediaType"`
	// Path is where the module is in the image: "/plugin.wasm".
	Path string `json:"path"`
}

// Image is a plugin image as fetched: its chain and the bytes it is made
// of.
type Image struct {
	Chain ImageChain
	// Manifest is the image manifest, the bytes the signature covers.
	Manifest []byte
	// Layer is the layer blob as stored in the registry (compressed).
	Layer []byte
}

// pluginPath is the image path of the module, as recorded in ImageChain.
const pluginPath = "/" + imagelayer.PluginPath

// layerCompression reports whether a layer of the given media type is
// gzip-compressed, and whether the type is a tar layer at all.
func layerCompression(mediaType string) (gzipped, ok bool) {
	switch mediaType {
	case mediaTypeOCILayerGzip, mediaTypeDockerLayerGzip:
		return true, true
	case mediaTypeOCILayer, mediaTypeDockerLayer:
		return false, true
	}
	return false, false
}

// parseManifest parses an OCI image manifest or a Docker v2 schema 2
// manifest (the two have the same shape), refusing repeated keys.
func parseManifest(b []byte) (*ocispec.Manifest, error) {
	if _, err := canonjson.Parse(b); err != nil {
		return nil, fmt.Errorf("image manifest is not valid JSON: %w", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("image manifest has schemaVersion %d, want 2", m.SchemaVersion)
	}
	return &m, nil
}

// extractModule takes /plugin.wasm out of a layer blob.
func extractModule(layer []byte, mediaType string, maxModule int64) ([]byte, error) {
	gz, ok := layerCompression(mediaType)
	if !ok {
		return nil, fmt.Errorf("image layer has media type %q, want a tar layer (%s or %s)", mediaType, mediaTypeOCILayerGzip, mediaTypeDockerLayerGzip)
	}
	return imagelayer.Extract(layer, gz, imagelayer.Limits{
		MaxModule:  maxModule,
		MaxTar:     maxModule + layerTarSlack,
		MaxEntries: maxLayerEntries,
	})
}

// CheckImageChain redoes the chain from a signed image manifest to a
// module (see ImageChain): the manifest's digest, the layer it lists, the
// layer blob's digest and the module extracted from it. Each mismatch is
// reported with what was expected and what was found.
func CheckImageChain(c ImageChain, manifest, layer, wasm []byte) error {
	if got := Digest(manifest); got != c.ManifestDigest {
		return fmt.Errorf("image manifest has digest %s, want %s: %w", got, c.ManifestDigest, ErrTampered)
	}
	m, err := parseManifest(manifest)
	if err != nil {
		return err
	}
	if len(m.Layers) != 1 {
		return fmt.Errorf("image manifest %s lists %d layers, want exactly 1", c.ManifestDigest, len(m.Layers))
	}
	l := m.Layers[0]
	if l.Digest.String() != c.LayerDigest || l.MediaType != c.LayerMediaType {
		return fmt.Errorf("image manifest %s lists layer %s (%s), want %s (%s): %w",
			c.ManifestDigest, l.Digest, l.MediaType, c.LayerDigest, c.LayerMediaType, ErrMismatch)
	}
	if got := Digest(layer); got != c.LayerDigest {
		return fmt.Errorf("image layer has digest %s, want %s: %w", got, c.LayerDigest, ErrTampered)
	}
	if l.Size != int64(len(layer)) {
		return fmt.Errorf("image layer %s is %d bytes, the manifest says %d", c.LayerDigest, len(layer), l.Size)
	}
	mod, err := extractModule(layer, l.MediaType, MaxModuleSize)
	if err != nil {
		return fmt.Errorf("image layer %s: %w", c.LayerDigest, err)
	}
	if !bytes.Equal(mod, wasm) {
		return fmt.Errorf("%s in image layer %s has digest %s, want %s: %w", pluginPath, c.LayerDigest, Digest(mod), Digest(wasm), ErrMismatch)
	}
	return nil
}
