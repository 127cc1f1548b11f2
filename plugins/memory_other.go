//go:build !linux

package plugins

import "errors"

var errNoMmap = errors.New("copy-on-write guest memory is only implemented on Linux")

func reserve(uint64) ([]byte, error) { return nil, errNoMmap }

func release([]byte) {}

type imageFile struct{}

func newImageFile([]byte) (*imageFile, error) { return nil, errNoMmap }

func (*imageFile) mapInto([]byte) error { return errNoMmap }

func (*imageFile) close() error { return nil }
