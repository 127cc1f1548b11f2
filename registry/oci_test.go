package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/wardenmcp/warden/internal/testutil"
)

var loopback = &SourceOptions{InsecureLoopbackHTTP: true}

func TestOCIPushAndInstall(t *testing.T) {
	addr := testutil.StartRegistry(t)
	ctx := context.Background()
	e := newEnv(t)
	wasm := module(t, "hello", "1.0.0", "")
	ref := "oci://" + addr + "/plugins/hello:1.0.0"
	digest, err := Push(ctx, ref, wasm, fakeBundle(wasm, "alice@example.com"), loopback)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidDigest(digest) {
		t.Fatalf("Push returned %q", digest)
	}

	// The manifest is the documented layout.
	repo := mustRepo(t, addr+"/plugins/hello")
	_, rc, err := repo.FetchReference(ctx, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	json.NewDecoder(rc).Decode(&m)
	rc.Close()
	if m.ArtifactType != ArtifactTypePlugin || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeWasmLayer || m.Config.MediaType != ocispec.MediaTypeEmptyJSON {
		t.Errorf("manifest = %+v", m)
	}

	// docker-registry 2.8 has no referrers API: oras-go fell back to the
	// referrers tag schema, an index tagged sha256-<hex>.
	resp, err := http.Get("http://" + addr + "/v2/plugins/hello/referrers/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("GET /v2/<name>/referrers/<digest>: %s", resp.Status)
	if resp.StatusCode == http.StatusOK {
		t.Log("this registry serves the referrers API")
	} else if _, err := repo.Resolve(ctx, strings.Replace(digest, ":", "-", 1)); err != nil {
		t.Errorf("no referrers API and no referrers tag schema index: %v", err)
	}
	if _, err := repo.Resolve(ctx, BundleTag(digest)); err != nil {
		t.Errorf("sibling tag %s: %v", BundleTag(digest), err)
	}

	art, err := Fetch(ctx, ref, loopback)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(art.Bytes, wasm) || art.Bundle == nil || art.OCIManifest != digest || art.Image != nil {
		t.Fatalf("Fetch = %+v", art)
	}
	if !strings.Contains(art.BundleSource, "referrer of") {
		t.Errorf("bundle came from %s, want the referrer", art.BundleSource)
	}

	o := e.opts()
	o.Source = *loopback
	res, err := Install(ctx, "hello", ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.Digest != Digest(wasm) || res.Entry.Source != ref {
		t.Errorf("entry = %+v", res.Entry)
	}
	if _, _, err := LoadVerified(ctx, "hello", e.lockfile(t), e.v, e.store); err != nil {
		t.Fatal(err)
	}

	// By digest too.
	if art, err := Fetch(ctx, "oci://"+addr+"/plugins/hello@"+digest, loopback); err != nil || !bytes.Equal(art.Bytes, wasm) {
		t.Fatalf("fetch by digest: %v", err)
	}

	// Pushing again (a re-signed module) adds a second referrer; the
	// newest is tried first and either verifies.
	if _, err := Push(ctx, ref, wasm, fakeBundle(wasm, "alice@example.com"), loopback); err != nil {
		t.Fatal(err)
	}
}

func TestOCISiblingTagFallback(t *testing.T) {
	addr := testutil.StartRegistry(t)
	ctx := context.Background()
	wasm := module(t, "hello", "1.0.0", "")
	ref := "oci://" + addr + "/plugins/sib:v1"
	digest, err := Push(ctx, ref, wasm, fakeBundle(wasm, "alice@example.com"), loopback)
	if err != nil {
		t.Fatal(err)
	}
	// Remove the referrers index, leaving only the sibling tag.
	repo := mustRepo(t, addr+"/plugins/sib")
	idx, err := repo.Resolve(ctx, strings.Replace(digest, ":", "-", 1))
	if err != nil {
		t.Skipf("registry serves the referrers API; no tag schema index to delete: %v", err)
	}
	if err := repo.Delete(ctx, idx); err != nil {
		t.Fatal(err)
	}
	art, err := Fetch(ctx, ref, loopback)
	if err != nil {
		t.Fatal(err)
	}
	if art.Bundle == nil || !strings.HasSuffix(art.BundleSource, BundleTag(digest)) {
		t.Fatalf("bundle from %q", art.BundleSource)
	}
	if len(art.Searched) != 2 {
		t.Errorf("searched %v", art.Searched)
	}
}

func TestOCIUnsigned(t *testing.T) {
	addr := testutil.StartRegistry(t)
	ctx := context.Background()
	e := newEnv(t)
	wasm := module(t, "hello", "1.0.0", "")
	// An artifact pushed without a bundle (by hand, as a careless
	// publisher would).
	repo := mustRepo(t, addr+"/plugins/unsigned")
	layer := content.NewDescriptorFromBytes(MediaTypeWasmLayer, wasm)
	if err := repo.Push(ctx, layer, bytes.NewReader(wasm)); err != nil {
		t.Fatal(err)
	}
	md, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactTypePlugin, oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(ctx, md, "v1"); err != nil {
		t.Fatal(err)
	}
	o := e.opts()
	o.Source = *loopback
	_, err = Install(ctx, "hello", "oci://"+addr+"/plugins/unsigned:v1", o)
	if !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "referrers of") || !strings.Contains(err.Error(), BundleTag(md.Digest.String())) {
		t.Fatalf("err = %v", err)
	}
	assertNothingInstalled(t, e)
}

// buildPluginImage pushes a hyper-mcp style image: a FROM scratch image
// whose single gzip tar layer holds /plugin.wasm, with a Docker or OCI
// manifest. It returns the manifest descriptor.
func buildPluginImage(t *testing.T, repo content.Pusher, wasm []byte, docker bool) (ocispec.Descriptor, []byte) {
	t.Helper()
	ctx := context.Background()
	var tb bytes.Buffer
	zw := gzip.NewWriter(&tb)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "plugin.wasm", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(wasm))})
	tw.Write(wasm)
	tw.Close()
	zw.Close()
	layerBytes := tb.Bytes()
	layerType, configType, manifestType := mediaTypeOCILayerGzip, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if docker {
		layerType, configType, manifestType = mediaTypeDockerLayerGzip, "application/vnd.docker.container.image.v1+json", mediaTypeDockerManifest
	}
	layer := content.NewDescriptorFromBytes(layerType, layerBytes)
	config := []byte(`{"architecture":"wasm","os":"wasip1","rootfs":{"type":"layers","diff_ids":[]},"config":{"Entrypoint":["/plugin.wasm"]}}`)
	cdesc := content.NewDescriptorFromBytes(configType, config)
	for _, b := range []struct {
		d ocispec.Descriptor
		b []byte
	}{{layer, layerBytes}, {cdesc, config}} {
		if err := repo.Push(ctx, b.d, bytes.NewReader(b.b)); err != nil {
			t.Fatal(err)
		}
	}
	m := map[string]any{"schemaVersion": 2, "mediaType": manifestType, "config": cdesc, "layers": []ocispec.Descriptor{layer}}
	mb, _ := json.Marshal(m)
	mdesc := content.NewDescriptorFromBytes(manifestType, mb)
	if err := repo.Push(ctx, mdesc, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	return mdesc, mb
}

