package tasks

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[a-z2-7]{26}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !re.MatchString(id) || !validID(id) {
			t.Fatalf("NewID() = %q; want 26 characters of lower-case base32", id)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestStatusTerminal(t *testing.T) {
	for s, want := range map[Status]bool{Working: false, InputRequired: false, Completed: true, Failed: true, Cancelled: true} {
		if got := s.Terminal(); got != want {
			t.Errorf("%s.Terminal() = %v; want %v", s, got, want)
		}
	}
}

func TestLeaseMessage(t *testing.T) {
	got := leaseMessage("warden-7f9c", time.Date(2031, 5, 6, 9, 8, 7, 654321000, time.FixedZone("CEST", 2*3600)))
	want := `the replica "warden-7f9c" running it stopped renewing its lease at 2031-05-06T07:08:07Z; it probably stopped or lost the task store`
	if got != want {
		t.Errorf("leaseMessage = %q; want %q", got, want)
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []cursor{{0, "a"}, {1_700_000_000_123_456, NewID()}, {1<<63 - 1, strings.Repeat("Z", maxIDLen)}} {
		s := c.String()
		got, err := parseCursor(s)
		if err != nil || got != c {
			t.Errorf("parseCursor(%q) = %+v, %v; want %+v", s, got, err, c)
		}
		if len(s) > maxCursorLen {
			t.Errorf("cursor %+v encodes to %d characters, more than maxCursorLen %d", c, len(s), maxCursorLen)
		}
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		in, msg string
	}{
		{"", "no ':'"},
		{"!!", "not unpadded base64url"},
		{enc("1:ab") + "=", "not unpadded base64url"},
		{enc("123"), "no ':'"},
		{enc("x:a"), "does not start with a time"},
		{enc("-1:a"), "does not start with a time"},
		{enc("+1:a"), "does not start with a time"},
		{enc("01:a"), "does not start with a time"},
		{enc("99999999999999999999:a"), "does not start with a time"},
		{enc("1:"), "does not end with a task id"},
		{enc("1:a:b"), "does not end with a task id"},
		{strings.Repeat("A", maxCursorLen+1), "characters; a cursor has at most"},
		{"Mzp\r0", "not spelled as List spells cursors"},
	} {
		_, err := parseCursor(tc.in)
		if !errors.Is(err, ErrInvalidCursor) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("parseCursor(%q): %v; want ErrInvalidCursor saying %q", tc.in, err, tc.msg)
		}
	}
}

// FuzzCursor checks that parseCursor, which reads what clients send,
// never panics and accepts only the strings cursor.String makes.
func FuzzCursor(f *testing.F) {
	f.Add("")
	f.Add(cursor{at: 1_700_000_000_000_000, id: NewID()}.String())
	f.Add(cursor{at: 0, id: "x"}.String())
	f.Add("MTIzOmFiYw")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("parseCursor(%q): %v; want ErrInvalidCursor", s, err)
			}
			return
		}
		if c.at < 0 || !validID(c.id) {
			t.Fatalf("parseCursor(%q) = %+v: invalid", s, c)
		}
		if again := c.String(); again != s {
			t.Fatalf("parseCursor(%q) = %+v, which encodes as %q: two strings for one cursor", s, c, again)
		}
		if !c.after(c.at-1, c.id) || c.after(c.at, c.id) {
			t.Fatalf("cursor %+v orders itself wrongly", c)
		}
	})
}
