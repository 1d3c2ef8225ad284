package main

import (
	"flag"
	"strings"
)

// parseInterspersed parses flags that may come before or after the
// positional arguments (`gvmm boot KERNEL --mem 1G` as well as
// `gvmm boot --mem 1G KERNEL`), which the flag package alone does not
// allow. "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		if strings.HasPrefix(args[0], "-") && args[0] != "-" {
			continue
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
