package plugins

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenmcp/warden/internal/wasmbin"
)

// TestReuseProblem checks the load-time verdict on recycling: code that
// may change a table or use passive segments, and imports whose effects no
// check covers, rule it out.
func TestReuseProblem(t *testing.T) {
	sec := func(id byte, payload ...byte) []byte { return append([]byte{id, byte(len(payload))}, payload...) }
	module := func(body ...byte) []byte {
		m := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
		m = append(m, sec(1, 1, 0x60, 0, 0)...)    // type 0: () -> ()
		m = append(m, sec(3, 1, 0)...)             // one function of type 0
		m = append(m, sec(4, 1, 0x70, 0x00, 1)...) // a funcref table of 1
		m = append(m, sec(12, 1)...)               // one data segment (for data.drop)
		full := append([]byte{byte(len(body) + 1), 0}, body...)
		m = append(m, sec(10, append([]byte{1}, full...)...)...)
		return append(m, sec(11, 1, 1, 0)...) // a passive segment
	}
	for _, tc := range []struct {
		name    string
		wasm    []byte
		imports []string
		probe   string
		want    string // in the problem; "" for none
	}{
		{"plain", module(0x0b), []string{"extism:host/env.alloc", "wasi_snapshot_preview1.fd_write"}, "", ""},
		{"table.set", module(0x41, 0, 0xd0, 0x70, 0x26, 0, 0x0b), nil, "", "may change a table"},
		{"table.grow", module(0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a, 0x0b), nil, "", "may change a table"},
		{"data.drop", module(0xfc, 9, 0, 0x0b), nil, "", "passive data segments"},
		{"unknown opcode", module(0xff, 0x0b), nil, "", "could not be checked"},
		{"fd_close without probe", module(0x0b), []string{"wasi_snapshot_preview1.fd_close"}, "", "wasi_snapshot_preview1.fd_close"},
		{"fd_close with probe", module(0x0b), []string{"wasi_snapshot_preview1.fd_close"}, "warden.snapshot.fdstat", ""},
		{"another host module", module(0x0b), []string{"env.abort"}, "warden.snapshot.fdstat", "env.abort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plugin{imports: tc.imports, snap: &snapshotter{prep: &wasmbin.Prepared{Module: tc.wasm, FDProbe: tc.probe}}}
			got := p.reuseProblem()
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("reuseProblem() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRecyclingBounded checks that a burst beyond the plugin's concurrency
// leaves no more instances alive, and no more memory arrays kept, than the
// concurrency and prewarm allow.
func TestRecyclingBounded(t *testing.T) {
	const perPlugin, prewarm = 2, 1
	p := loadInternal(t, "./plugins/testdata/counter", WithConcurrency(8, perPlugin, 64), WithPrewarm(prewarm))
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Call(context.Background(), "count", nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.pool.mu.Lock()
		live, recycling := 0, 0
		for _, n := range p.pool.live {
			live += n
		}
		for _, n := range p.pool.recycling {
			recycling += n
		}
		p.pool.mu.Unlock()
		img := p.snap.get("")
		img.freeMu.Lock()
		arrays := len(img.free) + img.inUse
		img.freeMu.Unlock()
		if recycling == 0 {
			if live > perPlugin+prewarm {
				t.Errorf("%d instances alive after the burst; want at most %d", live, perPlugin+prewarm)
			}
			if arrays > perPlugin+prewarm {
				t.Errorf("%d memory arrays in use or kept; want at most %d", arrays, perPlugin+prewarm)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d instances still being reset after 5 s", recycling)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
