package registry

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFetchFile(t *testing.T) {
	e := newEnv(t)
	wasm := module(t, "hello", "1.0.0", "")
	p := e.write(t, "hello.wasm", wasm, "alice@example.com")
	ctx := context.Background()
	for _, src := range []string{p, "file://" + p, "file://localhost" + p} {
		a, err := Fetch(ctx, src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if !bytes.Equal(a.Bytes, wasm) || a.Digest != Digest(wasm) || a.BundleSource != p+".sigstore.json" || a.Source != src {
			t.Errorf("%s: %+v", src, a)
		}
	}
	// An explicit bundle path.
	other := filepath.Join(e.dir, "elsewhere.json")
	os.WriteFile(other, fakeBundle(wasm, "alice@example.com"), 0o644)
	a, err := Fetch(ctx, p, &SourceOptions{Bundle: other})
	if err != nil || a.BundleSource != other {
		t.Fatalf("explicit bundle: %+v %v", a, err)
	}
	if _, err := Fetch(ctx, p, &SourceOptions{Bundle: other + ".missing"}); err == nil {
		t.Error("a missing explicit bundle is not an error")
	}
	// No bundle next to it: not a fetch error.
	os.Remove(p + ".sigstore.json")
	if a, err := Fetch(ctx, p, nil); err != nil || a.Bundle != nil || a.Searched[0] != p+".sigstore.json" {
		t.Fatalf("no bundle: %+v %v", a, err)
	}
	// Caps.
	if _, err := Fetch(ctx, p, &SourceOptions{MaxModuleSize: 4}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("module cap: %v", err)
	}
	os.WriteFile(p+".sigstore.json", bytes.Repeat([]byte(" "), 100), 0o644)
	if _, err := Fetch(ctx, p, &SourceOptions{MaxBundleSize: 10}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bundle cap: %v", err)
	}
	if _, err := Fetch(ctx, e.dir, nil); err == nil || !strings.Contains(err.Error(), "regular file") {
		t.Errorf("directory: %v", err)
	}
	for _, bad := range []string{"file://remote.example.com/x.wasm", "file:///x.wasm?q=1", "gopher://x/y"} {
		if _, err := Fetch(ctx, bad, nil); err == nil {
			t.Errorf("Fetch(%s) succeeded", bad)
		}
	}
}

func TestFetchHTTPS(t *testing.T) {
	wasm := module(t, "hello", "1.0.0", "")
	bundle := fakeBundle(wasm, "alice@example.com")
	mux := http.NewServeMux()
	mux.HandleFunc("/p/hello.wasm", func(w http.ResponseWriter, r *http.Request) { w.Write(wasm) })
	mux.HandleFunc("/p/hello.wasm.sigstore.json", func(w http.ResponseWriter, r *http.Request) { w.Write(bundle) })
	mux.HandleFunc("/b/bundle.json", func(w http.ResponseWriter, r *http.Request) { w.Write(bundle) })
	mux.HandleFunc("/nobundle.wasm", func(w http.ResponseWriter, r *http.Request) { w.Write(wasm) })
	mux.HandleFunc("/big.wasm", func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the cap applies while reading.
		w.(http.Flusher).Flush()
		for range 100 {
			w.Write(make([]byte, 1024))
		}
	})
	mux.HandleFunc("/redirect.wasm", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/x.wasm", http.StatusFound)
	})
	mux.HandleFunc("/slow.wasm", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/error.wasm", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	ctx := context.Background()
	opts := &SourceOptions{HTTPClient: srv.Client()}

	a, err := Fetch(ctx, srv.URL+"/p/hello.wasm", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes, wasm) || !bytes.Equal(a.Bundle, bundle) || a.BundleSource != srv.URL+"/p/hello.wasm.sigstore.json" {
		t.Fatalf("%+v", a)
	}
	o2 := *opts
	o2.Bundle = srv.URL + "/b/bundle.json"
	if a, err := Fetch(ctx, srv.URL+"/nobundle.wasm", &o2); err != nil || !bytes.Equal(a.Bundle, bundle) {
		t.Fatalf("explicit bundle URL: %v", err)
	}
	if a, err := Fetch(ctx, srv.URL+"/nobundle.wasm", opts); err != nil || a.Bundle != nil {
		t.Fatalf("no bundle: %v", err)
	}
	o3 := *opts
	o3.MaxModuleSize = 50 << 10
	if _, err := Fetch(ctx, srv.URL+"/big.wasm", &o3); !errors.Is(err, ErrTooLarge) {
		t.Errorf("cap: %v", err)
	}
	if _, err := Fetch(ctx, srv.URL+"/redirect.wasm", opts); err == nil || !strings.Contains(err.Error(), "want https") {
		t.Errorf("redirect to http: %v", err)
	}
	o4 := *opts
	o4.Timeout = 200 * time.Millisecond
	start := time.Now()
	if _, err := Fetch(ctx, srv.URL+"/slow.wasm", &o4); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("timeout: %v after %v", err, time.Since(start))
	}
	if _, err := Fetch(ctx, srv.URL+"/error.wasm", opts); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("403: %v", err)
	}

	// Install end to end over https.
	e := newEnv(t)
	io := e.opts()
	io.Source = *opts
	if _, err := Install(ctx, "hello", srv.URL+"/p/hello.wasm", io); err != nil {
		t.Fatal(err)
	}
}

func TestFetchPlainHTTP(t *testing.T) {
	wasm := module(t, "hello", "1.0.0", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(wasm) }))
	defer srv.Close()
	ctx := context.Background()
	if _, err := Fetch(ctx, srv.URL+"/x.wasm", nil); err == nil || !strings.Contains(err.Error(), "want https") {
		t.Fatalf("plain http accepted: %v", err)
	}
	a, err := Fetch(ctx, srv.URL+"/x.wasm", &SourceOptions{InsecureLoopbackHTTP: true})
	if err != nil || !bytes.Equal(a.Bytes, wasm) {
		t.Fatalf("loopback http with the insecure option: %v", err)
	}
	// The insecure option never reaches beyond loopback.
	if _, err := Fetch(ctx, "http://example.com/x.wasm", &SourceOptions{InsecureLoopbackHTTP: true}); err == nil || !strings.Contains(err.Error(), "only loopback") {
		t.Fatalf("non-loopback http: %v", err)
	}
}
