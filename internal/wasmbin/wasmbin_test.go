package wasmbin

import (
	"bytes"
	"errors"
	"testing"
)

// minimal is an empty module with one type section (no types).
var minimal = append(append([]byte{}, header...), 1, 1, 0)

func TestSetAndReadCustomSection(t *testing.T) {
	b, err := SetCustomSection(minimal, "warden.manifest", []byte(`{"name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := CustomSection(b, "warden.manifest")
	if err != nil || !ok || string(got) != `{"name":"x"}` {
		t.Fatalf("got %q %v %v", got, ok, err)
	}
	// Replacing keeps exactly one section.
	b2, err := SetCustomSection(b, "warden.manifest", []byte(`{"name":"y"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err = CustomSection(b2, "warden.manifest")
	if err != nil || !ok || string(got) != `{"name":"y"}` {
		t.Fatalf("after replace got %q %v %v", got, ok, err)
	}
	secs, _ := Sections(b2)
	if len(secs) != 2 || !bytes.Equal(b2[secs[0].Start:secs[0].End], []byte{1, 1, 0}) {
		t.Fatalf("sections = %+v", secs)
	}
}

func TestMalformed(t *testing.T) {
	dup := append(append([]byte{}, minimal...), 0, 3, 1, 'm', 'x')
	dup = append(dup, 0, 3, 1, 'm', 'y')
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00")},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00")},
		{"section overruns", append(append([]byte{}, header...), 1, 10, 0)},
		{"truncated size", append(append([]byte{}, header...), 1, 0x80)},
		{"bad custom name length", append(append([]byte{}, header...), 0, 1, 5)},
		{"bad utf8 name", append(append([]byte{}, header...), 0, 2, 1, 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sections(tt.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	if _, _, err := CustomSection(dup, "m"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("duplicate custom section: err = %v", err)
	}
}

func FuzzSections(f *testing.F) {
	f.Add(minimal)
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x03\x01mx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := Sections(b)
		if err != nil {
			return
		}
		// Every section lies within b, in order, without gaps.
		pos := len(header)
		for _, s := range secs {
			if s.Start != pos || s.End < s.Start || s.End > len(b) {
				t.Fatalf("section %+v does not follow offset %d", s, pos)
			}
			pos = s.End
		}
		if pos != len(b) {
			t.Fatalf("sections end at %d of %d", pos, len(b))
		}
		out, err := SetCustomSection(b, "warden.manifest", []byte("p"))
		if err != nil {
			t.Fatalf("SetCustomSection on a valid binary: %v", err)
		}
		if p, ok, err := CustomSection(out, "warden.manifest"); err != nil || !ok || string(p) != "p" {
			t.Fatalf("round trip: %q %v %v", p, ok, err)
		}
	})
}