// attachBundle attaches bundle to subject as a Sigstore bundle referrer,
// as cosign sign --new-bundle-format does.
func attachBundle(t *testing.T, repo oras.Target, subject ocispec.Descriptor, bundle []byte) {
	t.Helper()
	ctx := context.Background()
	bd := content.NewDescriptorFromBytes(ArtifactTypeSigstoreBundle, bundle)
	if err := repo.Push(ctx, bd, bytes.NewReader(bundle)); err != nil {
		t.Fatal(err)
	}
	s := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	if _, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactTypeSigstoreBundle, oras.PackManifestOptions{Subject: &s, Layers: []ocispec.Descriptor{bd}}); err != nil {
		t.Fatal(err)
	}
}

func TestOCIPluginImage(t *testing.T) {
	addr := testutil.StartRegistry(t)
	ctx := context.Background()
	for _, docker := range []bool{false, true} {
		name := "oci"
		if docker {
			name = "docker"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			wasm := module(t, "", "", "hyper-mcp plugin "+name)
			repo := mustRepo(t, addr+"/hyper-mcp/"+name)
			mdesc, mb := buildPluginImage(t, repo, wasm, docker)
			if err := repo.Tag(ctx, mdesc, "latest"); err != nil {
				t.Fatal(err)
			}
			ref := "oci://" + addr + "/hyper-mcp/" + name + ":latest"
			o := e.opts()
			o.Source = *loopback

			// Unsigned image: refused.
			if _, err := Install(ctx, "time", ref, o); !errors.Is(err, ErrUnsigned) {
				t.Fatalf("unsigned image: %v", err)
			}
			// A bundle over the module (not the manifest) does not count:
			// the image signature covers the manifest.
			attachBundle(t, repo, mdesc, fakeBundle(wasm, "alice@example.com"))
			if _, err := Install(ctx, "time", ref, o); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "image manifest "+mdesc.Digest.String()) {
				t.Fatalf("bundle over the wrong bytes: %v", err)
			}
			attachBundle(t, repo, mdesc, fakeBundle(mb, "alice@example.com"))
			res, err := Install(ctx, "time", ref, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Entry.ImageManifest != mdesc.Digest.String() || res.Entry.Digest != Digest(wasm) || res.Evidence.Digest != mdesc.Digest.String() {
				t.Fatalf("entry = %+v, evidence %+v", res.Entry, res.Evidence)
			}
			l := e.lockfile(t)
			got, _, err := LoadVerified(ctx, "time", l, e.v, e.store)
			if err != nil || !bytes.Equal(got, wasm) {
				t.Fatalf("LoadVerified: %v", err)
			}
			// Tamper with the stored layer: the chain no longer holds.
			hex := strings.TrimPrefix(Digest(wasm), "sha256:")
			lp := filepath.Join(e.store.Dir(), "sha256", hex+".image-layer")
			orig, _ := os.ReadFile(lp)
			bad := append([]byte(nil), orig...)
			bad[len(bad)/2] ^= 0xff
			os.WriteFile(lp, bad, 0o600)
			if _, _, err := LoadVerified(ctx, "time", l, e.v, e.store); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "image layer has digest") {
				t.Fatalf("tampered layer: %v", err)
			}
			os.WriteFile(lp, orig, 0o600)
			// Tamper with the stored manifest.
			mp := filepath.Join(e.store.Dir(), "sha256", hex+".image-manifest.json")
			os.WriteFile(mp, append(mb, ' '), 0o600)
			if _, _, err := LoadVerified(ctx, "time", l, e.v, e.store); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "image manifest has digest") {
				t.Fatalf("tampered manifest: %v", err)
			}
		})
	}
}

