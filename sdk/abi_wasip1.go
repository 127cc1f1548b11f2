//go:build wasip1

package sdk

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"

	"github.com/wardenmcp/warden/sdk/internal/bridge"
)

// This file binds the Extism ABI (docs/ABI.md): it only moves bytes between
// the host's memory blocks and Go slices, and hands them to the portable
// dispatcher.

//go:wasmimport extism:host/env alloc
func extismAlloc(n uint64) uint64

//go:wasmimport extism:host/env free
func extismFree(off uint64)

//go:wasmimport extism:host/env length
func extismLength(off uint64) uint64

//go:wasmimport extism:host/env load_u8
func extismLoadU8(off uint64) uint32

//go:wasmimport extism:host/env load_u64
func extismLoadU64(off uint64) uint64

//go:wasmimport extism:host/env store_u8
func extismStoreU8(off uint64, v uint32)

//go:wasmimport extism:host/env store_u64
func extismStoreU64(off uint64, v uint64)

//go:wasmimport extism:host/env input_length
func extismInputLength() uint64

//go:wasmimport extism:host/env input_load_u8
func extismInputLoadU8(i uint64) uint32

//go:wasmimport extism:host/env input_load_u64
func extismInputLoadU64(i uint64) uint64

//go:wasmimport extism:host/env output_set
func extismOutputSet(off, n uint64)

//go:wasmimport extism:host/env error_set
func extismErrorSet(off uint64)

//go:wasmimport extism:host/env config_get
func extismConfigGet(key uint64) uint64

//go:wasmimport extism:host/env http_request
func extismHTTPRequest(req, body uint64) uint64

//go:wasmimport extism:host/env http_status_code
func extismHTTPStatusCode() int32

//go:wasmimport extism:host/env http_headers
func extismHTTPHeaders() uint64

//go:wasmimport extism:host/env log_trace
func extismLogTrace(msg uint64)

//go:wasmimport extism:host/env log_debug
func extismLogDebug(msg uint64)

//go:wasmimport extism:host/env log_info
func extismLogInfo(msg uint64)

//go:wasmimport extism:host/env log_warn
func extismLogWarn(msg uint64)

//go:wasmimport extism:host/env log_error
func extismLogError(msg uint64)

//go:wasmimport extism:host/env get_log_level
func extismGetLogLevel() int32

// wardenProgress is Warden's own host function, outside the Extism ABI
// (Extism hosts put user-defined functions in extism:host/user). The import
// is linked into a plugin only when the plugin calls Progress, so plugins
// that do not report progress run in any Extism host.
//
//go:wasmimport extism:host/user warden_progress
func wardenProgress(report uint64)

func init() {
	bridge.Current = extismHost{}
}

// readInput copies this call's input out of host memory.
func readInput() []byte {
	n := extismInputLength()
	buf := make([]byte, n)
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], extismInputLoadU64(i))
	}
	for ; i < n; i++ {
		buf[i] = byte(extismInputLoadU8(i))
	}
	return buf
}

// load copies the block at off out of host memory; 0 is the empty block.
func load(off uint64) []byte {
	if off == 0 {
		return nil
	}
	n := extismLength(off)
	buf := make([]byte, n)
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], extismLoadU64(off+i))
	}
	for ; i < n; i++ {
		buf[i] = byte(extismLoadU8(off + i))
	}
	return buf
}

// store copies data into a new host block and returns its offset; empty
// data is the empty block 0.
func store(data []byte) uint64 {
	n := uint64(len(data))
	if n == 0 {
		return 0
	}
	off := extismAlloc(n)
	if off == 0 {
		panic("sdk: the host refused to allocate " + strconv.FormatUint(n, 10) + " bytes")
	}
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		extismStoreU64(off+i, binary.LittleEndian.Uint64(data[i:]))
	}
	for ; i < n; i++ {
		extismStoreU8(off+i, uint32(data[i]))
	}
	return off
}

// loadFree copies the block at off and releases it.
func loadFree(off uint64) []byte {
	data := load(off)
	if off != 0 {
		extismFree(off)
	}
	return data
}

// extismHost is bridge.Host over the Extism imports.
type extismHost struct{}

