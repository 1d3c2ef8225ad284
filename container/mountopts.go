package container

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlag describes one mount(8) option that is a flag rather than file
// system data: set it (clear=false) or clear it.
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags lists the options config.json may carry that map to
// mount(2) flags (config.md "Mounts": options are those of mount(8)).
var mountFlags = map[string]mountFlag{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
}

// propagationFlags are applied by a second mount(2) call after the mount
// exists (mount(2): "a propagation type change ... only the propagation
// flags may be given").
var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parsedMount is a mount's options split into flags, propagation and data.
type parsedMount struct {
	flags       uintptr
	propagation uintptr
	data        string
}

// parseMountOptions splits options the way mount(8) does: known flag
// names become flags, propagation names are kept apart, anything else
// ("mode=755", "size=64k", "newinstance") is passed as data to the file
// system.
func parseMountOptions(opts []string) parsedMount {
	var p parsedMount
	var data []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
			continue
		}
		if f, ok := propagationFlags[o]; ok {
			p.propagation |= f
			continue
		}
		data = append(data, o)
	}
	p.data = strings.Join(data, ",")
	return p
}
