package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/wasmbin"
)

// ManifestSection is the name of the Wasm custom section holding a plugin's
// manifest (JSON).
const ManifestSection = "warden.manifest"

// ABI is the shape of a plugin's exports.
type ABI int

const (
	// ABIv1 plugins export describe and call (hyper-mcp v1, mcp.run servlets).
	ABIv1 ABI = 1
	// ABIv2 plugins export list_tools and call_tool (hyper-mcp v2, Warden's SDK).
	ABIv2 ABI = 2
)

func (a ABI) String() string {
	switch a {
	case ABIv1:
		return "v1 (describe/call)"
	case ABIv2:
		return "v2 (list_tools/call_tool)"
	}
	return fmt.Sprintf("ABI(%d)", int(a))
}

func (a ABI) listExport() string {
	if a == ABIv1 {
		return "describe"
	}
	return "list_tools"
}

func (a ABI) callExport() string {
	if a == ABIv1 {
		return "call"
	}
	return "call_tool"
}

// Plugin is a compiled, checked module and the tools it declared at load.
// It is immutable and safe for concurrent calls; every call runs in a fresh
// instance.
type Plugin struct {
	name      string
	rt        *Runtime
	compiled  wazero.CompiledModule
	abi       ABI
	digest    string
	size      int
	manifest  *capabilities.Manifest
	tools     []Tool
	toolIndex map[string]int
	initFunc  string // "_initialize", "__wasm_call_ctors" or ""
	flag      string // export name of the interrupt flag (wasmbin.Interruptible)
	dirty     string // export name of the write-tracking global (wasmbin.Tracked), or ""
	startFunc string // export name of the former start function, or ""
	// countGlobal is the snapshot export name of the interrupt checks'
	// countdown, which an image need not reproduce.
	countGlobal string
	minMemory   uint64 // bytes of linear memory the module needs at start
	imports     []string
	exports     []string
	calls       *gate // per-plugin admission
	pool        *instancePool
	snap        *snapshotter // nil: the module runs as it came
	prompts     []Prompt
	resources   []Resource
	templates   []ResourceTemplate
}

// Load checks and compiles wasm as a plugin called name, then lists its
// tools once in a throwaway instance that has no capabilities.
//
// Load does not verify signatures: callers (the registry) do that before.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte) (*Plugin, error) {
	lerr := func(kind error, detail string, err error) error {
		return &LoadError{Plugin: name, Kind: kind, Detail: detail, Err: err}
	}
	if int64(len(wasm)) > r.maxModuleBytes {
		return nil, lerr(ErrInvalidModule, fmt.Sprintf("the module is %d bytes; the limit is %d bytes", len(wasm), r.maxModuleBytes), nil)
	}
	sum := sha256.Sum256(wasm)
	p := &Plugin{name: name, rt: r, digest: "sha256:" + hex.EncodeToString(sum[:]), size: len(wasm),
		calls: newGate(r.perPlugin, r.queue), pool: newInstancePool(r.prewarm, r.logger)}

	m, err := ReadManifest(wasm)
	if err != nil {
		return nil, &LoadError{Plugin: name, Kind: err}
	}
	p.manifest = m

	rw := r.rewrites.get(p.digest)
	fresh := rw == nil
	if !fresh {
		r.logger.Debug("rewritten module read from the rewrite cache", slog.String("plugin", name))
	} else if rw, err = r.rewrite(wasm); err != nil {
		return nil, lerr(ErrInvalidModule, err.Error(), err)
	}
	p.flag, p.startFunc = rw.flag, rw.start
	p.countGlobal = fmt.Sprintf("%s%d", globalPrefix, rw.count)
	p.dirty = rw.dirty
	module := rw.module
	if rw.noTracking != "" {
		r.logger.Debug("no write tracking for this plugin; recycled instances are restored whole", slog.String("plugin", name), slog.String("reason", rw.noTracking))
	}
	if rw.noSnapshot != "" {
		r.logger.Debug("no memory images for this plugin", slog.String("plugin", name), slog.String("reason", rw.noSnapshot))
	}
	if rw.prep != nil {
		// Calls start from a memory image of the initialised state (see image).
		p.snap = &snapshotter{prep: rw.prep, images: map[string]*image{}, making: map[string]bool{}}
	}
	compiled, err := r.wz.CompileModule(ctx, module)
	if err != nil {
		return nil, lerr(ErrInvalidModule, "compile: "+err.Error(), err)
	}
	p.compiled = compiled
	ok := false
	defer func() {
		if !ok {
			p.pool.close()
			p.snap.close()
			compiled.Close(ctx)
		}
	}()

	if probs := importProblems(compiled.ImportedFunctions()); len(probs) > 0 {
		return nil, lerr(ErrInvalidModule, "unsatisfiable imports: "+strings.Join(probs, "; "), nil)
	}
	if len(compiled.ImportedMemories()) > 0 {
		return nil, lerr(ErrInvalidModule, "the module imports its memory; plugins must define their own", nil)
	}
	for _, mem := range compiled.ExportedMemories() {
		p.minMemory = uint64(mem.Min()) * wasmPage
	}
	exports := compiled.ExportedFunctions()
	for name := range exports {
		if !strings.HasPrefix(name, globalPrefix) && !strings.HasPrefix(name, interruptPrefix) && !strings.HasPrefix(name, trackPrefix) {
			p.exports = append(p.exports, name) // the plugin's own, not the rewrites'
		}
	}
	sort.Strings(p.exports)
	for _, f := range compiled.ImportedFunctions() {
		mod, fn, _ := f.Import()
		p.imports = append(p.imports, mod+"."+fn)
	}
	switch {
	case exports["list_tools"] != nil && exports["call_tool"] != nil:
		p.abi = ABIv2
	case exports["describe"] != nil && exports["call"] != nil:
		p.abi = ABIv1
	default:
		return nil, lerr(ErrInvalidModule, fmt.Sprintf("no plugin entry points: want exports list_tools and call_tool (v2) or describe and call (v1); found %s", listOrNone(p.exports)), nil)
	}
	for _, e := range []string{p.abi.listExport(), p.abi.callExport()} {
		f := exports[e]
		if len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 1 || f.ResultTypes()[0] != api.ValueTypeI32 {
			return nil, lerr(ErrInvalidModule, fmt.Sprintf("export %s has type %s; want () -> (i32)", e, sig(f.ParamTypes(), f.ResultTypes())), nil)
		}
	}
	for _, init := range []string{"_initialize", "__wasm_call_ctors"} {
		if f := exports[init]; f != nil && len(f.ParamTypes()) == 0 && len(f.ResultTypes()) == 0 {
			p.initFunc = init
			break
		}
	}

	if p.snap != nil && p.initFunc != "" {
		p.snap.making[""] = true
		ictx, cancel := context.WithTimeout(ctx, 2*time.Duration(r.defaults.Timeout))
		err := p.makeImage(ictx, nil)
		cancel()
		if err != nil {
			r.logger.Info("memory image not made; calls will run the initialiser", slog.String("plugin", name), slog.String("error", err.Error()))
		}
	}
	ls, err := p.newLister(ctx)
	if err != nil {
		return nil, lerr(ErrInvalidModule, "starting the module: "+err.Error(), err)
	}
	defer ls.close()
	out, err := ls.call(ctx, p.abi.listExport(), []byte(`{"context":{},"request":{}}`))
	if err != nil {
		return nil, lerr(ErrInvalidModule, "listing tools: "+err.Error(), err)
	}
	tools, err := parseToolList(out)
	if err != nil {
		return nil, lerr(ErrInvalidTool, err.Error(), err)
	}
	p.tools = tools
	p.toolIndex = make(map[string]int, len(tools))
	for i, t := range tools {
		p.toolIndex[t.Name] = i
	}
	if err := p.listExtras(ctx, ls); err != nil {
		return nil, lerr(ErrInvalidTool, err.Error(), err)
	}
	// Cached only now: a module refused later in Load leaves nothing behind.
	if fresh {
		r.rewrites.put(p.digest, rw)
	}
	ok = true
	return p, nil
}

