//go:build !unix

package flock

import (
	"os"
	"sync"
)

// Without flock, locks only exclude holders within this process; the
// store's writes stay safe across processes because every file is written
// under a private temporary name and renamed, and identical content
// renamed twice is harmless.
var (
	mu   sync.Mutex
	held = map[string]bool{}
)

func tryLock(f *os.File) error {
	mu.Lock()
	defer mu.Unlock()
	if held[f.Name()] {
		return ErrBusy
	}
	held[f.Name()] = true
	return nil
}

func unlock(f *os.File) error {
	mu.Lock()
	defer mu.Unlock()
	delete(held, f.Name())
	return nil
}
