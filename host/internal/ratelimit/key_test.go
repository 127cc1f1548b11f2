package ratelimit

import (
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct{ subject, tool, want string }{
		{"alice", "hello.greet", "alice:hello.greet"},
		{"alice@example.com", "hello.*", "alice@example.com:hello.*"},
		{"a:b", "c", "a%3Ab:c"},
		{"a", "b:c", "a:b%3Ac"},
		{"a b", "c", "a%20b:c"},
		{"100%", "t", "100%25:t"},
		{"", "", ":"},
		{"é", "t", "%C3%A9:t"},
	} {
		if got := Key(tc.subject, tc.tool); got != tc.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.subject, tc.tool, got, tc.want)
		}
	}

	// Pairs that a naive subject+":"+tool would merge.
	pairs := [][2]string{
		{"a:b", "c"}, {"a", "b:c"}, {"a%3Ab", "c"}, {"a b", "c"}, {"a", " b c"}, {"a\nb", "c"},
		{"a", "b.*"}, {"a", "b.c"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		k := Key(p[0], p[1])
		if q, ok := seen[k]; ok {
			t.Errorf("Key(%q, %q) = Key(%q, %q) = %q", p[0], p[1], q[0], q[1], k)
		}
		seen[k] = p
		if strings.ContainsAny(k, " \t\r\n") || strings.Count(k, ":") != 1 {
			t.Errorf("Key(%q, %q) = %q, want one colon and no spaces", p[0], p[1], k)
		}
	}
}

func TestKeyLongParts(t *testing.T) {
	long := strings.Repeat("s", 200)
	k := Key(long, "hello.greet")
	if len(k) > 2*maxPart || !strings.HasPrefix(k, "#") {
		t.Errorf("Key(200 bytes) = %q, want a hashed subject", k)
	}
	if Key(long, "t") == Key(long+"x", "t") {
		t.Error("long subjects differing in their last byte share a key")
	}
	// A part that is long only once escaped is hashed too.
	spaces := strings.Repeat(" ", 50)
	if k := Key(spaces, "t"); !strings.HasPrefix(k, "#") {
		t.Errorf("Key(50 spaces) = %q, want a hashed subject", k)
	}
	exact := strings.Repeat("s", maxPart)
	if k := Key(exact, "t"); k != exact+":t" {
		t.Errorf("Key(%d bytes) was hashed", maxPart)
	}
}

func FuzzKey(f *testing.F) {
	f.Add("a:b", "c", "a", "b:c")
	f.Add("a b", "c", "a%20b", "c")
	f.Add(strings.Repeat("x", 129), "t", "#", "t")
	f.Fuzz(func(t *testing.T, s1, t1, s2, t2 string) {
		if (s1 != s2 || t1 != t2) && Key(s1, t1) == Key(s2, t2) {
			t.Fatalf("Key(%q, %q) = Key(%q, %q) = %q", s1, t1, s2, t2, Key(s1, t1))
		}
	})
}