// ReadManifest returns the manifest embedded in wasm, or nil when it has
// none.
func ReadManifest(wasm []byte) (*capabilities.Manifest, error) {
	raw, found, err := wasmbin.CustomSection(wasm, ManifestSection)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	if !found {
		return nil, nil
	}
	m, err := capabilities.ParseManifestJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: custom section %s: %w", ErrInvalidModule, ManifestSection, err)
	}
	return m, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Close releases the instances made ahead of calls and the compiled code.
// Calls in flight finish first.
func (p *Plugin) Close(ctx context.Context) error {
	p.pool.close()
	p.snap.close()
	return p.compiled.Close(ctx)
}

// Name is the name the plugin was loaded under.
func (p *Plugin) Name() string { return p.name }

// ABI reports which export shape the plugin uses.
func (p *Plugin) ABI() ABI { return p.abi }

// Digest is "sha256:" followed by the hex SHA-256 of the module bytes.
func (p *Plugin) Digest() string { return p.digest }

// Size is the module's size in bytes.
func (p *Plugin) Size() int { return p.size }

// Manifest is the manifest embedded in the module, or nil.
func (p *Plugin) Manifest() *capabilities.Manifest { return p.manifest }

// Tools returns the plugin's tools in the order it declared them.
func (p *Plugin) Tools() []Tool { return append([]Tool(nil), p.tools...) }

// Tool returns the tool called name.
func (p *Plugin) Tool(name string) (Tool, bool) {
	i, ok := p.toolIndex[name]
	if !ok {
		return Tool{}, false
	}
	return p.tools[i], true
}

// Imports lists the module's imported functions as "module.name".
func (p *Plugin) Imports() []string { return append([]string(nil), p.imports...) }

// Exports lists the module's exported functions, sorted.
func (p *Plugin) Exports() []string { return append([]string(nil), p.exports...) }

// MinMemory is the linear memory the module needs before it runs, in bytes.
func (p *Plugin) MinMemory() uint64 { return p.minMemory }

// marshalJSON is json.Marshal without HTML escaping, for inputs we build.
func marshalJSON(v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return []byte(strings.TrimSuffix(b.String(), "\n"))
}

// EmbedManifest returns a copy of wasm carrying m in its warden.manifest
// custom section, replacing any manifest it had. A signature made after
// embedding covers the manifest too.
func EmbedManifest(wasm []byte, m *capabilities.Manifest) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := capabilities.ParseManifestJSON(raw); err != nil {
		return nil, fmt.Errorf("manifest does not survive a round trip: %w", err)
	}
	return wasmbin.SetCustomSection(wasm, ManifestSection, raw)
}
