package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	orasreg "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// parseOCIRef parses "oci://host/repository[:tag|@sha256:<hex>]".
func parseOCIRef(source string) (orasreg.Reference, error) {
	rest, ok := strings.CutPrefix(source, "oci://")
	if !ok {
		return orasreg.Reference{}, fmt.Errorf("OCI reference %q: want oci://host/repository:tag or oci://host/repository@sha256:<hex>", source)
	}
	ref, err := orasreg.ParseReference(rest)
	if err != nil {
		return orasreg.Reference{}, fmt.Errorf("OCI reference %q: %w", source, err)
	}
	return ref, nil
}

// repository returns a client for ref's repository.
func (o *SourceOptions) repository(ref orasreg.Reference) (*remote.Repository, error) {
	repo := &remote.Repository{
		Reference:            ref,
		MaxMetadataBytes:     MaxImageManifestSize,
		ReferrerListMaxPages: 8,
		TagListMaxPages:      8,
	}
	host := ref.Registry
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if o.InsecureLoopbackHTTP && isLoopbackHost(host) {
		repo.PlainHTTP = true
	}
	client := &auth.Client{Client: o.httpClient(), Cache: auth.NewCache()}
	client.SetUserAgent("warden")
	if o.Credentials != nil {
		client.Credential = func(ctx context.Context, hostport string) (auth.Credential, error) {
			c, err := o.Credentials(ctx, hostport)
			if err != nil {
				return auth.EmptyCredential, err
			}
			return auth.Credential{Username: c.Username, Password: c.Password, RefreshToken: c.RefreshToken, AccessToken: c.AccessToken}, nil
		}
	}
	repo.Client = client
	return repo, nil
}

// fetchBlob fetches the blob desc describes, refusing one larger than max
// and checking its digest.
func fetchBlob(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, max int64, what string) ([]byte, error) {
	if desc.Size < 0 || desc.Size > max {
		return nil, fmt.Errorf("%s %s is %d bytes, more than the %d allowed: %w", what, desc.Digest, desc.Size, max, ErrTooLarge)
	}
	if err := desc.Digest.Validate(); err != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("%s has digest %q, want sha256:<hex>", what, desc.Digest)
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s %s: %w", what, desc.Digest, err)
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, desc) // checks size and digest
	if err != nil {
		return nil, fmt.Errorf("fetching %s %s: %w", what, desc.Digest, err)
	}
	return b, nil
}

// isPluginArtifact reports whether m is a Warden plugin artifact (or one
// following the Wasm OCI artifact convention).
func isPluginArtifact(m *ocispec.Manifest) bool {
	return m.ArtifactType == ArtifactTypePlugin || m.Config.MediaType == ArtifactTypePlugin ||
		m.Config.MediaType == MediaTypeWasmConfig
}

func layerTypes(m *ocispec.Manifest) string {
	var ts []string
	for _, l := range m.Layers {
		ts = append(ts, l.MediaType)
	}
	if len(ts) == 0 {
		return "no layers"
	}
	return "layers " + strings.Join(ts, ", ")
}

