package plugins

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/wardenmcp/warden/internal/wasmbin"
)

// Recycling: an instance that started from a memory image and whose call
// ended cleanly is reset to the image (memory, globals, random seeds) and
// serves a later call, instead of being closed and a new one instantiated.
// For a Go plugin the instantiation is most of what a call costs the host:
// wazero fills the function table (thousands of entries) anew for every
// instance. A reset instance is, to the guest, the same as a new one from
// the image, as long as every piece of its state is reset or proven
// unchanged:
//
//   - linear memory: rewritten from the image; an instance whose memory
//     grew is not recycled (a memory cannot shrink);
//   - mutable globals: all exported by the rewrite and set from the image;
//   - tables, and which data and element segments were dropped: no API can
//     reset them, so only modules whose code has no instruction that
//     changes them are recycled (wasmbin.ScanCode, which refuses what it
//     does not know);
//   - WASI file descriptors: recycled only without mounts, where the only
//     descriptors are 0, 1 and 2; after the call the rewrite's fd probe must
//     find them as they were and descriptor 3 unused. A module that could
//     change descriptors and has no probe is not recycled;
//   - host-side state (the Extism memory, variables, the budget, output
//     buffers): per call already, or cleared by reset;
//   - the engine: only calls that returned, with their context still live
//     (so wazero's canceller cannot close the module afterwards), and
//     modules that are not closed.
//
// Everything else a plugin imports is refused at load or counted as
// something that could hold state (reuseProblem).

// statelessWASI are the WASI functions that, in an instance without mounts,
// change no state of the instance.
var statelessWASI = []string{
	"args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
	"clock_res_get", "clock_time_get", "fd_write", "fd_read", "fd_fdstat_get",
	"fd_prestat_get", "fd_prestat_dir_name", "fd_filestat_get", "poll_oneoff",
	"proc_exit", "proc_raise", "random_get", "sched_yield",
}

// reuse is a plugin's verdict on recycling, decided once, in the
// background, at the first call that could recycle.
type reuse struct {
	once    sync.Once
	mu      sync.Mutex
	decided bool
	problem string // why instances cannot be recycled; empty when they can
}

