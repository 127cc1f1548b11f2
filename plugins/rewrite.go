package plugins

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/wardenmcp/warden/internal/atomicfile"
	"github.com/wardenmcp/warden/internal/wasmbin"
)

// rewritten is what Load makes of a module before wazero compiles it: the
// module with Warden's deadline checks, write tracking and snapshot exports
// added, and what the host needs to know about them.
type rewritten struct {
	module []byte
	// flag, start and count describe the deadline checks
	// (wasmbin.Interruptible).
	flag, start string
	count       uint32
	// dirty is the write-tracking global, or "" with noTracking saying why.
	dirty, noTracking string
	// prep is the snapshot rewrite (its Module is module), or nil with
	// noSnapshot saying why when the rewrite was refused.
	prep       *wasmbin.Prepared
	noSnapshot string
}

// rewrite checks wasm's declared counts and adds the deadline checks, then,
// as the runtime's options ask, write tracking and the snapshot exports. A
// refused tracking or snapshot rewrite is not an error: the plugin then runs
// without it.
func (r *Runtime) rewrite(wasm []byte) (*rewritten, error) {
	// wazero sizes allocations by the counts a module declares: a module of
	// a few bytes could make it allocate gigabytes.
	if err := wasmbin.CheckCounts(wasm); err != nil {
		return nil, err
	}
	ir, err := wasmbin.AddInterruptChecks(wasm, interruptPrefix)
	if err != nil {
		return nil, fmt.Errorf("Warden bounds a call's run time by adding checks to the module's code, and cannot add them to this module: %w", err)
	}
	rw := &rewritten{module: ir.Module, flag: ir.Flag, start: ir.Start, count: ir.Count}
	if !r.noRecycle {
		if tr, err := wasmbin.AddWriteTracking(rw.module, trackPrefix); err != nil {
			rw.noTracking = err.Error()
		} else {
			rw.module, rw.dirty = tr.Module, tr.Dirty
		}
	}
	if r.noImages {
		return rw, nil
	}
	prep, err := wasmbin.PrepareSnapshot(rw.module, globalPrefix)
	switch {
	case err != nil:
		rw.noSnapshot = err.Error()
	case !slices.Contains(prep.Exports, "_initialize") && !slices.Contains(prep.Exports, "__wasm_call_ctors"):
		// Nothing to snapshot: run the module with the checks alone.
	default:
		rw.module, rw.prep = prep.Module, prep
	}
	return rw, nil
}

// rewriteCache keeps rewritten modules on disk, next to wazero's compiled
// code, so that a restart does not rewrite every plugin again (about a
// third of a warm Load). Entries are keyed by the module's digest, the
// runtime options that change the rewrite, and the Go build ID of the
// running executable: a different Warden build, whose rewriters may differ,
// never reads another's entries. The directory is trusted as wazero's cache
// is (secureDir); a damaged entry is detected by its checksum and replaced.
type rewriteCache struct {
	dir    string // one directory per build
	opts   string // the runtime options that change the rewrite
	logger *slog.Logger
}

// rewriteFormat names the layout of an entry; it changes when the layout
// does.
const rewriteFormat = "warden-rewrite-1\n"

// newRewriteCache returns the cache under cacheDir for this executable, or
// nil (and why) when the executable's build ID cannot be read: without it a
// stale entry could outlive a fix to the rewriters.
func newRewriteCache(cacheDir string, r *Runtime) (*rewriteCache, string) {
	id, err := executableBuildID()
	if err != nil {
		return nil, err.Error()
	}
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(cacheDir, "warden-rewrite", hex.EncodeToString(sum[:8]))
	if err := secureDir(filepath.Dir(dir)); err != nil {
		return nil, err.Error()
	}
	if err := secureDir(dir); err != nil {
		return nil, err.Error()
	}
	return &rewriteCache{dir: dir, opts: fmt.Sprintf("recycle=%t images=%t", !r.noRecycle, !r.noImages), logger: r.logger}, ""
}