func fetchOCI(ctx context.Context, source string, opts *SourceOptions) (*Artifact, error) {
	ref, err := parseOCIRef(source)
	if err != nil {
		return nil, err
	}
	repo, err := opts.repository(ref)
	if err != nil {
		return nil, err
	}
	desc, rc, err := repo.FetchReference(ctx, ref.ReferenceOrDefault())
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", source, err)
	}
	defer rc.Close()
	if desc.Size > MaxImageManifestSize {
		return nil, fmt.Errorf("%s: the manifest is %d bytes, more than the %d allowed: %w", source, desc.Size, MaxImageManifestSize, ErrTooLarge)
	}
	raw, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching the manifest of %s: %w", source, err)
	}
	switch desc.MediaType {
	case mediaTypeOCIManifest, mediaTypeDockerManifest:
	case mediaTypeOCIIndex, mediaTypeDockerList:
		return nil, fmt.Errorf("%s is an image index (%s), a list of per-platform manifests; want a single manifest: name the wasm manifest by digest (oci://%s/%s@sha256:...)",
			source, desc.MediaType, ref.Registry, ref.Repository)
	default:
		return nil, fmt.Errorf("%s has media type %q, want an OCI image manifest (%s) or a Docker image manifest (%s)", source, desc.MediaType, mediaTypeOCIManifest, mediaTypeDockerManifest)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	a := &Artifact{Source: source, OCIManifest: desc.Digest.String()}
	switch {
	case isPluginArtifact(m):
		if len(m.Layers) != 1 || (m.Layers[0].MediaType != MediaTypeWasmLayer && m.Layers[0].MediaType != "application/wasm") {
			return nil, fmt.Errorf("%s is a plugin artifact (%s) with %s; want exactly one layer of type %s", source, ArtifactTypePlugin, layerTypes(m), MediaTypeWasmLayer)
		}
		wasm, err := fetchBlob(ctx, repo, m.Layers[0], opts.maxModule(), "the Wasm layer")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		a.Bytes, a.Digest = wasm, Digest(wasm)
	default:
		if len(m.Layers) != 1 {
			return nil, fmt.Errorf("%s is neither a plugin artifact (artifactType %s, one %s layer) nor a plugin image (one tar layer holding /plugin.wasm): it has config %s and %s",
				source, ArtifactTypePlugin, MediaTypeWasmLayer, m.Config.MediaType, layerTypes(m))
		}
		l := m.Layers[0]
		if _, ok := layerCompression(l.MediaType); !ok {
			return nil, fmt.Errorf("%s is neither a plugin artifact (artifactType %s) nor a plugin image: its layer has media type %q, want %s or %s",
				source, ArtifactTypePlugin, l.MediaType, mediaTypeOCILayerGzip, mediaTypeDockerLayerGzip)
		}
		blob, err := fetchBlob(ctx, repo, l, opts.maxModule(), "the image layer")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		wasm, err := extractModule(blob, l.MediaType, opts.maxModule())
		if err != nil {
			return nil, fmt.Errorf("%s: image layer %s: %w", source, l.Digest, err)
		}
		a.Bytes, a.Digest = wasm, Digest(wasm)
		a.Image = &Image{
			Chain: ImageChain{
				ManifestDigest:    desc.Digest.String(),
				ManifestMediaType: desc.MediaType,
				LayerDigest:       l.Digest.String(),
				LayerMediaType:    l.MediaType,
				Path:              pluginPath,
			},
			Manifest: raw,
			Layer:    blob,
		}
	}
	subject := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	bundles, searched, err := findBundles(ctx, repo, subject, opts.maxBundle())
	a.Searched = searched
	if err != nil {
		return nil, fmt.Errorf("%s: looking for its Sigstore bundle: %w", source, err)
	}
	if len(bundles) > 0 {
		a.Bundle, a.BundleSource = bundles[0].data, bundles[0].source
		for _, b := range bundles[1:] {
			a.Alternates = append(a.Alternates, b.data)
		}
	}
	return a, nil
}

// BundleTag returns the sibling tag under which Push also publishes the
// bundle of the manifest with the given digest:
// "sha256-<hex>.sigstore.json".
func BundleTag(manifestDigest string) string {
	return strings.Replace(manifestDigest, ":", "-", 1) + BundleTagSuffix
}

type foundBundle struct {
	data   []byte
	source string
}

// isBundleType reports whether t names a Sigstore bundle (any version).
func isBundleType(t string) bool {
	return strings.HasPrefix(t, "application/vnd.dev.sigstore.bundle")
}

