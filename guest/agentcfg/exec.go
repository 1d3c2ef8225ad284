package agentcfg

import (
	"errors"
	"path"
	"strings"
)

// errExecRelative is parseExec's complaint about a relative path.
var errExecRelative = errors.New("want an absolute path, then arguments separated by spaces, e.g. /usr/sbin/nginx")

// parseExec splits a gvmm.exec value into argv: words separated by spaces
// (on the kernel command line, quote the whole word to keep its spaces:
// "gvmm.exec=/bin/prog -v"). An argument cannot itself hold a space: put
// such a command line in a script. The program is an absolute path, since
// there is no PATH search to rely on in an initramfs. An empty value
// clears the setting.
func parseExec(value string) ([]string, error) {
	argv := strings.Fields(value)
	if len(argv) == 0 {
		return nil, nil
	}
	if !path.IsAbs(argv[0]) {
		return nil, errExecRelative
	}
	return argv, nil
}