func (extismHost) ConfigGet(key string) (string, bool) {
	k := store([]byte(key))
	off := extismConfigGet(k)
	extismFree(k)
	if off == 0 {
		return "", false
	}
	return string(loadFree(off)), true
}

func (extismHost) HTTPRequest(req, body []byte) (int, []byte, []byte, error) {
	r := store(req)
	b := store(body)
	off := extismHTTPRequest(r, b)
	extismFree(r)
	if b != 0 {
		extismFree(b)
	}
	respBody := loadFree(off)
	status := int(extismHTTPStatusCode())
	headers := loadFree(extismHTTPHeaders())
	return status, headers, respBody, nil
}

func (extismHost) Log(level int, msg string) {
	if msg == "" {
		msg = " "
	}
	off := store([]byte(msg))
	switch Level(level) {
	case LevelTrace:
		extismLogTrace(off)
	case LevelDebug:
		extismLogDebug(off)
	case LevelInfo:
		extismLogInfo(off)
	case LevelWarn:
		extismLogWarn(off)
	default:
		extismLogError(off)
	}
	extismFree(off)
}

func (extismHost) LogLevel() int { return int(extismGetLogLevel()) }

func (extismHost) Progress(report []byte) {
	off := store(report)
	wardenProgress(off)
	extismFree(off)
}

// run executes one export: read the input, dispatch, then set the output or
// the error. It never lets a panic escape into the host.
func run(export string) (rc int32) {
	defer func() {
		if p := recover(); p != nil {
			fail("sdk: " + export + ": " + panicText(p))
			rc = 1
		}
	}()
	out, err := defaultRegistry.dispatch(export, readInput())
	if err != nil {
		fail(err.Error())
		return 1
	}
	extismOutputSet(store(out), uint64(len(out)))
	return 0
}

func fail(msg string) {
	if msg == "" {
		msg = "unknown error"
	}
	extismErrorSet(store([]byte(msg)))
}

func panicText(p any) string { return fmt.Sprint(p) }

// v2 exports (hyper-mcp v2, Warden).

//go:wasmexport list_tools
func exportListToolsV2() int32 { return run(exportListTools) }

//go:wasmexport call_tool
func exportCallToolV2() int32 { return run(exportCallTool) }

// v1 exports (hyper-mcp v1, mcp.run servlets).

//go:wasmexport describe
func exportDescribeV1() int32 { return run(exportDescribe) }

//go:wasmexport call
func exportCallV1() int32 { return run(exportCall) }

// v2, optional: prompts and resources. A plugin without them still exports
// these and answers with empty lists.

//go:wasmexport list_prompts
func exportListPromptsV2() int32 { return run(exportListPrompts) }

//go:wasmexport get_prompt
func exportGetPromptV2() int32 { return run(exportGetPrompt) }

//go:wasmexport list_resources
func exportListResourcesV2() int32 { return run(exportListResources) }

//go:wasmexport list_resource_templates
func exportListResourceTemplatesV2() int32 { return run(exportListResourceTemplates) }

//go:wasmexport read_resource
func exportReadResourceV2() int32 { return run(exportReadResource) }

//go:wasmexport complete
func exportCompleteV2() int32 { return run(exportComplete) }

// warden_prepare is called by a host that keeps a memory image of the
// initialised plugin (Warden does) before it takes the image: everything
// derived here once is then in every call's starting state instead of
// being derived again in each one. It calls no host function.
//
//go:wasmexport warden_prepare
func exportPrepare() {
	defaultRegistry.prepare()
	headroom = make([]byte, headroomBytes)
	headroom = nil
	runtime.GC()
	defaultRegistry.warm()
}

// headroom grows the heap in warden_prepare, to be freed before the image
// is taken: a call then finds free pages in its heap instead of growing
// the memory, which would make its instance impossible to recycle (a
// memory cannot shrink). Every byte of an image is rewritten when an
// instance is recycled, so it is kept small: the runtime grows the heap in
// larger steps anyway (a 64 KiB request grows hello's image by 512 KiB;
// without it, a call that builds a 64-entry map grows the memory).
var headroom []byte

const headroomBytes = 256 << 10
