package plugins

import (
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/wardenmcp/warden/capabilities/fsmount"
)

// mountConfig builds the WASI filesystem of a call: one preopen per mount,
// each confined to its host directory by an os.Root (see fsmount for why
// wazero's DirFS is not enough). The returned function closes the mounts.
func mountConfig(mounts []Mount) (wazero.FSConfig, func(), error) {
	if len(mounts) == 0 {
		return nil, func() {}, nil
	}
	var opened []*fsmount.FS
	closeAll := func() {
		for _, m := range opened {
			m.Close()
		}
	}
	cfg := wazero.NewFSConfig()
	for _, m := range mounts {
		fs, err := fsmount.New(m.Host, m.ReadOnly)
		if err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("mount %s at %s: %w", m.Host, m.Guest, err)
		}
		opened = append(opened, fs)
		cfg = cfg.(sysfs.FSConfig).WithSysFSMount(fs, m.Guest)
	}
	return cfg, closeAll, nil
}
