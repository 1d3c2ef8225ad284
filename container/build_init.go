package container

// InitSource is gvmm-init's source, relative to the repository's root: the
// one C program of gvmm (container/cinit; why C: its header comment and
// the package documentation).
const InitSource = "container/cinit/gvmm-init.c"

// InitCompile returns the command line that compiles gvmm-init from src
// into out, as `make gvmm` does: static, so that no dynamic loader runs
// inside a container's new root, and warnings as errors.
func InitCompile(src, out string) []string {
	return []string{"cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", out, src}
}
