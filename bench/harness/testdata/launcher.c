/* launcher: run a command, report its pid at once and its resource use
 * when it ends.
 *
 * Why a C launcher and not rusage from Go? Go starts children with
 * clone(CLONE_VM|CLONE_VFORK): until execve the child shares the bench's
 * address space, and Linux keeps the larger of the old and the new peak
 * RSS across execve (ru_maxrss, getrusage(2)), so every child of a big Go
 * program would look big. This launcher is small and uses a real fork(),
 * so the peak it reports is the command's own. It is the same launcher
 * for every subject, so its own cost (well under 1 ms, ~1 MiB, not
 * counted in the child's rusage) is the same for all.
 *
 * It prints on stderr, each as one write (so it stays one line among the
 * command's own output):
 *   launch: pid=N                          right after fork
 *   launch: maxrss_kib=N utime_us=N stime_us=N status=S
 * and exits with the command's status (128+signal if it was killed).
 *
 * It stays in the process group the bench made for it, so the bench can
 * kill the launcher and everything it started with one kill(-pgid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *line) {
	ssize_t n = write(2, line, strlen(line));
	(void)n;
}

int main(int argc, char **argv) {
	char buf[160];
	if (argc < 2) {
		say("usage: launcher CMD [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("launcher: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	snprintf(buf, sizeof buf, "launch: pid=%d\n", (int)pid);
	say(buf);
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("launcher: wait4");
		return 2;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	snprintf(buf, sizeof buf, "launch: maxrss_kib=%ld utime_us=%lld stime_us=%lld status=%d\n",
		ru.ru_maxrss,
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, code);
	say(buf);
	return code;
}
