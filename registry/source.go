package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// DefaultTimeout bounds one Fetch or Push when SourceOptions.Timeout is
// zero.
const DefaultTimeout = 5 * time.Minute

// SourceOptions configure Fetch and Push. The zero value is ready to use.
type SourceOptions struct {
	// Bundle is where the Sigstore bundle is, when it is not next to the
	// artifact: a path or file:// URL for file sources, an https:// URL for
	// https sources. It is refused for oci:// sources, whose bundle is
	// found in the registry.
	Bundle string
	// HTTPClient makes https requests (and OCI registry requests). nil
	// means a client with sensible timeouts. Redirects are followed only
	// to https URLs (and to loopback http URLs when InsecureLoopbackHTTP
	// is set), at most 5 times.
	HTTPClient *http.Client
	// Timeout bounds the whole operation; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxModuleSize and MaxBundleSize override the caps MaxModuleSize and
	// MaxBundleSize (they can only lower them).
	MaxModuleSize, MaxBundleSize int64
	// InsecureLoopbackHTTP permits plain http:// sources and plain-HTTP
	// OCI registries, but only on loopback addresses (127.0.0.0/8, ::1,
	// localhost). It exists for tests and local development registries;
	// everything else must be https.
	InsecureLoopbackHTTP bool
	// Credentials returns the credential for an OCI registry host
	// ("ghcr.io", "localhost:5000"); nil means anonymous access.
	// DockerCredentials reads them from the Docker configuration.
	Credentials func(ctx context.Context, host string) (Credential, error)
}

func (o *SourceOptions) maxModule() int64 {
	if o.MaxModuleSize > 0 && o.MaxModuleSize < MaxModuleSize {
		return o.MaxModuleSize
	}
	return MaxModuleSize
}

func (o *SourceOptions) maxBundle() int64 {
	if o.MaxBundleSize > 0 && o.MaxBundleSize < MaxBundleSize {
		return o.MaxBundleSize
	}
	return MaxBundleSize
}

func (o *SourceOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Artifact is a plugin as fetched from a source, not yet verified.
type Artifact struct {
	// Source is the source it was fetched from.
	Source string
	// Bytes is the Wasm module.
	Bytes []byte
	// Digest is "sha256:<hex>" of Bytes.
	Digest string
	// Bundle is the Sigstore bundle found for it, nil when none was found.
	Bundle []byte
	// BundleSource says where Bundle came from.
	BundleSource string
	// Alternates are further bundles found (an OCI artifact may have
	// several bundle referrers); Install tries them after Bundle.
	Alternates [][]byte
	// Searched lists the places a bundle was looked for, for messages.
	Searched []string
	// Image is set for a plugin image: the signature covers
	// Image.Manifest and Image.Chain leads from it to Bytes.
	Image *Image
	// OCIManifest is the digest of the OCI manifest the artifact was
	// pulled from, for oci:// sources.
	OCIManifest string
}

// Signed returns the bytes the signature must cover: the module, or for a
// plugin image the image manifest.
func (a *Artifact) Signed() []byte {
	if a.Image != nil {
		return a.Image.Manifest
	}
	return a.Bytes
}

// Fetch fetches a plugin and its Sigstore bundle from source, which is
// one of
//
//   - a file path or file:// URL: the module, and its bundle at the same
//     path plus ".sigstore.json" (or opts.Bundle);
//   - an https:// URL: likewise, the bundle at the URL plus
//     ".sigstore.json" (or opts.Bundle);
//   - oci://host/repository:tag or oci://host/repository@sha256:<hex>: a
//     Warden plugin artifact or a plugin image (see README.md, "OCI
//     layouts"), with the bundle found as a referrer or under a sibling
//     tag.
//
// Downloads are capped (MaxModuleSize, MaxBundleSize) and bounded in time.
// Fetch verifies nothing but digests: a missing bundle leaves
// Artifact.Bundle nil, and Install refuses it. opts may be nil.
func Fetch(ctx context.Context, source string, opts *SourceOptions) (*Artifact, error) {
	if opts == nil {
		opts = &SourceOptions{}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	switch {
	case strings.HasPrefix(source, "oci://"):
		if opts.Bundle != "" {
			return nil, fmt.Errorf("an explicit bundle location is not used for oci:// sources: the bundle is found in the registry (as a referrer of the artifact)")
		}
		return fetchOCI(ctx, source, opts)
	case strings.HasPrefix(source, "https://"), strings.HasPrefix(source, "http://"):
		return fetchHTTPS(ctx, source, opts)
	case strings.HasPrefix(source, "file://"):
		p, err := filePath(source)
		if err != nil {
			return nil, err
		}
		return fetchFile(source, p, opts)
	case strings.Contains(source, "://"):
		return nil, fmt.Errorf("source %q: want a file path, file://, https:// or oci:// source", source)
	default:
		return fetchFile(source, source, opts)
	}
}

// filePath returns the path of a file:// URL.
func filePath(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("source %q: %w", u, err)
	}
	if pu.Host != "" && pu.Host != "localhost" {
		return "", fmt.Errorf("source %q: a file:// URL names a local file; want file:///path, found host %q", u, pu.Host)
	}
	if pu.RawQuery != "" || pu.Fragment != "" {
		return "", fmt.Errorf("source %q: a file:// URL has no query or fragment", u)
	}
	if pu.Path == "" {
		return "", fmt.Errorf("source %q: no path", u)
	}
	return filepath.FromSlash(pu.Path), nil
}

func fetchFile(source, path string, opts *SourceOptions) (*Artifact, error) {
	wasm, err := readCapped(path, opts.maxModule())
	if err != nil {
		return nil, fmt.Errorf("reading plugin %s: %w", source, err)
	}
	a := &Artifact{Source: source, Bytes: wasm, Digest: Digest(wasm)}
	bpath := path + BundleFileSuffix
	if opts.Bundle != "" {
		bpath = opts.Bundle
		if strings.HasPrefix(bpath, "file://") {
			if bpath, err = filePath(bpath); err != nil {
				return nil, err
			}
		} else if strings.Contains(bpath, "://") {
			return nil, fmt.Errorf("bundle %q: a file source's bundle is a file path or file:// URL", opts.Bundle)
		}
	}
	a.Searched = []string{bpath}
	b, err := readCapped(bpath, opts.maxBundle())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if opts.Bundle != "" {
			return nil, fmt.Errorf("reading the bundle %s: %w", bpath, err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading the bundle %s: %w", bpath, err)
	default:
		a.Bundle, a.BundleSource = b, bpath
	}
	return a, nil
}

// isLoopbackHost reports whether host (without port) is a loopback name
// or address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkURL refuses URLs Warden must not fetch from.
func (o *SourceOptions) checkURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if o.InsecureLoopbackHTTP && isLoopbackHost(u.Hostname()) {
			return nil
		}
		if o.InsecureLoopbackHTTP {
			return fmt.Errorf("refusing plain http to %s: InsecureLoopbackHTTP permits only loopback addresses; want https", u.Host)
		}
		return fmt.Errorf("refusing plain http URL %s: want https (plain http is allowed only to loopback addresses, with the insecure loopback option)", u.Redacted())
	}
	return fmt.Errorf("refusing URL %s: want https", u.Redacted())
}

