package wasmbin

import (
	"errors"
	"testing"

	"github.com/wardenmcp/warden/internal/testutil"
)

func TestCheckCounts(t *testing.T) {
	body := func(b ...byte) []byte { return append(appendUleb(nil, uint32(len(b))), b...) }
	for _, tc := range []struct {
		name string
		wasm []byte
		want error // nil: accepted
	}{
		{"ordinary", codeModule(ordinaryBody), nil},
		{"interrupt test module", interruptModule(), nil},
		// Found by FuzzAddInterruptChecks: wazero allocated 4 GB for it.
		{"type with 4,294,967,280 results", []byte("\x00asm\x01\x00\x00\x00\x01\t\x02`\x00\xf0\xff\xff\xff\x0f\v\v\x05\x00\xee\x7fh\f"), ErrUnsupported},
		{"more parameters than bytes", cat(header, section(1, 1, 0x60, 100, 0x7f, 0)), ErrMalformed},
		{"more types than bytes", cat(header, section(1, 100, 0x60, 0, 0)), ErrMalformed},
		{"a GC type form", cat(header, section(1, 1, 0x5e, 0x7f, 0)), ErrUnsupported},
		{"more imports than bytes", cat(header, section(2, 0x80, 0x80, 0x04)), ErrMalformed},
		{"over the export limit", cat(header, section(7, appendUleb(nil, maxExports+1)...)), ErrUnsupported},
		{"more functions than bytes", cat(header, section(3, 0xff, 0xff, 0xff, 0xff, 0x0f)), ErrUnsupported},
		{"data bytes past the section", cat(header, section(11, 1, 1, 0xff, 0xff, 0x03, 'h', 'i')), ErrMalformed},
		{"element indices past the section", cat(header, section(9, 1, 1, 0x00, 0xff, 0x7f, 0)), ErrMalformed},
		{"element expressions past the section", cat(header, section(9, 1, 5, 0x70, 0x70, 0xd2, 0, 0x0b)), ErrMalformed},
		{"too many locals", cat(header, section(10, cat([]byte{1}, body(2, 0xff, 0xff, 0x01, 0x7f, 0xff, 0xff, 0x01, 0x7f, 0x0b))...)), ErrUnsupported},
		{"local declarations past the body", cat(header, section(10, cat([]byte{1}, body(0x40, 0x0b))...)), ErrMalformed},
		{"function names past the section", cat(header, section(0, cat(name("name"), []byte{1, 3, 0x80, 0x80, 0x04})...)), ErrMalformed},
		{"local names past the section", cat(header, section(0, cat(name("name"), []byte{2, 4, 1, 0, 0x80, 0x04})...)), ErrMalformed},
		{"a name section that is fine", cat(header, section(0, cat(name("name"), []byte{1, 4, 1, 0, 1, 'f'})...)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCounts(tc.wasm)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckCounts = %v; want %v", err, tc.want)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// TestCheckCountsGo: a real Go plugin is within every limit.
func TestCheckCountsGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	if err := CheckCounts(testutil.ReadPlugin(t, "./examples/hello")); err != nil {
		t.Fatal(err)
	}
}
