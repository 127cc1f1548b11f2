package signing

// This file is the only network path of the package: fetching the Sigstore
// public-good trusted root through TUF. It cannot run in the offline tests;
// everything around it (snapshot preference, fallback, errors) is tested
// with a stub fetcher.

import (
	"context"
	"net/http"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// trustedRootTarget is the TUF target holding the trusted root.
const trustedRootTarget = "trusted_root.json"

// tufHTTPTimeout bounds each TUF download (go-tuf's default client has no
// timeout).
const tufHTTPTimeout = 30 * time.Second

// fetchPublicGoodRoot returns the public-good trusted_root.json, verified
// through sigstore-go's TUF client (whose trust anchor, the TUF root.json,
// is embedded in sigstore-go). cacheDir overrides the TUF cache directory.
// The TUF client takes no context; when ctx ends first, the fetch is left
// to finish in the background and ctx's error is returned.
func fetchPublicGoodRoot(ctx context.Context, cacheDir string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		opts := tuf.DefaultOptions()
		if cacheDir != "" {
			opts.CachePath = cacheDir
		}
		f := fetcher.NewDefaultFetcher()
		f.SetHTTPUserAgent("warden (sigstore-go TUF client)")
		f.SetHTTPClient(&http.Client{Timeout: tufHTTPTimeout})
		opts.Fetcher = f
		c, err := tuf.New(opts)
		if err != nil {
			ch <- result{err: err}
			return
		}
		data, err := c.GetTarget(trustedRootTarget)
		ch <- result{data, err}
	}()
	select {
	case r := <-ch:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