func (c *rewriteCache) path(digest string) string {
	sum := sha256.Sum256([]byte(c.opts + "\x00" + digest))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:]))
}

// get returns the entry for the module with the given digest, or nil.
func (c *rewriteCache) get(digest string) *rewritten {
	if c == nil {
		return nil
	}
	b, err := os.ReadFile(c.path(digest))
	if err != nil {
		return nil
	}
	rw, err := decodeRewritten(b)
	if err != nil {
		c.logger.Warn("ignoring a damaged entry of the rewrite cache", slog.String("path", c.path(digest)), slog.String("error", err.Error()))
		return nil
	}
	return rw
}

// put stores rw for the module with the given digest, atomically: a reader
// sees the old entry, no entry or the new one, never a part.
func (c *rewriteCache) put(digest string, rw *rewritten) {
	if c == nil {
		return
	}
	if err := atomicfile.WriteFile(c.path(digest), encodeRewritten(rw), 0o600); err != nil {
		c.logger.Warn("the rewrite cache could not be written; the next start rewrites this module again", slog.String("error", err.Error()))
	}
}

// rewriteMeta is an entry's JSON header. The data segments' table
// follows it (an offset and a length per segment, each u32, little-endian),
// then the module, then the segments' bytes.
type rewriteMeta struct {
	ModuleBytes int      `json:"module_bytes"`
	Flag        string   `json:"flag"`
	Start       string   `json:"start,omitempty"`
	Count       uint32   `json:"count"`
	Dirty       string   `json:"dirty,omitempty"`
	NoTracking  string   `json:"no_tracking,omitempty"`
	NoSnapshot  string   `json:"no_snapshot,omitempty"`
	Snapshot    bool     `json:"snapshot"`
	Globals     []string `json:"globals,omitempty"`
	Exports     []string `json:"exports,omitempty"`
	FDProbe     string   `json:"fd_probe,omitempty"`
	Segments    int      `json:"segments"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeRewritten lays rw out as: rewriteFormat, the CRC-32C of the rest,
// the header's length (u32, little-endian), the header, the segment table,
// the module, the segments' bytes.
func encodeRewritten(rw *rewritten) []byte {
	m := rewriteMeta{ModuleBytes: len(rw.module), Flag: rw.flag, Start: rw.start, Count: rw.count,
		Dirty: rw.dirty, NoTracking: rw.noTracking, NoSnapshot: rw.noSnapshot}
	var data []wasmbin.DataSegment
	size := len(rw.module)
	if p := rw.prep; p != nil {
		m.Snapshot, m.Globals, m.Exports, m.FDProbe = true, p.Globals, p.Exports, p.FDProbe
		data, m.Segments = p.Data, len(p.Data)
		for _, d := range data {
			size += 8 + len(d.Bytes)
		}
	}
	meta := marshalJSON(m)
	out := make([]byte, 0, len(rewriteFormat)+8+len(meta)+size)
	out = append(out, rewriteFormat...)
	out = append(out, 0, 0, 0, 0) // checksum, below
	out = binary.LittleEndian.AppendUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	for _, d := range data {
		out = binary.LittleEndian.AppendUint32(out, d.Offset)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(d.Bytes)))
	}
	out = append(out, rw.module...)
	for _, d := range data {
		out = append(out, d.Bytes...)
	}
	putChecksum(out[len(rewriteFormat):], out[len(rewriteFormat)+4:])
	return out
}

// putChecksum writes the CRC-32C of body to dst[:4].
func putChecksum(dst, body []byte) {
	binary.LittleEndian.PutUint32(dst, crc32.Checksum(body, castagnoli))
}

// decodeRewritten is the inverse of encodeRewritten. It refuses anything
// but a whole, undamaged entry of this format.
func decodeRewritten(b []byte) (*rewritten, error) {
	if !bytes.HasPrefix(b, []byte(rewriteFormat)) {
		return nil, fmt.Errorf("want an entry starting %q", rewriteFormat)
	}
	b = b[len(rewriteFormat):]
	if len(b) < 8 {
		return nil, fmt.Errorf("the entry ends after %d bytes of its header", len(b))
	}
	if want, got := binary.LittleEndian.Uint32(b), crc32.Checksum(b[4:], castagnoli); want != got {
		return nil, fmt.Errorf("checksum %08x; the entry says %08x", got, want)
	}
	n := binary.LittleEndian.Uint32(b[4:])
	b = b[8:]
	if uint64(n) > uint64(len(b)) {
		return nil, fmt.Errorf("the header is %d bytes; only %d follow", n, len(b))
	}
	var m rewriteMeta
	if err := json.Unmarshal(b[:n], &m); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	b = b[n:]
	switch {
	case m.Flag == "":
		return nil, errors.New("no interrupt flag")
	case m.Segments < 0 || m.Segments > len(b)/8:
		return nil, fmt.Errorf("%d data segments; %d bytes remain", m.Segments, len(b))
	case m.Segments > 0 && !m.Snapshot:
		return nil, fmt.Errorf("%d data segments without a snapshot rewrite", m.Segments)
	case m.ModuleBytes < 0 || m.ModuleBytes > len(b)-8*m.Segments:
		return nil, fmt.Errorf("a module of %d bytes; %d remain", m.ModuleBytes, len(b)-8*m.Segments)
	}
	table, b := b[:8*m.Segments], b[8*m.Segments:]
	module, b := b[:m.ModuleBytes:m.ModuleBytes], b[m.ModuleBytes:]
	rw := &rewritten{module: module, flag: m.Flag, start: m.Start, count: m.Count,
		dirty: m.Dirty, noTracking: m.NoTracking, noSnapshot: m.NoSnapshot}
	if !m.Snapshot {
		if len(b) != 0 {
			return nil, fmt.Errorf("%d bytes after the module", len(b))
		}
		return rw, nil
	}
	// A copy, so that the instances' data does not keep the whole entry
	// alive.
	data := bytes.Clone(b)
	rw.prep = &wasmbin.Prepared{Module: module, Globals: m.Globals, Exports: m.Exports, FDProbe: m.FDProbe,
		Data: make([]wasmbin.DataSegment, m.Segments)}
	for i := range rw.prep.Data {
		size := uint64(binary.LittleEndian.Uint32(table[8*i+4:]))
		if size > uint64(len(data)) {
			return nil, fmt.Errorf("data segment %d: %d bytes; %d remain", i, size, len(data))
		}
		rw.prep.Data[i] = wasmbin.DataSegment{Offset: binary.LittleEndian.Uint32(table[8*i:]), Bytes: data[:size:size]}
		data = data[size:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%d bytes after the last data segment", len(data))
	}
	return rw, nil
}

// executableBuildID returns the Go build ID of the running executable,
// which changes whenever its code does.
func executableBuildID() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := elf.Open(exe)
	if err != nil {
		return "", fmt.Errorf("reading the build ID of %s: %w", exe, err)
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return "", fmt.Errorf("%s has no Go build ID note", exe)
	}
	note, err := s.Data()
	if err != nil {
		return "", err
	}
	// An ELF note: name size, description size, type, then the padded
	// name ("Go") and the description (the build ID).
	if len(note) < 16 {
		return "", fmt.Errorf("%s: a Go build ID note of %d bytes", exe, len(note))
	}
	nameSize, descSize := f.ByteOrder.Uint32(note), f.ByteOrder.Uint32(note[4:])
	start := 12 + (uint64(nameSize)+3)&^3
	if nameSize != 4 || start+uint64(descSize) > uint64(len(note)) || descSize == 0 {
		return "", fmt.Errorf("%s: a malformed Go build ID note", exe)
	}
	return string(note[start : start+uint64(descSize)]), nil
}
