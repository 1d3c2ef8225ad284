/* rusage: run a command and report its peak resident set size.
 *
 * Why not read ru_maxrss from Go directly? Go starts children with
 * clone(CLONE_VM|CLONE_VFORK), so until execve the child shares the
 * parent's address space, and Linux carries the larger of the old and new
 * peak RSS across execve: every child of a big Go test binary would look
 * big. This launcher is small and uses a real fork(), so the measured peak
 * is the command's own (plus this launcher's ~1 MiB, the same for every
 * subject; measure `rusage true` to see it).
 *
 * Usage: rusage CMD [ARGS...]; prints "rusage: maxrss_kib=N" on stderr
 * and exits with the command's status. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: rusage CMD [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) { perror("fork"); return 2; }
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
	fprintf(stderr, "rusage: maxrss_kib=%ld\n", ru.ru_maxrss);
	if (WIFEXITED(status)) return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
