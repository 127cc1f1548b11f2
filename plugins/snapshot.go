package plugins

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/wasmbin"
)

// globalPrefix names the exports the host adds to a module: its mutable
// globals, so that their values can be read after the initialiser and set
// in a new instance, and the descriptor probe (wasmbin.Prepared.FDProbe).
const globalPrefix = "warden.snapshot.global."

// prepareExport is an optional export run after the initialiser and before
// the image is taken, for work a plugin would otherwise do lazily in every
// call (the Go SDK derives its tools' schemas there). It may call no host
// function.
const prepareExport = "warden_prepare"

// image is the state of an instance right after its initialiser ran: all
// of linear memory and every mutable global. A call's instance starts from
// it instead of running the initialiser again (for a Go plugin, the whole
// Go runtime start-up).
//
// Nothing survives a call: every instance gets its own copy of the image,
// and the image itself is never written. What would make two calls alike
// is reseeded: see reseed.
type image struct {
	mem     []byte   // linear memory, all of it
	runs    []span   // the pages that are not zero, for copying into a new array
	globals []uint64 // by index of snapshotter.prep.Globals
	// reseed are the bytes of the Go runtime's random generators (the
	// ChaCha8 states and the per-thread cheap generator): each instance
	// gets fresh random bytes there, or every call would draw the same
	// "random" numbers and iterate maps in the same order.
	reseed []span

	// free are the memory arrays of closed instances, zero past the image
	// (put), for the next instances.
	freeMu  sync.Mutex
	free    [][]byte
	inUse   int // arrays handed out (get or new) and not yet put back
	maxFree int // the plugin's concurrency and prewarm: arrays in use and free together
	closed  bool
}

// maxFreeGrowth is the growth past the image beyond which an array is left
// to the garbage collector rather than cleared and kept.
const maxFreeGrowth = 16 << 20

// get takes a free memory array, or returns nil.
func (img *image) get() []byte {
	if img == nil {
		return nil
	}
	img.freeMu.Lock()
	defer img.freeMu.Unlock()
	img.inUse++
	n := len(img.free)
	if n == 0 {
		return nil
	}
	b := img.free[n-1]
	img.free = img.free[:n-1]
	return b[:0]
}

// put keeps buf, whose instance used size bytes, for a later instance,
// after zeroing what it used past the image (restore rewrites the rest),
// unless the arrays in use and free already number maxFree: recycled
// instances keep theirs, and together they stay bounded by the plugin's
// concurrency.
func (img *image) put(buf []byte, size uint64) {
	img.freeMu.Lock()
	img.inUse--
	keep := !img.closed && len(img.free)+img.inUse < img.maxFree
	img.freeMu.Unlock()
	if !keep || size < uint64(len(img.mem)) || uint64(cap(buf)) > uint64(len(img.mem))+maxFreeGrowth {
		return
	}
	clear(buf[len(img.mem):size])
	img.freeMu.Lock()
	defer img.freeMu.Unlock()
	if !img.closed && len(img.free)+img.inUse < img.maxFree {
		img.free = append(img.free, buf[:cap(buf)])
	}
}

// close drops the free arrays and stops keeping new ones.
func (img *image) close() {
	img.freeMu.Lock()
	defer img.freeMu.Unlock()
	img.closed, img.free = true, nil
}

type span struct{ from, to int }

// snapshotter makes and keeps a plugin's images: one per set of mounts,
// since the guest's view of its preopened directories is part of its
// initialised state.
type snapshotter struct {
	prep     *wasmbin.Prepared
	mu       sync.Mutex
	images   map[string]*image
	making   map[string]bool
	disabled string // why images are not used, once known
	closed   bool
	reuse    reuse
}

// get returns the image for mounts key, or nil when there is none (yet).
func (s *snapshotter) get(key string) *image {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.images[key]
}

func (s *snapshotter) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for k, img := range s.images {
		img.close()
		delete(s.images, k)
	}
}

// ensureImage makes the image for mounts (whose mountsKey is key) in the
// background unless it exists, is being made, or images are disabled for
// the plugin.
func (p *Plugin) ensureImage(key string, mounts []Mount) {
	s := p.snap
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.disabled != "" || s.closed || s.images[key] != nil || s.making[key] {
		s.mu.Unlock()
		return
	}
	s.making[key] = true
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(p.rt.closing, 2*time.Duration(p.rt.defaults.Timeout))
		defer cancel()
		if err := p.makeImage(ctx, mounts); err != nil {
			p.rt.logger.Info("memory image not made; calls will run the initialiser", slog.String("plugin", p.name), slog.String("error", err.Error()))
		}
	}()
}

