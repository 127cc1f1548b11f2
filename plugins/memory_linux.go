package plugins

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reserve maps n bytes of zeroed, private memory. MAP_NORESERVE: the
// reservation is the budget, most of which a call never touches.
func reserve(n uint64) ([]byte, error) {
	return unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
}

func release(b []byte) {
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		panic(fmt.Sprintf("plugins: munmap of guest memory: %v", err))
	}
}

// imageFile is a memory image in an anonymous in-memory file that instances
// map copy-on-write: every instance shares the image's pages until it writes
// to one, which then becomes its own copy.
type imageFile struct{ f *os.File }

func newImageFile(b []byte) (*imageFile, error) {
	fd, err := unix.MemfdCreate("warden-image", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "warden-image")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	// Sealed: nothing can change the image under the instances mapping it.
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, err
	}
	return &imageFile{f: f}, nil
}

// mapInto replaces the pages of dst (part of a reservation made by reserve)
// with a private, copy-on-write mapping of the image.
func (i *imageFile) mapInto(dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	_, _, errno := syscall.Syscall6(syscall.SYS_MMAP, uintptr(unsafe.Pointer(&dst[0])), uintptr(len(dst)),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_FIXED, i.f.Fd(), 0)
	if errno != 0 {
		return fmt.Errorf("mapping the memory image: %w", errno)
	}
	return nil
}

func (i *imageFile) close() error { return i.f.Close() }