// findBundles looks for Sigstore bundles attached to subject: first its
// referrers whose artifactType is a Sigstore bundle (the OCI referrers
// API, or the referrers tag schema "sha256-<hex>" on registries without
// it), newest first; then the sibling tag "sha256-<hex>.sigstore.json".
func findBundles(ctx context.Context, repo *remote.Repository, subject ocispec.Descriptor, max int64) ([]foundBundle, []string, error) {
	where := fmt.Sprintf("%s/%s", repo.Reference.Registry, repo.Reference.Repository)
	searched := []string{fmt.Sprintf("referrers of %s@%s with artifactType %s", where, subject.Digest, ArtifactTypeSigstoreBundle)}
	var descs []ocispec.Descriptor
	refErr := repo.Referrers(ctx, subject, "", func(refs []ocispec.Descriptor) error {
		for _, r := range refs {
			if isBundleType(r.ArtifactType) {
				descs = append(descs, r)
			}
		}
		return nil
	})
	var found []foundBundle
	var errs []error
	if refErr != nil && !errors.Is(refErr, errdef.ErrNotFound) {
		errs = append(errs, fmt.Errorf("listing referrers: %w", refErr))
	}
	slices.SortStableFunc(descs, func(a, b ocispec.Descriptor) int {
		// Newest first, by the creation time the pusher recorded (RFC 3339
		// in UTC sorts as text), then by digest for a stable order.
		if c := strings.Compare(b.Annotations[ocispec.AnnotationCreated], a.Annotations[ocispec.AnnotationCreated]); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
	if len(descs) > maxBundleCandidates {
		descs = descs[:maxBundleCandidates]
	}
	for _, d := range descs {
		b, err := bundleFromManifest(ctx, repo, d, max)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = append(found, foundBundle{b, fmt.Sprintf("%s@%s (referrer of %s)", where, d.Digest, subject.Digest)})
	}
	if len(found) > 0 {
		return found, searched, nil
	}
	tag := BundleTag(subject.Digest.String())
	searched = append(searched, fmt.Sprintf("tag %s:%s", where, tag))
	d, err := repo.Resolve(ctx, tag)
	switch {
	case errors.Is(err, errdef.ErrNotFound):
	case err != nil:
		errs = append(errs, fmt.Errorf("resolving tag %s: %w", tag, err))
	default:
		b, err := bundleFromManifest(ctx, repo, d, max)
		if err != nil {
			errs = append(errs, err)
		} else {
			return []foundBundle{{b, fmt.Sprintf("%s:%s", where, tag)}}, searched, nil
		}
	}
	return nil, searched, errors.Join(errs...)
}

// bundleFromManifest returns the bundle a bundle manifest carries: its
// layer whose media type is a Sigstore bundle.
func bundleFromManifest(ctx context.Context, repo *remote.Repository, d ocispec.Descriptor, max int64) ([]byte, error) {
	if d.MediaType != mediaTypeOCIManifest {
		return nil, fmt.Errorf("bundle manifest %s has media type %q, want %s", d.Digest, d.MediaType, mediaTypeOCIManifest)
	}
	raw, err := fetchBlob(ctx, repo.Manifests(), d, MaxImageManifestSize, "the bundle manifest")
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("bundle manifest %s: %w", d.Digest, err)
	}
	var layer *ocispec.Descriptor
	for i, l := range m.Layers {
		if isBundleType(l.MediaType) {
			if layer != nil {
				return nil, fmt.Errorf("bundle manifest %s has more than one bundle layer", d.Digest)
			}
			layer = &m.Layers[i]
		}
	}
	if layer == nil {
		return nil, fmt.Errorf("bundle manifest %s has %s; want one layer of type %s", d.Digest, layerTypes(m), ArtifactTypeSigstoreBundle)
	}
	b, err := fetchBlob(ctx, repo.Blobs(), *layer, max, "the bundle")
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("bundle %s (in manifest %s) is not JSON", layer.Digest, d.Digest)
	}
	return b, nil
}

