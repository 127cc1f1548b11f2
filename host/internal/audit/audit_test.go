package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestConcurrentLinesAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Write(Record{Method: "tools/call", Tool: "hello.greet", Outcome: "ok", ArgsSHA256: HashArgs([]byte(`{"name":"x"}`))})
		}()
	}
	wg.Wait()
	// Rotation: the old file is moved away, Reopen starts a new one.
	os.Rename(path, path+".1")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write(Record{Method: "tools/call", Outcome: "unauthorized", Status: 401})
	l.Close()
	count := func(p string) int {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			n++
		}
		return n
	}
	if a, b := count(path+".1"), count(path); a != 50 || b != 1 {
		t.Fatalf("lines: %d before rotation, %d after; want 50 and 1", a, b)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := l.Write(Record{}); err == nil {
		t.Error("write after Close succeeded")
	}
}