// makeImage runs the initialiser twice, with two different random sources,
// and keeps the first run's state as the image for mounts. Comparing the two
// runs finds the bytes that came from random numbers; reseedable generator
// states among them are refreshed in every instance.
func (p *Plugin) makeImage(ctx context.Context, mounts []Mount) (err error) {
	s := p.snap
	key := mountsKey(mounts)
	defer func() {
		s.mu.Lock()
		delete(s.making, key)
		if err != nil && key == "" {
			s.disabled = err.Error()
		}
		s.mu.Unlock()
	}()
	mem1, g1, err := p.initialisedState(ctx, mounts, mrand.NewChaCha8([32]byte{1}))
	if err != nil {
		return err
	}
	mem2, g2, err := p.initialisedState(ctx, mounts, mrand.NewChaCha8([32]byte{2}))
	if err != nil {
		return err
	}
	if len(mem1) != len(mem2) {
		return fmt.Errorf("the initialiser is not repeatable: its memory grew to %d bytes once and %d bytes once", len(mem1), len(mem2))
	}
	for i := range g1 {
		if g1[i] != g2[i] && s.prep.Globals[i] != p.countGlobal {
			return fmt.Errorf("the initialiser is not repeatable: global %s ended as %#x once and %#x once", s.prep.Globals[i], g1[i], g2[i])
		}
	}
	img := &image{mem: mem1, globals: g1, runs: nonZeroPages(mem1), maxFree: p.rt.perPlugin + p.rt.prewarm}
	img.reseed = randomStates(mem1, mem2)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.images[key] = img
	p.rt.logger.Debug("memory image made", slog.String("plugin", p.name), slog.Int("bytes", len(mem1)), slog.Int("reseeded", len(img.reseed)))
	return nil
}

// initialisedState instantiates the module, runs its initialiser with
// random as its random source, and returns its memory and globals.
func (p *Plugin) initialisedState(ctx context.Context, mounts []Mount, random io.Reader) ([]byte, []uint64, error) {
	limits := p.rt.defaults
	st := &callState{ctx: ctx, callerCtx: ctx, plugin: p.name, limits: limits, sandbox: &Sandbox{}}
	st.logs = newPluginLog(ctx, st.sandbox, p.name, "")
	in, err := p.newInstance(ctx, st, int64(limits.Memory), mounts, instanceOptions{random: random, noImage: true})
	if err != nil {
		return nil, nil, err
	}
	defer in.close()
	// Guest code and reads of the instance run under the runtime's read
	// lock, as newInstance's do: Runtime.Close closes every module, and
	// wazero does not expect that while one runs (found by -race).
	p.rt.mu.RLock()
	defer p.rt.mu.RUnlock()
	if p.rt.wz == nil {
		return nil, nil, fmt.Errorf("the runtime is closed")
	}
	if f := in.mod.ExportedFunction(prepareExport); f != nil {
		if d := f.Definition(); len(d.ParamTypes()) != 0 || len(d.ResultTypes()) != 0 {
			return nil, nil, fmt.Errorf("export %s has type %s; want () -> ()", prepareExport, sig(d.ParamTypes(), d.ResultTypes()))
		}
		ictx := context.WithValue(ctx, stateKey{}, st)
		_, interrupted, err := in.call(ictx, f)
		if err == nil && interrupted {
			err = fmt.Errorf("its deadline passed as it returned")
		}
		if err != nil {
			return nil, nil, p.classify(ictx, st, "", prepareExport, err)
		}
	}
	if st.hostCalls > 0 {
		return nil, nil, fmt.Errorf("its initialiser or %s calls host functions, whose answers belong to a call", prepareExport)
	}
	mem := in.mod.Memory()
	if mem == nil {
		return nil, nil, fmt.Errorf("the module has no memory")
	}
	view, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, nil, fmt.Errorf("reading memory failed")
	}
	globals, err := readGlobals(in.mod, p.snap.prep.Globals)
	return bytes.Clone(view), globals, err
}

func readGlobals(mod api.Module, names []string) ([]uint64, error) {
	out := make([]uint64, len(names))
	for i, n := range names {
		g := mod.ExportedGlobal(n)
		if g == nil {
			return nil, fmt.Errorf("export %s is missing", n)
		}
		out[i] = g.Get()
	}
	return out, nil
}

