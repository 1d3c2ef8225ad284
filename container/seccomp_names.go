package container

import "sort"

// syscallEntry is one line of syscallTable.
type syscallEntry struct {
	name string
	nr   uint32
}

// syscallNumber returns the x86_64 number of the system call name.
func syscallNumber(name string) (uint32, bool) {
	i := sort.Search(len(syscallTable), func(i int) bool { return syscallTable[i].name >= name })
	if i < len(syscallTable) && syscallTable[i].name == name {
		return syscallTable[i].nr, true
	}
	return 0, false
}

// foreignSyscall reports whether name is a system call of another
// architecture only.
func foreignSyscall(name string) bool {
	i := sort.SearchStrings(foreignSyscalls, name)
	return i < len(foreignSyscalls) && foreignSyscalls[i] == name
}
