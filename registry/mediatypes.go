package registry

// Media types of Warden's OCI artifacts. See README.md ("OCI layouts").
const (
	// ArtifactTypePlugin is the artifactType of a Warden plugin artifact:
	// an OCI image manifest (image-spec 1.1) whose config is the empty
	// descriptor and whose single layer is the Wasm module.
	ArtifactTypePlugin = "application/vnd.wardenmcp.plugin.v1"
	// MediaTypeWasmLayer is the media type of the Wasm module layer, as the
	// CNCF Wasm OCI artifact convention names it.
	MediaTypeWasmLayer = "application/vnd.wasm.content.layer.v1+wasm"
	// MediaTypeWasmConfig is the config media type of the Wasm OCI artifact
	// convention. Artifacts with this config and one Wasm layer are read
	// like Warden's own.
	MediaTypeWasmConfig = "application/vnd.wasm.config.v0+json"
	// ArtifactTypeSigstoreBundle is the artifactType of the manifest that
	// carries a Sigstore bundle as a referrer of the signed manifest, and
	// the media type of its single layer (the bundle JSON), as cosign
	// writes them.
	ArtifactTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

	// BundleTagSuffix ends the sibling tag that also names the bundle
	// manifest: "sha256-<hex of the signed manifest's digest>.sigstore.json".
	BundleTagSuffix = ".sigstore.json"
	// BundleFileSuffix is appended to a file path or URL to find the
	// artifact's bundle when none is given.
	BundleFileSuffix = ".sigstore.json"
)

// Layer media types of container images that may hold /plugin.wasm.
const (
	mediaTypeOCILayerGzip    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaTypeOCILayer        = "application/vnd.oci.image.layer.v1.tar"
	mediaTypeDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeDockerLayer     = "application/vnd.docker.image.rootfs.diff.tar"
	mediaTypeDockerManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList      = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeOCIManifest     = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIIndex        = "application/vnd.oci.image.index.v1+json"
)

// Size caps. Downloads and reads stop at the cap plus one byte.
const (
	// MaxModuleSize is the largest Wasm module accepted: 64 MiB.
	MaxModuleSize = 64 << 20
	// MaxBundleSize is the largest Sigstore bundle accepted: 4 MiB (a
	// bundle with a certificate chain and transparency-log entries is
	// usually under 16 KiB).
	MaxBundleSize = 4 << 20
	// MaxImageManifestSize is the largest OCI manifest read: 4 MiB.
	MaxImageManifestSize = 4 << 20
	// layerTarSlack is how much more uncompressed tar data than the module
	// cap is read from an image layer when looking for /plugin.wasm.
	layerTarSlack = 16 << 20
	// maxLayerEntries is the most tar entries read from an image layer.
	maxLayerEntries = 4096
	// maxToolsSize bounds a stored tool-definitions file.
	maxToolsSize = 16 << 20
	// maxRecordSize bounds a stored evidence record.
	maxRecordSize = 1 << 20
	// maxBundleCandidates bounds how many referrer bundles are fetched.
	maxBundleCandidates = 8
)
