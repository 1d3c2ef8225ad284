// Command gvmm-init is the small program of gvmm containers (package
// gvmm/container/nsinit), with two jobs. As the first process of a
// container it builds the root file system and executes the workload;
// gvmm starts it from a sealed, read-only handle. As the waiter it replaces
// `gvmm container run` once the container runs, so that the process
// waiting for the container is small. Installed beside the gvmm binary it
// saves gvmm from re-executing itself as init, which costs several
// milliseconds more per start, and from staying resident while the
// container runs:
//
//	go build -o "$(dirname "$(command -v gvmm)")/gvmm-init" ./container/cmd/gvmm-init
package main

import (
	"os"

	"gvmm/container/nsinit"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == nsinit.WaitArg {
		os.Exit(nsinit.Wait(os.Args))
	}
	os.Exit(nsinit.Main(os.Args))
}