func (o *SourceOptions) httpClient() *http.Client {
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}}
	}
	c := *base
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return fmt.Errorf("stopped after 5 redirects")
		}
		if err := o.checkURL(req.URL); err != nil {
			return fmt.Errorf("redirect from %s: %w", via[len(via)-1].URL.Redacted(), err)
		}
		return nil
	}
	return &c
}

// errHTTPNotFound marks a 404 answer.
var errHTTPNotFound = errors.New("not found (HTTP 404)")

// getCapped GETs rawURL and returns its body, refusing more than max
// bytes.
func (o *SourceOptions) getCapped(ctx context.Context, client *http.Client, rawURL string, max int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if err := o.checkURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), errHTTPNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: want HTTP 200, found %s", u.Redacted(), resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("GET %s: the response is %d bytes, more than the %d allowed: %w", u.Redacted(), resp.ContentLength, max, ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("GET %s: the response is more than the %d bytes allowed: %w", u.Redacted(), max, ErrTooLarge)
	}
	return b, nil
}

func fetchHTTPS(ctx context.Context, source string, opts *SourceOptions) (*Artifact, error) {
	u, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", source, err)
	}
	if err := opts.checkURL(u); err != nil {
		return nil, fmt.Errorf("source %s: %w", u.Redacted(), err)
	}
	client := opts.httpClient()
	wasm, err := opts.getCapped(ctx, client, source, opts.maxModule())
	if err != nil {
		return nil, fmt.Errorf("fetching plugin: %w", err)
	}
	a := &Artifact{Source: source, Bytes: wasm, Digest: Digest(wasm)}
	bundleURL := opts.Bundle
	explicit := bundleURL != ""
	if !explicit {
		// The bundle sits next to the artifact: same URL, path plus suffix.
		bu := *u
		bu.Path += BundleFileSuffix
		bu.RawPath = ""
		bundleURL = bu.String()
	}
	a.Searched = []string{bundleURL}
	b, err := opts.getCapped(ctx, client, bundleURL, opts.maxBundle())
	switch {
	case errors.Is(err, errHTTPNotFound) && !explicit:
	case err != nil:
		return nil, fmt.Errorf("fetching the bundle: %w", err)
	default:
		a.Bundle, a.BundleSource = b, bundleURL
	}
	return a, nil
}
