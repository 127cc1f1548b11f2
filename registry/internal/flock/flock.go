// Package flock takes advisory whole-file locks that serialise writers
// across goroutines and processes.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrBusy is returned by TryLock when another holder has the lock.
var ErrBusy = errors.New("lock is held by another writer")

// Lock is an exclusive lock on a file. The lock is held on an open file
// description, so two Locks on the same path exclude each other even
// within one process.
type Lock struct {
	f *os.File
}

// Acquire opens (creating it, mode 0600) the file at path and waits until
// it holds an exclusive lock on it or ctx is done.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	delay := time.Millisecond
	for {
		l, err := TryLock(path)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrBusy) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, context.Cause(ctx))
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// TryLock is Acquire without waiting: it returns ErrBusy when the lock is
// held.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := tryLock(f); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