// recycleAllowed reports whether instances may be recycled, starting the decision
// when it has not been made (until then: no).
func (p *Plugin) recycleAllowed() bool {
	if p.snap == nil || p.rt.noRecycle {
		return false
	}
	r := &p.snap.reuse
	r.once.Do(func() {
		go func() {
			problem := p.reuseProblem()
			r.mu.Lock()
			r.decided, r.problem = true, problem
			r.mu.Unlock()
			if problem != "" {
				p.rt.logger.Debug("instances are not recycled", slog.String("plugin", p.name), slog.String("reason", problem))
			}
		}()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decided && r.problem == ""
}

// reuseProblem says why the plugin's instances cannot be reset to their
// image, or returns "" when they can.
func (p *Plugin) reuseProblem() string {
	facts, err := wasmbin.ScanCode(p.snap.prep.Module)
	// Nothing else reads the rewritten module after Load, and it is
	// megabytes per plugin.
	p.snap.prep.Module = nil
	switch {
	case err != nil:
		return "its code could not be checked: " + err.Error()
	case facts.TableWrites:
		return "its code may change a table"
	case facts.SegmentOps:
		return "its code uses passive data segments"
	}
	for _, imp := range p.imports {
		mod, fn, _ := strings.Cut(imp, ".")
		switch {
		case mod == hostEnvModule || mod == userEnvModule:
			// Host state is per call.
		case mod == "wasi_snapshot_preview1" && slices.Contains(statelessWASI, fn):
		case mod == "wasi_snapshot_preview1" && p.snap.prep.FDProbe != "":
			// Checked after each call by the fd probe.
		default:
			return fmt.Sprintf("it imports %s, whose effects cannot be checked", imp)
		}
	}
	return ""
}

// fdstat is what WASI fd_fdstat_get says of a descriptor: its errno, and
// its file type, flags and rights (the padding of the structure is not
// compared).
type fdstat struct {
	errno uint32
	stat  [1 + 2 + 16]byte
}

// probeFDs reads descriptors 0 to 3 through the module's fd probe. The
// structures are written to the last bytes of memory, which are put back.
func (in *instance) probeFDs(ctx context.Context, probe string) ([wasmbin.FDProbeCount]fdstat, error) {
	var out [wasmbin.FDProbeCount]fdstat
	f := in.function(probe)
	if f == nil {
		return out, fmt.Errorf("export %s is missing", probe)
	}
	mem := in.mod.Memory()
	at := mem.Size() - wasmbin.FDProbeBytes
	saved, ok := mem.Read(at, wasmbin.FDProbeBytes)
	if !ok {
		return out, fmt.Errorf("the probe needs %d bytes at the end of memory; the memory is %d bytes", wasmbin.FDProbeBytes, mem.Size())
	}
	saved = bytes.Clone(saved)
	defer mem.Write(at, saved)
	if _, err := f.Call(ctx, uint64(at), 0); err != nil {
		return out, err
	}
	b, _ := mem.Read(at, wasmbin.FDProbeBytes)
	for fd := range out {
		st := b[24*fd:]
		out[fd].errno = binary.LittleEndian.Uint32(b[24*wasmbin.FDProbeCount+4*fd:])
		if out[fd].errno == 0 {
			out[fd].stat[0] = st[0]
			copy(out[fd].stat[1:3], st[2:4])
			copy(out[fd].stat[3:], st[8:24])
		}
	}
	return out, nil
}

// recycle resets in, whose call ended cleanly, to its image and makes it
// ready for another call under key; or closes it when it cannot be reset.
// It runs after the call, off the caller's path.
func (p *Plugin) recycle(key poolKey, in *instance) {
	defer p.pool.recycled(key)
	// Under the runtime's read lock: Runtime.Close closes every module,
	// and wazero does not expect that while the probe runs in one.
	p.rt.mu.RLock()
	err := fmt.Errorf("the runtime is closed")
	if p.rt.wz != nil {
		err = in.reset(p.snap.prep)
	}
	p.rt.mu.RUnlock()
	if err != nil {
		p.rt.logger.Debug("instance not recycled", slog.String("plugin", p.name), slog.String("reason", err.Error()))
		in.close()
		return
	}
	if !p.pool.keep(key, in, in.img.maxFree) {
		in.close()
	}
}

// reset brings in back to the state of a new instance started from its
// image, or says why it cannot.
func (in *instance) reset(prep *wasmbin.Prepared) error {
	img := in.img
	switch {
	case img == nil:
		return fmt.Errorf("the instance did not start from an image")
	case in.mod.IsClosed():
		return fmt.Errorf("the module is closed")
	case in.mem == nil:
		return fmt.Errorf("the instance's memory was not allocated by the host")
	case in.mem.size != uint64(len(img.mem)):
		return fmt.Errorf("the memory grew to %d bytes; the image is %d", in.mem.size, len(img.mem))
	}
	if prep.FDProbe != "" && in.fdBase == nil {
		return fmt.Errorf("the instance's descriptors were not recorded before its call")
	}
	if in.fdBase != nil {
		now, err := in.probeFDs(context.Background(), prep.FDProbe)
		if err != nil {
			return fmt.Errorf("fd probe: %w", err)
		}
		for fd := range now {
			if now[fd] != in.fdBase[fd] {
				return fmt.Errorf("the call changed file descriptor %d (errno %d, was %d before its first call)", fd, now[fd].errno, in.fdBase[fd].errno)
			}
		}
	}
	regions := allRegions
	if in.dirty != nil {
		// The call ended normally, so every function that wrote flushed
		// its bits into the global.
		regions = in.dirty.Get() | in.written
	}
	in.mem.recycled = true // written by the call: a whole restore must clear between the image's pages
	if err := in.startFromImage(img, prep.Globals, regions); err != nil {
		return err
	}
	b := in.budget
	b.used, b.peak, b.refused = int64(in.mem.size), int64(in.mem.size), false
	in.tail = lastWords{}
	in.bind(context.Background(), nil, nil)
	in.ctx.Store(nil)
	in.uses++
	return nil
}
