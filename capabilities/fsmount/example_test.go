package fsmount_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/wardenmcp/warden/capabilities/fsmount"
)

// ExampleNew mounts a grant's filesystem entries, one read-only and one
// read-write, the way the runtime hands them to wazero, and shows what a
// guest gets when it tries to write to the first or to link out of the
// second.
func ExampleNew() {
	top, err := os.MkdirTemp("", "fsmount-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(top)
	reportsDir := filepath.Join(top, "reports")
	scratchDir := filepath.Join(top, "scratch")
	for _, d := range []string{reportsDir, scratchDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			log.Fatal(err)
		}
	}

	// filesystem:
	//   - {host: .../reports, guest: /reports, mode: ro}
	//   - {host: .../scratch, guest: /scratch, mode: rw}
	reports, err := fsmount.New(reportsDir, true)
	if err != nil {
		log.Fatal(err)
	}
	defer reports.Close()
	scratch, err := fsmount.New(scratchDir, false)
	if err != nil {
		log.Fatal(err)
	}
	defer scratch.Close()

	fsConfig := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(reports, "/reports")
	fsConfig = fsConfig.(sysfs.FSConfig).WithSysFSMount(scratch, "/scratch")
	moduleConfig := wazero.NewModuleConfig().WithFSConfig(fsConfig)
	_ = moduleConfig // passed to Runtime.InstantiateModule with the plugin

	// The guest's path_open, path_symlink, ... land on these methods.
	_, errno := reports.OpenFile("q1.txt", experimentalsys.O_WRONLY|experimentalsys.O_CREAT, 0o644)
	fmt.Println("create /reports/q1.txt:", errno)
	fmt.Println("symlink /scratch/x -> ../../..:", scratch.Symlink("../../..", "x"))
	_, errno = scratch.OpenFile("../reports/q1.txt", experimentalsys.O_RDONLY, 0)
	fmt.Println("open /scratch/../reports/q1.txt:", errno)
	fmt.Println("symlink /scratch/y -> notes.txt:", scratch.Symlink("notes.txt", "y") == 0)
	// Output:
	// create /reports/q1.txt: read-only file system
	// symlink /scratch/x -> ../../..: operation not permitted
	// open /scratch/../reports/q1.txt: operation not permitted
	// symlink /scratch/y -> notes.txt: true
}
