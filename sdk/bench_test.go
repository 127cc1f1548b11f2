package sdk

import "testing"

// BenchmarkDispatchCall measures the SDK's own work for one call_tool
// (parse, validate, decode, run, encode), natively; in a plugin it runs
// compiled to Wasm.
func BenchmarkDispatchCall(b *testing.B) {
	r := testRegistry(b)
	r.prepare()
	input := []byte(`{"request":{"name":"greet","arguments":{"name":"Ada"}},"context":{}}`)
	for b.Loop() {
		if _, err := r.dispatch(exportCallTool, input); err != nil {
			b.Fatal(err)
		}
	}
}
