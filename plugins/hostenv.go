package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostEnvModule is the import module name of the Extism ABI.
const hostEnvModule = "extism:host/env"

type stateKey struct{}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	if st == nil {
		// Only reachable if a module is instantiated outside Plugin.run.
		panic(errors.New("a Warden host function was called outside a Warden plugin call"))
	}
	st.hostCalls++
	return st
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(st *callState, stack []uint64)
}

// hostFuncs is the whole extism:host/env surface Warden provides. Every
// function reads the call's state from the context; an invalid request from
// the guest ends the call with a typed error (st.fail panics, and wazero
// turns the panic into the call's error).
var hostFuncs = []hostFunc{
	{"alloc", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) {
		off, err := st.arena.Alloc(s[0])
		if err != nil {
			st.fail(&CallError{Kind: ErrMemoryLimit, Detail: err.Error(), Err: err})
		}
		s[0] = off
	}},
	{"free", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.arena.Free(s[0]) }},
	{"length", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) { s[0] = st.arena.Length(s[0]) }},
	{"length_unsafe", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) { s[0] = st.arena.Length(s[0]) }},
	{"load_u8", []api.ValueType{i64}, []api.ValueType{i32}, func(st *callState, s []uint64) {
		v, err := st.arena.LoadU8(s[0])
		st.check(err)
		s[0] = uint64(v)
	}},
	{"load_u64", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) {
		v, err := st.arena.LoadU64(s[0])
		st.check(err)
		s[0] = v
	}},
	{"store_u8", []api.ValueType{i64, i32}, nil, func(st *callState, s []uint64) {
		st.check(st.arena.StoreU8(s[0], byte(s[1])))
	}},
	{"store_u64", []api.ValueType{i64, i64}, nil, func(st *callState, s []uint64) {
		st.check(st.arena.StoreU64(s[0], s[1]))
	}},
	{"input_length", nil, []api.ValueType{i64}, func(st *callState, s []uint64) { s[0] = st.arena.InputLength() }},
	{"input_offset", nil, []api.ValueType{i64}, func(st *callState, s []uint64) { s[0] = st.arena.InputOffset() }},
	{"input_load_u8", []api.ValueType{i64}, []api.ValueType{i32}, func(st *callState, s []uint64) {
		v, err := st.arena.InputLoadU8(s[0])
		st.check(err)
		s[0] = uint64(v)
	}},
	{"input_load_u64", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) {
		v, err := st.arena.InputLoadU64(s[0])
		st.check(err)
		s[0] = v
	}},
	{"output_set", []api.ValueType{i64, i64}, nil, func(st *callState, s []uint64) { st.setOutput(s[0], s[1]) }},
	{"error_set", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.setError(s[0]) }},
	{"error_get", nil, []api.ValueType{i64}, func(st *callState, s []uint64) {
		s[0] = 0
		if st.errSet {
			s[0] = st.write([]byte(st.errMsg))
		}
	}},
	{"memory_bytes", nil, []api.ValueType{i64}, func(st *callState, s []uint64) { s[0] = uint64(st.arena.Size()) }},
	{"reset", nil, nil, func(st *callState, s []uint64) { st.arena.Reset() }},
	{"config_get", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) {
		key := st.readString(s[0])
		s[0] = 0
		if v, ok := st.sandbox.Config[key]; ok {
			s[0] = st.write([]byte(v))
		}
	}},
	{"var_get", []api.ValueType{i64}, []api.ValueType{i64}, func(st *callState, s []uint64) {
		key := st.readString(s[0])
		s[0] = 0
		if v, ok := st.vars[key]; ok {
			s[0] = st.write(v)
		}
	}},
	{"var_set", []api.ValueType{i64, i64}, nil, func(st *callState, s []uint64) { st.setVar(s[0], s[1]) }},
	{"http_request", []api.ValueType{i64, i64}, []api.ValueType{i64}, func(st *callState, s []uint64) {
		s[0] = st.httpRequest(s[0], s[1])
	}},
	{"http_status_code", nil, []api.ValueType{i32}, func(st *callState, s []uint64) { s[0] = uint64(uint32(st.lastStatus)) }},
	{"http_headers", nil, []api.ValueType{i64}, func(st *callState, s []uint64) {
		s[0] = 0
		if st.lastHeaders != nil {
			b, _ := json.Marshal(st.lastHeaders)
			s[0] = st.write(b)
		}
	}},
	{"get_log_level", nil, []api.ValueType{i32}, func(st *callState, s []uint64) { s[0] = uint64(st.logs.extismLevel()) }},
	{"log_trace", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.log(levelTrace, s[0]) }},
	{"log_debug", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.log(levelDebug, s[0]) }},
	{"log_info", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.log(levelInfo, s[0]) }},
	{"log_warn", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.log(levelWarn, s[0]) }},
	{"log_error", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.log(levelError, s[0]) }},
}

// hostFuncIndex maps an import name to its definition, for load-time checks.
var hostFuncIndex = funcIndex(hostFuncs)

func funcIndex(fs []hostFunc) map[string]*hostFunc {
	m := make(map[string]*hostFunc, len(fs))
	for i := range fs {
		m[fs[i].name] = &fs[i]
	}
	return m
}

func instantiateHostEnv(ctx context.Context, rt wazero.Runtime) error {
	return instantiateFuncs(ctx, rt, hostEnvModule, hostFuncs)
}