// Push publishes a signed plugin to an OCI registry as a Warden plugin
// artifact and returns the digest of its manifest. ref is
// "oci://host/repository:tag" (":latest" when no tag is given). It pushes
//
//   - the module as a layer of type MediaTypeWasmLayer (titled
//     "plugin.wasm"),
//   - an image manifest (image-spec 1.1) with artifactType
//     ArtifactTypePlugin and the empty config, tagged with ref's tag,
//   - the bundle in a manifest with artifactType ArtifactTypeSigstoreBundle
//     whose subject is the plugin manifest: a referrer, listed by the
//     registry's referrers API or, on registries without it, in the
//     referrers index tagged "sha256-<hex>" (the referrers tag schema), and
//     also tagged BundleTag(digest) ("sha256-<hex>.sigstore.json").
//
// bundle is the Sigstore bundle over wasm's bytes, as `warden plugin sign`
// writes it. Push checks sizes and formats, not the signature. opts may be
// nil; opts.Bundle is not used.
func Push(ctx context.Context, ref string, wasm, bundle []byte, opts *SourceOptions) (string, error) {
	if opts == nil {
		opts = &SourceOptions{}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	r, err := parseOCIRef(ref)
	if err != nil {
		return "", err
	}
	if _, err := r.Digest(); err == nil {
		return "", fmt.Errorf("OCI reference %q names a digest; push to a tag (oci://host/repository:tag)", ref)
	}
	tag := r.ReferenceOrDefault()
	if int64(len(wasm)) > opts.maxModule() {
		return "", fmt.Errorf("the module is %d bytes, more than the %d allowed: %w", len(wasm), opts.maxModule(), ErrTooLarge)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return "", errors.New("the module is not WebAssembly (no \\0asm header)")
	}
	if len(bundle) == 0 {
		return "", fmt.Errorf("no bundle: sign the module first (warden plugin sign), an unsigned plugin cannot be installed from a registry: %w", ErrUnsigned)
	}
	if int64(len(bundle)) > opts.maxBundle() {
		return "", fmt.Errorf("the bundle is %d bytes, more than the %d allowed: %w", len(bundle), opts.maxBundle(), ErrTooLarge)
	}
	if !json.Valid(bundle) {
		return "", errors.New("the bundle is not JSON; want a Sigstore bundle")
	}
	repo, err := opts.repository(r)
	if err != nil {
		return "", err
	}
	layer := content.NewDescriptorFromBytes(MediaTypeWasmLayer, wasm)
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: "plugin.wasm"}
	if err := pushBlob(ctx, repo, layer, wasm); err != nil {
		return "", fmt.Errorf("pushing the module to %s: %w", ref, err)
	}
	mdesc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactTypePlugin, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer},
	})
	if err != nil {
		return "", fmt.Errorf("pushing the plugin manifest to %s: %w", ref, err)
	}
	if err := repo.Tag(ctx, mdesc, tag); err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", mdesc.Digest, tag, err)
	}
	bdesc := content.NewDescriptorFromBytes(ArtifactTypeSigstoreBundle, bundle)
	if err := pushBlob(ctx, repo, bdesc, bundle); err != nil {
		return "", fmt.Errorf("pushing the bundle to %s: %w", ref, err)
	}
	subject := ocispec.Descriptor{MediaType: mdesc.MediaType, Digest: mdesc.Digest, Size: mdesc.Size}
	bm, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactTypeSigstoreBundle, oras.PackManifestOptions{
		Subject: &subject,
		Layers:  []ocispec.Descriptor{bdesc},
	})
	if err != nil {
		return "", fmt.Errorf("pushing the bundle manifest to %s: %w", ref, err)
	}
	if err := repo.Tag(ctx, bm, BundleTag(mdesc.Digest.String())); err != nil {
		return "", fmt.Errorf("tagging the bundle manifest as %s: %w", BundleTag(mdesc.Digest.String()), err)
	}
	return mdesc.Digest.String(), nil
}

func pushBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, data []byte) error {
	if ok, err := repo.Exists(ctx, desc); err == nil && ok {
		return nil
	}
	err := repo.Push(ctx, desc, bytes.NewReader(data))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}

// Credential is what an OCI registry is given to authenticate: a user
// name and password, or an OAuth2 refresh token (an identity token), or
// a bearer access token.
type Credential struct {
	Username, Password string
	RefreshToken       string
	AccessToken        string
}

// DockerCredentials returns a function for SourceOptions.Credentials that
// finds registry credentials where `docker login` and `oras login` keep
// them: the Docker configuration file ($DOCKER_CONFIG/config.json or
// ~/.docker/config.json) and the credential helpers it names. A registry
// with no stored credential is accessed anonymously.
func DockerCredentials() (func(ctx context.Context, host string) (Credential, error), error) {
	store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the Docker credential configuration: %w", err)
	}
	return func(ctx context.Context, host string) (Credential, error) {
		c, err := store.Get(ctx, host)
		if err != nil {
			return Credential{}, fmt.Errorf("credentials for %s: %w", host, err)
		}
		return Credential{Username: c.Username, Password: c.Password, RefreshToken: c.RefreshToken, AccessToken: c.AccessToken}, nil
	}, nil
}

// PushInstalled pushes the plugin installed as name, with the bundle that
// verified it at install, to ref (see Push): what `warden plugin push NAME
// oci://REF` does. The module is read from the store and its digest
// checked against the lockfile. It refuses a plugin installed without a
// signature, and one taken from a plugin image, whose signature covers the
// image manifest rather than the module (push the image itself instead).
func PushInstalled(ctx context.Context, name, ref string, lock *Lockfile, store *Store, opts *SourceOptions) (string, error) {
	e, ok := lock.Entry(name)
	if !ok {
		return "", fmt.Errorf("plugin %q is not in the lockfile: %w", name, ErrNotInstalled)
	}
	if e.InsecureSkipSignature {
		return "", fmt.Errorf("plugin %q was installed without a signature, so there is no bundle to push with it: %w", name, ErrUnsigned)
	}
	if e.ImageManifest != "" {
		return "", fmt.Errorf("plugin %q came from a plugin image whose signature covers image manifest %s, not the module; copy the image itself (with its signature) instead", name, e.ImageManifest)
	}
	st, err := store.Open(e.Digest)
	if err != nil {
		return "", fmt.Errorf("plugin %q: %w", name, err)
	}
	return Push(ctx, ref, st.Bytes, st.Bundle, opts)
}