// startFromImage makes a fresh instance's memory and globals those of img,
// then gives its random generators fresh seeds. Of memory, only the
// tracked regions in the bits of regions are rewritten (allRegions: all of
// it): the rest must be the image's already.
func (in *instance) startFromImage(img *image, names []string, regions uint64) error {
	mem := in.mod.Memory()
	if want := uint32(len(img.mem) / wasmPage); mem.Size() < uint32(len(img.mem)) {
		if _, ok := mem.Grow(want - mem.Size()/wasmPage); !ok {
			return fmt.Errorf("the memory image needs %s, more than the call's memory limit", capabilities.Size(len(img.mem)))
		}
	}
	if in.mem == nil {
		return fmt.Errorf("the instance's memory was not allocated by the host")
	}
	if regions == allRegions {
		in.mem.restore(img)
	} else {
		in.mem.restoreRegions(img, regions)
	}
	for i, n := range names {
		g, ok := in.mod.ExportedGlobal(n).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("export %s is not a mutable global", n)
		}
		g.Set(img.globals[i])
	}
	if in.dirty != nil {
		in.dirty.Set(0) // the image's value is what the initialiser wrote
	}
	buf := in.mem.buf
	for _, r := range img.reseed {
		if _, err := rand.Read(buf[r.from:r.to]); err != nil {
			return err
		}
	}
	return nil
}

// nonZeroPages lists the runs of 4 KiB pages of mem that hold anything but
// zeros: a fresh memory is zeroed, so only these need copying.
func nonZeroPages(mem []byte) []span {
	const page = 4096
	var out []span
	zero := make([]byte, page)
	for off := 0; off < len(mem); off += page {
		end := min(off+page, len(mem))
		if bytes.Equal(mem[off:end], zero[:end-off]) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].to == off {
			out[n-1].to = end
		} else {
			out = append(out, span{off, end})
		}
	}
	return out
}

// The layout of Go's internal/chacha8rand.State on GOARCH=wasm:
// buf [32]uint64, seed [4]uint64, i, n, c uint32 (304 bytes with padding).
// In runtime.m it is followed by cheaprand uint64.
const (
	chachaBuf   = 0
	chachaSeed  = 256
	chachaI     = 288
	chachaN     = 292
	chachaC     = 296
	chachaSize  = 304
	chachaBlock = 32 // words per block
)

// randomStates finds the Go runtime's random generator states in mem1: a
// ChaCha8 state is recognised by its shape and proven by recomputing its
// buffer from its seed, and counted only if it differs from the same place
// in mem2 (the run with other random numbers), so a generator the plugin
// seeded with a constant on purpose is left alone. The 8 bytes after a
// state are the per-thread cheap generator when they too differ between the
// runs.
func randomStates(mem1, mem2 []byte) []span {
	var out []span
	le := binary.LittleEndian
	for o := 0; o+chachaSize+8 <= len(mem1); o += 8 {
		i, n, c := le.Uint32(mem1[o+chachaI:]), le.Uint32(mem1[o+chachaN:]), le.Uint32(mem1[o+chachaC:])
		if c > 12 || c%4 != 0 || i > n || (n != chachaBlock && !(c == 12 && n == chachaBlock-4)) {
			continue
		}
		if bytes.Equal(mem1[o:o+chachaI], mem2[o:o+chachaI]) || !isChaCha8State(mem1[o:o+chachaI], c) {
			continue
		}
		out = append(out, span{o + chachaBuf, o + chachaI})
		if next := o + chachaSize; !bytes.Equal(mem1[next:next+8], mem2[next:next+8]) {
			out = append(out, span{next, next + 8})
		}
		o += chachaSize - 8
	}
	return out
}

// isChaCha8State reports whether st (buf then seed) holds block c of the
// ChaCha8 stream of its seed, computed with math/rand/v2's ChaCha8, which
// is the same generator as the runtime's.
func isChaCha8State(st []byte, c uint32) bool {
	var seed [32]byte
	copy(seed[:], st[chachaSeed:chachaSeed+32])
	if seed == ([32]byte{}) {
		return false
	}
	g := mrand.NewChaCha8(seed)
	for range (c / 4) * chachaBlock {
		g.Uint64()
	}
	for w := range 4 {
		if g.Uint64() != binary.LittleEndian.Uint64(st[chachaBuf+8*w:]) {
			return false
		}
	}
	return true
}