// instantiateFuncs instantiates the host module name exporting fs. Every
// function counts as a host call of the call it serves (stateFrom).
func instantiateFuncs(ctx context.Context, rt wazero.Runtime, name string, fs []hostFunc) error {
	b := rt.NewHostModuleBuilder(name)
	for i := range fs {
		f := fs[i].fn
		b.NewFunctionBuilder().
			WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) { f(stateFrom(ctx), stack) }),
				fs[i].params, fs[i].results).
			Export(fs[i].name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// fail ends the call with err; the first failure wins, so the error the
// caller sees names the root cause rather than a consequence.
func (st *callState) fail(err error) {
	if st.abort == nil {
		st.abort = err
	}
	panic(err)
}

func (st *callState) check(err error) {
	if err != nil {
		st.fail(&CallError{Kind: ErrTrap, Detail: err.Error(), Err: err})
	}
}

func (st *callState) write(p []byte) uint64 {
	off, err := st.arena.Write(p)
	if err != nil {
		st.fail(&CallError{Kind: ErrMemoryLimit, Detail: err.Error(), Err: err})
	}
	return off
}

func (st *callState) block(off uint64) []byte {
	b, err := st.arena.Block(off)
	st.check(err)
	return b
}

func (st *callState) readString(off uint64) string { return string(st.block(off)) }

func (st *callState) setOutput(off, n uint64) {
	if max := uint64(st.limits.Output); n > max {
		st.fail(&CallError{Kind: ErrOutputLimit, Detail: fmt.Sprintf("the plugin set %d bytes of output; the limit is %d bytes", n, max)})
	}
	b, err := st.arena.Bytes(off, n)
	st.check(err)
	st.output = append(st.output[:0], b...)
	st.outputSet = true
}

// maxErrorBytes bounds the message a guest can hand to error_set.
const maxErrorBytes = 16 << 10

func (st *callState) setError(off uint64) {
	if off == 0 {
		st.errMsg, st.errSet = "", false
		return
	}
	b := st.block(off)
	if len(b) > maxErrorBytes {
		b = b[:maxErrorBytes]
	}
	st.errMsg, st.errSet = string(b), true
}

// maxVarBytes bounds the per-call variable store (keys plus values).
const maxVarBytes = 1 << 20

func (st *callState) setVar(keyOff, valOff uint64) {
	key := st.readString(keyOff)
	if old, ok := st.vars[key]; ok {
		st.varBytes -= len(key) + len(old)
		delete(st.vars, key)
	}
	if valOff == 0 {
		return
	}
	val := append([]byte(nil), st.block(valOff)...)
	if st.varBytes+len(key)+len(val) > maxVarBytes {
		st.fail(&CallError{Kind: ErrMemoryLimit, Detail: fmt.Sprintf("var_set %q: the variable store is limited to %d bytes", key, maxVarBytes)})
	}
	if st.vars == nil {
		st.vars = map[string][]byte{}
	}
	st.vars[key] = val
	st.varBytes += len(key) + len(val)
}

// extismHTTPRequest is the JSON a guest passes to http_request. Field names
// match case-insensitively, as in Extism.
type extismHTTPRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

func (st *callState) httpRequest(reqOff, bodyOff uint64) uint64 {
	st.lastStatus, st.lastHeaders = 0, nil
	var req extismHTTPRequest
	if err := json.Unmarshal(st.block(reqOff), &req); err != nil {
		st.fail(&CallError{Kind: ErrBadOutput, Detail: "http_request: the request is not the JSON object {url, method, headers}: " + err.Error(), Err: err})
	}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	hr := &HTTPRequest{Method: strings.ToUpper(req.Method), URL: req.URL, Header: http.Header{}}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	if bodyOff != 0 {
		hr.Body = append([]byte(nil), st.block(bodyOff)...)
	}
	client := st.sandbox.HTTP
	if client == nil {
		client = denyAll{plugin: st.plugin}
	}
	resp, err := client.Do(st.ctx, hr)
	if err != nil {
		kind := ErrHTTPFailed
		if errors.Is(err, ErrDenied) {
			kind = ErrDenied
		}
		st.fail(&CallError{Kind: kind, Detail: err.Error(), Err: err})
	}
	st.lastStatus = int32(resp.Status)
	st.lastHeaders = make(map[string]string, len(resp.Header))
	for k, v := range resp.Header {
		st.lastHeaders[strings.ToLower(k)] = strings.Join(v, ",")
	}
	if len(resp.Body) == 0 {
		return 0
	}
	return st.write(resp.Body)
}

func (st *callState) log(level logLevel, off uint64) {
	msg := st.block(off)
	st.logs.message(level, msg)
	st.arena.Free(off)
}

// importProblems lists the imports of a module that Warden cannot satisfy,
// so that Load can refuse the module with a message naming each of them.
func importProblems(imports []api.FunctionDefinition) []string {
	var probs []string
	for _, f := range imports {
		mod, name, _ := f.Import()
		switch mod {
		case "wasi_snapshot_preview1":
			continue // wazero provides the whole of WASI preview 1
		case hostEnvModule, userEnvModule:
			index := hostFuncIndex
			if mod == userEnvModule {
				index = userFuncIndex
			}
			hf, ok := index[name]
			if !ok {
				probs = append(probs, fmt.Sprintf("%s.%s (Warden does not provide this function)", mod, name))
				continue
			}
			if !sameTypes(hf.params, f.ParamTypes()) || !sameTypes(hf.results, f.ResultTypes()) {
				probs = append(probs, fmt.Sprintf("%s.%s has type %s; Warden provides %s", mod, name,
					sig(f.ParamTypes(), f.ResultTypes()), sig(hf.params, hf.results)))
			}
		default:
			probs = append(probs, fmt.Sprintf("%s.%s (unknown import module; plugins may import only %s, %s and wasi_snapshot_preview1)", mod, name, hostEnvModule, userEnvModule))
		}
	}
	sort.Strings(probs)
	return probs
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sig(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + name(params) + ") -> (" + name(results) + ")"
}