func TestOCIIndexRefused(t *testing.T) {
	addr := testutil.StartRegistry(t)
	ctx := context.Background()
	repo := mustRepo(t, addr+"/multi/arch")
	mdesc, _ := buildPluginImage(t, repo, module(t, "", "", "x"), false)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{mdesc}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	idesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, ib)
	if err := repo.PushReference(ctx, idesc, bytes.NewReader(ib), "latest"); err != nil {
		t.Fatal(err)
	}
	_, err := Fetch(ctx, "oci://"+addr+"/multi/arch:latest", loopback)
	if err == nil || !strings.Contains(err.Error(), "image index") {
		t.Fatalf("err = %v", err)
	}
}

func TestOCIPlainHTTPOnlyLoopback(t *testing.T) {
	o := &SourceOptions{InsecureLoopbackHTTP: true}
	r, _ := parseOCIRef("oci://registry.example.com/x:1")
	repo, _ := o.repository(r)
	if repo.PlainHTTP {
		t.Error("plain HTTP to a non-loopback registry")
	}
	r, _ = parseOCIRef("oci://127.0.0.1:5000/x:1")
	if repo, _ = (&SourceOptions{}).repository(r); repo.PlainHTTP {
		t.Error("plain HTTP without the insecure option")
	}
}

func TestPushRefuses(t *testing.T) {
	ctx := context.Background()
	wasm := module(t, "hello", "1.0.0", "")
	for _, c := range []struct {
		ref          string
		wasm, bundle []byte
		want         string
	}{
		{"oci://127.0.0.1:1/x@sha256:" + strings.Repeat("0", 64), wasm, []byte("{}"), "names a digest"},
		{"oci://127.0.0.1:1/x:1", []byte("nope"), []byte("{}"), "not WebAssembly"},
		{"oci://127.0.0.1:1/x:1", wasm, nil, "no bundle"},
		{"oci://127.0.0.1:1/x:1", wasm, []byte("{"), "not JSON"},
		{"https://127.0.0.1:1/x:1", wasm, []byte("{}"), "want oci://"},
	} {
		if _, err := Push(ctx, c.ref, c.wasm, c.bundle, loopback); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Push(%s) = %v, want %q", c.ref, err, c.want)
		}
	}
}

func mustRepo(t *testing.T, ref string) *remoteRepository {
	t.Helper()
	r, err := parseOCIRef("oci://" + ref)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := loopback.repository(r)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

type remoteRepository = remote.Repository

func TestPushInstalled(t *testing.T) {
	addr := testutil.StartRegistry(t)
	ctx := context.Background()
	e := newEnv(t)
	wasm := module(t, "hello", "1.0.0", "")
	if _, err := Install(ctx, "hello", e.write(t, "h.wasm", wasm, "alice@example.com"), e.opts()); err != nil {
		t.Fatal(err)
	}
	ref := "oci://" + addr + "/plugins/pushed:1.0.0"
	if _, err := PushInstalled(ctx, "hello", ref, e.lockfile(t), e.store, loopback); err != nil {
		t.Fatal(err)
	}
	// Installing from the registry gives the same pin.
	e2 := newEnv(t)
	o := e2.opts()
	o.Source = *loopback
	res, err := Install(ctx, "hello", ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.Digest != Digest(wasm) {
		t.Errorf("digest %s", res.Entry.Digest)
	}
	if _, err := PushInstalled(ctx, "nope", ref, e.lockfile(t), e.store, loopback); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("err = %v", err)
	}
}
