/*
 * gvmm-init: the first process of a gvmm container, and its waiter.
 *
 * This is the one program of gvmm written in C. Go cannot run Go code
 * between fork(2) and execve(2), so a container's init must be a whole
 * program, and a Go program pays for its runtime before main: on the
 * course machine a static Go program takes 5.8 ms from fork to exit, this
 * program 1.7 ms (issue 15; docs/07-containers.md "Where the time goes").
 * runc's nsexec and crun are C for the same reason.
 *
 * It does nothing of its own: every decision was taken by the runtime
 * (package gvmm/container) and sent as a Plan (package
 * gvmm/container/nsinit, plan.go: the field order below follows its
 * Encode; codec.go: unsigned varints and length-prefixed strings). The Go
 * version of the same steps, package nsinit, is the reference this file
 * is tested against (container_test.go runs every container with both).
 *
 * Two jobs, chosen by the arguments:
 *
 *   gvmm-init container __gvmm_container_init
 *	the container's init. Descriptors (nsinit/doc.go):
 *	3 READY pipe (kept by the workload), 4 plan (EOF means "go"),
 *	5 error pipe (close-on-exec: EOF alone is success), 6 console
 *	socket (terminal only), 7 the sealed handle this program ran from.
 *
 *   gvmm-init __gvmm_container_wait PID START_NS READY_FD EXE_FD FINISH...
 *	the waiter that replaces `gvmm container run` while a long-running
 *	container runs (container/handoff.go), forwarding SIGINT, SIGTERM
 *	and SIGHUP, printing the READY line, reaping PID and executing
 *	EXE_FD with FINISH... exit=CODE.
 *
 * Build: cc -static -Os -o gvmm-init gvmm-init.c (make gvmm). Static, so
 * that no dynamic loader runs inside the container's new root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

/*
 * The descriptors the runtime hands init (nsinit/init.go Layout): from
 * FIRST_FD on the KEEP the workload keeps (the READY pipe, or the caller's
 * --preserve-fds), then init's own four. KEEP_ENV says how many; 1 when
 * absent, which puts the plan at 4, the error pipe at 5, the console
 * socket at 6 and the sealed program at 7.
 */
#define FIRST_FD 3
#define KEEP_ENV "GVMM_INIT_KEEP_FDS"
#define MAX_KEEP 1000
static int PLAN_FD = 4, ERROR_FD = 5, CONSOLE_FD = 6, EXE_FD = 7;

/* The marking arguments (nsinit.Arg, nsinit.WaitArg). */
#define INIT_ARG "__gvmm_container_init"
#define WAIT_ARG "__gvmm_container_wait"
#define WAITER_NAME "gvmm-wait"

/* The plan's header (nsinit/plan.go planMagic, PlanVersion). */
#define PLAN_MAGIC "gvmm-plan"
#define PLAN_VERSION 1

/* maxCount bounds every length and count read from a plan (codec.go). */
#define MAX_COUNT (1u << 20)
/* maxPlan bounds the plan read from the pipe: a few KiB in practice. */
#define MAX_PLAN (16u << 20)

/* The READY byte (guest/ready.Magic) and its line (ready.Line). */
#define READY_MAGIC 123

/* PATH when the environment has none (nsinit/process.go defaultPath). */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The kinds of error init reports, the first byte on the error pipe. */
#define KIND_FAILED 'E'
#define KIND_NOT_FOUND 'N'

/* ------------------------------------------------------------------ */
/* Failing: one message on the error pipe, then exit 1.                */

/*
 * fail reports "WHAT: ERRNO TEXT" (or just WHAT when err is 0) with kind
 * and exits. The errno text is strerror's with its first letter lowered,
 * the form Go's syscall.Errno prints, so both inits say the same thing.
 */
static void __attribute__((noreturn, format(printf, 3, 4)))
fail(char kind, int err, const char *fmt, ...)
{
	char what[3072], text[256], msg[1 + sizeof what + sizeof text + 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	text[0] = 0;
	if (err != 0) {
		snprintf(text, sizeof text, "%s", strerror(err));
		if (text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'a' && text[1] <= 'z')
			text[0] += 'a' - 'A';
	}
	int n = snprintf(msg, sizeof msg, "%c%s%s%s", kind, what, err ? ": " : "", text);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = (int)strlen(msg);
	if (write(ERROR_FD, msg, (size_t)n) < 0) {
		/* The runtime is gone; nobody is left to tell. */
	}
	_exit(1);
}

#define FAILED(err, ...) fail(KIND_FAILED, (err), __VA_ARGS__)

/* ------------------------------------------------------------------ */
/* The profile (container/timings.go): with TIMINGS_ENV set to the      */
/* runtime's start on CLOCK_MONOTONIC, init prints its phases on stderr */
/* on the runtime's clock.                                             */

#define TIMINGS_ENV "GVMM_TIMINGS_START"

static long long timings_start = -1;

static void timing(const char *phase)
{
	struct timespec ts;
	if (timings_start < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
	dprintf(2, "gvmm: timing init-%s at %lld us\n", phase, (now - timings_start) / 1000);
}

/* ------------------------------------------------------------------ */
/* The plan (nsinit/plan.go).                                          */

struct mount_step {
	uint64_t kind; /* 0 mount, 1 remount (nsinit.KindMount, KindRemount) */
	char *source, *destination, *type, *data;
	uint64_t flags, remount, propagation;
	int file;
};

struct rlimit_step {
	uint64_t resource, soft, hard;
};

struct strs {
	size_t n;
	char **v; /* NULL-terminated, for execve */
};

struct plan {
	int cgroup_ns, loopback_up;
	uint64_t root_propagation;
	char *rootfs;
	size_t n_mounts;
	struct mount_step *mounts;
	int setup_dev;
	size_t n_sysctl;
	char **sysctl; /* key, value, key, value... */
	struct strs masked, readonly;
	int readonly_root;
	char *hostname;
	int set_hostname, terminal;
	uint64_t rows, cols;
	size_t n_rlimits;
	struct rlimit_step *rlimits;
	struct strs args, env;
	char *cwd;
	uint64_t uid, gid;
	size_t n_gids;
	gid_t *gids;
	uint64_t umask;
	int has_umask;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int no_new_privs;
	size_t n_filter;
	struct sock_filter *filter;
};

/* decoder reads what nsinit's encoder wrote; any error ends init. */
struct decoder {
	const unsigned char *p, *end;
};

static void short_plan(void) { FAILED(0, "plan: truncated"); }

static uint64_t u64(struct decoder *d)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (d->p == d->end)
			short_plan();
		unsigned char b = *d->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	short_plan(); /* more than ten bytes: not a varint */
	return 0;
}

static int boolean(struct decoder *d) { return u64(d) != 0; }

static size_t count(struct decoder *d)
{
	uint64_t n = u64(d);
	if (n > MAX_COUNT)
		short_plan();
	return (size_t)n;
}

static void *alloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL)
		FAILED(ENOMEM, "plan");
	return p;
}

/* str returns a NUL-terminated copy; a NUL inside is refused, since every
 * string ends up as a C string in a system call. */
static char *str(struct decoder *d)
{
	size_t n = count(d);
	if (n > (size_t)(d->end - d->p))
		short_plan();
	if (memchr(d->p, 0, n) != NULL)
		FAILED(0, "plan: a string holds a NUL byte");
	char *s = alloc(n + 1, 1);
	memcpy(s, d->p, n);
	d->p += n;
	return s;
}

static struct strs strs(struct decoder *d)
{
	struct strs s;
	s.n = count(d);
	if (s.n > (size_t)(d->end - d->p)) /* each string takes a byte at least */
		short_plan();
	s.v = alloc(s.n + 1, sizeof(char *));
	for (size_t i = 0; i < s.n; i++)
		s.v[i] = str(d);
	return s;
}

static void *array(struct decoder *d, size_t *n, size_t size)
{
	*n = count(d);
	if (*n > (size_t)(d->end - d->p))
		short_plan();
	return alloc(*n, size);
}

static void decode(const unsigned char *buf, size_t len, struct plan *p)
{
	struct decoder d = {buf, buf + len};
	char *magic = str(&d);
	if (strcmp(magic, PLAN_MAGIC) != 0)
		FAILED(0, "plan: not a gvmm plan (runtime gone?)");
	uint64_t version = u64(&d);
	if (version != PLAN_VERSION)
		FAILED(0, "plan version %llu, this init reads %d: gvmm-init and gvmm come from "
			  "different builds: install both from the same source (make gvmm)",
		       (unsigned long long)version, PLAN_VERSION);
	p->cgroup_ns = boolean(&d);
	p->loopback_up = boolean(&d);
	p->root_propagation = u64(&d);
	p->rootfs = str(&d);
	p->mounts = array(&d, &p->n_mounts, sizeof *p->mounts);
	for (size_t i = 0; i < p->n_mounts; i++) {
		struct mount_step *m = &p->mounts[i];
		m->kind = u64(&d);
		m->source = str(&d);
		m->destination = str(&d);
		m->type = str(&d);
		m->flags = u64(&d);
		m->data = str(&d);
		m->file = boolean(&d);
		m->remount = u64(&d);
		m->propagation = u64(&d);
	}
	p->setup_dev = boolean(&d);
	p->sysctl = array(&d, &p->n_sysctl, 2 * sizeof(char *));
	for (size_t i = 0; i < 2 * p->n_sysctl; i++)
		p->sysctl[i] = str(&d);
	p->masked = strs(&d);
	p->readonly = strs(&d);
	p->readonly_root = boolean(&d);
	p->hostname = str(&d);
	p->set_hostname = boolean(&d);
	p->terminal = boolean(&d);
	p->rows = u64(&d);
	p->cols = u64(&d);
	p->rlimits = array(&d, &p->n_rlimits, sizeof *p->rlimits);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		p->rlimits[i].resource = u64(&d);
		p->rlimits[i].soft = u64(&d);
		p->rlimits[i].hard = u64(&d);
	}
	p->args = strs(&d);
	p->env = strs(&d);
	p->cwd = str(&d);
	p->uid = u64(&d);
	p->gid = u64(&d);
	p->gids = array(&d, &p->n_gids, sizeof *p->gids);
	for (size_t i = 0; i < p->n_gids; i++)
		p->gids[i] = (gid_t)u64(&d);
	p->umask = u64(&d);
	p->has_umask = boolean(&d);
	p->bounding = u64(&d);
	p->effective = u64(&d);
	p->permitted = u64(&d);
	p->inheritable = u64(&d);
	p->ambient = u64(&d);
	p->no_new_privs = boolean(&d);
	p->filter = array(&d, &p->n_filter, sizeof *p->filter);
	if (p->n_filter > BPF_MAXINSNS)
		FAILED(0, "plan: seccomp filter of %zu instructions", p->n_filter);
	for (size_t i = 0; i < p->n_filter; i++) {
		p->filter[i].code = (uint16_t)u64(&d);
		p->filter[i].jt = (uint8_t)u64(&d);
		p->filter[i].jf = (uint8_t)u64(&d);
		p->filter[i].k = (uint32_t)u64(&d);
	}
	if (d.p != d.end)
		FAILED(0, "plan: %zu bytes of trailing garbage", (size_t)(d.end - d.p));
	if (p->args.n == 0)
		FAILED(0, "plan: no command");
}

/* read_plan reads fd 4 to EOF: the runtime closes its end only once init
 * is in its cgroup and network namespace. */
static void read_plan(struct plan *p)
{
	size_t cap = 4096, len = 0;
	unsigned char *buf = alloc(cap, 1);
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_PLAN)
				FAILED(0, "plan: larger than %u bytes", MAX_PLAN);
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				FAILED(ENOMEM, "read plan");
		}
		ssize_t n = read(PLAN_FD, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			FAILED(errno, "read plan");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(PLAN_FD);
	decode(buf, len, p);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* The root file system (nsinit/rootfs.go).                            */

/* Every lookup under the root stays there: ".." and absolute symlinks stop
 * at the root (openat2(2) RESOLVE_IN_ROOT), /proc magic links are refused. */
#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int openat2_(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .resolve = resolve};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* fd_path names an open fd for mount(2). */
static const char *fd_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

/* create_empty makes an empty regular file name in the directory dirfd
 * (an O_PATH handle, which openat cannot create in: reopen it first). */
static int create_empty(int dirfd, const char *name)
{
	int real = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (real < 0)
		return -1;
	int fd = openat(real, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	int saved = errno;
	close(real);
	if (fd < 0) {
		errno = saved;
		return -1;
	}
	return close(fd);
}

/*
 * open_in_root opens path under rootfd as an O_PATH handle, one component
 * at a time, creating missing directories and, when file is set, an empty
 * last component to bind a file onto.
 */
static int open_in_root(int rootfd, const char *path, int file)
{
	char *copy = strdup(path), *save = NULL;
	if (copy == NULL)
		FAILED(ENOMEM, "open %s", path);
	int dir = openat2_(rootfd, ".", O_PATH | O_CLOEXEC | O_DIRECTORY, 0);
	if (dir < 0)
		FAILED(errno, "open %s", path);
	for (char *part = strtok_r(copy, "/", &save); part != NULL;) {
		char *next_part = strtok_r(NULL, "/", &save);
		int last = next_part == NULL;
		if (strcmp(part, "..") == 0) /* the runtime sends clean paths */
			FAILED(0, "plan: mount destination %s is not a clean path", path);
		if (strcmp(part, ".") != 0) {
			int next = openat2_(dir, part, O_PATH | O_CLOEXEC, RESOLVE_FLAGS);
			if (next < 0 && errno == ENOENT) {
				int r = last && file ? create_empty(dir, part) : mkdirat(dir, part, 0755);
				if (r < 0 && errno != EEXIST)
					FAILED(errno, "create %s", path);
				next = openat2_(dir, part, O_PATH | O_CLOEXEC, RESOLVE_FLAGS);
			}
			if (next < 0)
				FAILED(errno, "open %s", path);
			close(dir);
			dir = next;
		}
		part = next_part;
	}
	free(copy);
	return dir;
}

/* remount changes the flags of the mount at target, keeping the flags the
 * kernel locks (mount_namespaces(7)). */
static int remount(const char *target, unsigned long flags)
{
	struct statfs st;
	if (statfs(target, &st) < 0)
		return -1;
	unsigned long locked = (unsigned long)st.f_flags &
			       (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	return mount("", target, NULL, flags | locked | MS_REMOUNT, NULL);
}

static void mount_step(int rootfd, const struct mount_step *m)
{
	char buf[32];
	int fd = open_in_root(rootfd, m->destination, m->file);
	const char *target = fd_path(fd, buf);
	if (m->kind == 1) {
		if (remount(target, m->flags) < 0)
			FAILED(errno, "remount %s", m->destination);
		close(fd);
		return;
	}
	if (mount(m->source, target, m->type, m->flags, m->data) < 0)
		FAILED(errno, "mount %s %s on %s", m->type, m->source, m->destination);
	close(fd);
	if (m->remount == 0 && m->propagation == 0)
		return;
	/* A remount or propagation change must name the new mount's root. */
	int top = open_in_root(rootfd, m->destination, m->file);
	target = fd_path(top, buf);
	if (m->remount != 0 && remount(target, m->remount) < 0)
		FAILED(errno, "remount %s", m->destination);
	if (m->propagation != 0 && mount("", target, NULL, m->propagation, NULL) < 0)
		FAILED(errno, "set propagation of %s", m->destination);
	close(top);
}

/* The default devices (config-linux.md "Default Devices"), bind-mounted
 * from the host so that the same code works in a user namespace. */
static const char *const default_devices[] = {"null", "zero", "full", "random", "urandom", "tty"};

/* The links every libc expects in /dev: target, name. */
static const char *const dev_symlinks[][2] = {
	{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},       {"/proc/kcore", "core"},
};

static void setup_dev(int rootfd)
{
	char host[64];
	for (size_t i = 0; i < sizeof default_devices / sizeof *default_devices; i++) {
		snprintf(host, sizeof host, "/dev/%s", default_devices[i]);
		struct mount_step m = {.source = host, .destination = host, .type = "",
				       .data = "", .flags = MS_BIND, .file = 1};
		mount_step(rootfd, &m);
	}
	int devfd = open_in_root(rootfd, "/dev", 0);
	int dir = openat(devfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		FAILED(errno, "open /dev");
	for (size_t i = 0; i < sizeof dev_symlinks / sizeof *dev_symlinks; i++)
		if (symlinkat(dev_symlinks[i][0], dir, dev_symlinks[i][1]) < 0 && errno != EEXIST)
			FAILED(errno, "link /dev/%s", dev_symlinks[i][1]);
	close(dir);
	close(devfd);
}

/* pivot makes rootfd the root and detaches the old one (pivot_root(2),
 * "pivot_root(".", ".")"): no path to the host's tree remains. */
static void pivot(int rootfd)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		FAILED(errno, "open /");
	if (fchdir(rootfd) < 0)
		FAILED(errno, "enter root file system");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		FAILED(errno, "pivot_root");
	if (fchdir(oldroot) < 0)
		FAILED(errno, "enter old root");
	/* A slave first, so the detach cannot propagate to the host. */
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		FAILED(errno, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		FAILED(errno, "detach old root");
	if (chdir("/") < 0)
		FAILED(errno, "chdir /");
	close(oldroot);
}

static void write_sysctl(const char *key, const char *value)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof path)
		FAILED(ENAMETOOLONG, "sysctl %s=%s", key, value);
	for (char *c = path + strlen("/proc/sys/"); *c; c++)
		if (*c == '.')
			*c = '/';
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		FAILED(errno, "sysctl %s=%s", key, value);
	size_t len = strlen(value);
	if (write(fd, value, len) != (ssize_t)len)
		FAILED(errno, "sysctl %s=%s", key, value);
	close(fd);
}

/* The masked and read-only paths (config-linux.md "Masked Paths",
 * "Readonly Paths"); a path that does not exist is skipped. */
static void mask_paths(const struct strs *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		struct stat st;
		if (stat(p, &st) < 0)
			continue;
		int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0")
					    : mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (r < 0)
			FAILED(errno, "mask %s", p);
	}
}

static void readonly_paths(const struct strs *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		struct stat st;
		if (stat(p, &st) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
			FAILED(errno, "bind %s read-only", p);
		if (remount(p, MS_BIND | MS_RDONLY) < 0)
			FAILED(errno, "remount %s read-only", p);
	}
}

static void setup_rootfs(const struct plan *p)
{
	/* Nothing mounted below may leak back to the host. */
	if (mount("", "/", NULL, p->root_propagation, NULL) < 0)
		FAILED(errno, "set propagation of /");
	/* pivot_root(2) needs the new root to be a mount point. */
	if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		FAILED(errno, "bind root file system %s", p->rootfs);
	int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		FAILED(errno, "open root file system");
	for (size_t i = 0; i < p->n_mounts; i++)
		mount_step(rootfd, &p->mounts[i]);
	if (p->setup_dev)
		setup_dev(rootfd);
	pivot(rootfd);
	close(rootfd);
	/* /proc/sys is still writable here; the read-only paths close it. */
	for (size_t i = 0; i < p->n_sysctl; i++)
		write_sysctl(p->sysctl[2 * i], p->sysctl[2 * i + 1]);
	mask_paths(&p->masked);
	readonly_paths(&p->readonly);
	if (p->readonly_root && remount("/", MS_BIND | MS_RDONLY) < 0)
		FAILED(errno, "remount / read-only");
}

/* ------------------------------------------------------------------ */
/* Network, terminal (nsinit/init.go, console.go).                     */

/* loopback_up: a new network namespace starts with lo down (netdevice(7)). */
static void loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		FAILED(errno, "loopback");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		FAILED(errno, "loopback flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		FAILED(errno, "loopback up");
	close(fd);
}

/* send_fd passes fd to the runtime over the console socket (SCM_RIGHTS). */
static void send_fd(int sock, int fd)
{
	char data[] = "pty";
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {data, 3};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof u.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sock, &msg, 0) < 0)
		FAILED(errno, "send pty to runtime");
}

/* setup_console creates the workload's terminal inside the container and
 * hands the master to the runtime, as runc's --console-socket does. */
static void setup_console(uint64_t rows, uint64_t cols)
{
	int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		FAILED(errno, "open /dev/pts/ptmx (is /dev/pts mounted?)");
	int unlock = 0, n;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0) /* pty(7) */
		FAILED(errno, "unlock pty");
	if (ioctl(master, TIOCGPTN, &n) < 0)
		FAILED(errno, "pty number");
	char slave_path[64];
	snprintf(slave_path, sizeof slave_path, "/dev/pts/%d", n);
	int slave = open(slave_path, O_RDWR | O_NOCTTY);
	if (slave < 0)
		FAILED(errno, "open %s", slave_path);
	if (rows != 0 || cols != 0) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			FAILED(errno, "console size");
	}
	/* /dev/console is the pty, when /dev is the container's own. */
	struct stat st;
	int bind = 1;
	if (stat("/dev/console", &st) < 0 && errno == ENOENT) {
		int fd = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			bind = 0; /* a read-only /dev: no console link, as with runc */
		else
			close(fd);
	}
	if (bind && mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
		FAILED(errno, "bind %s on /dev/console", slave_path);
	send_fd(CONSOLE_FD, master);
	close(CONSOLE_FD);
	close(master);
	/* Started with setsid: make the slave our controlling terminal. */
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		FAILED(errno, "controlling terminal");
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(slave, fd) < 0)
			FAILED(errno, "dup pty to fd %d", fd);
	if (slave > 2)
		close(slave);
}

/* ------------------------------------------------------------------ */
/* The workload (nsinit/process.go).                                   */

static int executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111) != 0;
}

/* look_path finds name like execvp(3), in the PATH of the container's
 * environment; it returns a malloc'ed path. */
static char *look_path(const char *name, const struct strs *env)
{
	if (strchr(name, '/') != NULL) {
		struct stat st;
		if (stat(name, &st) < 0)
			fail(KIND_NOT_FOUND, 0, "%s", name);
		if (!executable(name))
			fail(KIND_NOT_FOUND, 0, "%s: not an executable file", name);
		return strdup(name);
	}
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], "PATH=", 5) == 0)
			path = env->v[i] + 5;
	char *dirs = strdup(path), *save = NULL;
	if (dirs == NULL)
		FAILED(ENOMEM, "look up %s", name);
	for (char *dir = strtok_r(dirs, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		char *full;
		if (asprintf(&full, "%s/%s", dir, name) < 0)
			FAILED(ENOMEM, "look up %s", name);
		if (executable(full))
			return full;
		free(full);
	}
	fail(KIND_NOT_FOUND, 0, "\"%s\" not in PATH %s", name, path);
}

/* mkdir_all creates path and its parents (0755), like os.MkdirAll. */
static void mkdir_all(const char *path)
{
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof buf)
		FAILED(ENAMETOOLONG, "working directory %s", path);
	strcpy(buf, path);
	for (char *c = buf + 1;; c++) {
		if (*c == '/' || *c == 0) {
			char saved = *c;
			*c = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				FAILED(errno, "working directory %s", path);
			*c = saved;
			if (saved == 0)
				break;
		}
	}
}

/* load_filter installs the filter on this (the only) thread. */
static void load_filter(const struct plan *p)
{
	if (p->n_filter == 0)
		return;
	struct sock_fprog prog = {.len = (unsigned short)p->n_filter, .filter = p->filter};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		FAILED(errno, "seccomp");
}

/* drop_bounding removes every capability outside keep from the bounding
 * set; the first number the kernel does not know (EINVAL) ends the loop. */
static void drop_bounding(uint64_t keep)
{
	for (int c = 0; c < 64; c++) {
		if (keep & (1ull << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				return;
			FAILED(errno, "drop capability %d from the bounding set", c);
		}
	}
}

/* switch_user sets groups, gid and uid, keeping the permitted capabilities
 * across setuid (PR_SET_KEEPCAPS) for set_capabilities. Raw system calls:
 * glibc's wrappers would broadcast to threads this process does not have. */
static void switch_user(const struct plan *p)
{
	if (p->has_umask)
		umask((mode_t)p->umask);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		FAILED(errno, "keepcaps");
	/* A user namespace with setgroups "deny" refuses: an error only if
	 * groups were asked for (user_namespaces(7)). */
	if (syscall(SYS_setgroups, p->n_gids, p->gids) < 0 && (errno != EPERM || p->n_gids > 0))
		FAILED(errno, "setgroups");
	if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
		FAILED(errno, "setgid %llu", (unsigned long long)p->gid);
	if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
		FAILED(errno, "setuid %llu", (unsigned long long)p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		FAILED(errno, "keepcaps");
	/* prctl(2): changing credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		FAILED(errno, "set parent-death signal");
}

/* set_capabilities: capset(2) version 3 (two 32-bit words per set), then
 * the ambient ones that are both permitted and inheritable. */
static void set_capabilities(const struct plan *p)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)p->effective, (uint32_t)p->permitted, (uint32_t)p->inheritable},
		{(uint32_t)(p->effective >> 32), (uint32_t)(p->permitted >> 32),
		 (uint32_t)(p->inheritable >> 32)},
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		FAILED(errno, "capset");
	uint64_t ambient = p->ambient & p->permitted & p->inheritable;
	for (int c = 0; c < 64; c++)
		if ((ambient & (1ull << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			FAILED(errno, "raise ambient capability %d", c);
}

static void __attribute__((noreturn)) exec_process(const struct plan *p)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit lim = {p->rlimits[i].soft, p->rlimits[i].hard};
		if (setrlimit((int)p->rlimits[i].resource, &lim) < 0)
			FAILED(errno, "setrlimit %llu", (unsigned long long)p->rlimits[i].resource);
	}
	char *path = look_path(p->args.v[0], &p->env);
	const char *cwd = p->cwd[0] ? p->cwd : "/";
	mkdir_all(cwd);
	if (chdir(cwd) < 0)
		FAILED(errno, "working directory %s", cwd);
	/* Without no_new_privs a filter needs CAP_SYS_ADMIN, which the next
	 * steps drop: install it first then (runc does the same). */
	if (!p->no_new_privs)
		load_filter(p);
	drop_bounding(p->bounding);
	switch_user(p);
	set_capabilities(p);
	if (p->no_new_privs) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			FAILED(errno, "no_new_privs");
		load_filter(p);
	}
	timing("exec");
	execve(path, p->args.v, p->env.v);
	FAILED(errno, "exec %s", p->args.v[0]);
}

/*
 * close_inherited marks every descriptor from the plan's on close-on-exec,
 * so the workload keeps only its standard streams and the kept ones: a
 * leaked host directory is a way out of the root (runc's CVE-2024-21626).
 */
static void close_inherited(void)
{
	if (syscall(SYS_close_range, PLAN_FD, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* Before Linux 5.11: one by one, up to the descriptor limit. */
	struct rlimit lim;
	long max = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < (1u << 20) ? (long)lim.rlim_cur : 1024;
	for (long fd = PLAN_FD; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

static int init_main(void)
{
	struct plan p;
	memset(&p, 0, sizeof p);
	const char *start = getenv(TIMINGS_ENV);
	if (start != NULL)
		timings_start = atoll(start);
	timing("main");
	const char *keep = getenv(KEEP_ENV);
	if (keep != NULL) {
		char *end;
		long n = strtol(keep, &end, 10);
		if (*keep == 0 || *end != 0 || n < 1 || n > MAX_KEEP) {
			/* Where the error pipe is, is not known: say it on stderr. */
			fprintf(stderr, "gvmm-init: %s=%s: not a count of descriptors\n", KEEP_ENV, keep);
			return 1;
		}
		PLAN_FD = FIRST_FD + (int)n;
		ERROR_FD = PLAN_FD + 1;
		CONSOLE_FD = PLAN_FD + 2;
		EXE_FD = PLAN_FD + 3;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		FAILED(errno, "set parent-death signal");
	close(EXE_FD); /* of no use to the workload */
	close_inherited();
	read_plan(&p);
	timing("plan");
	/* Only now, inside the container's cgroup, so it becomes the root. */
	if (p.cgroup_ns && unshare(CLONE_NEWCGROUP) < 0)
		FAILED(errno, "cgroup namespace");
	if (p.loopback_up)
		loopback_up();
	setup_rootfs(&p);
	timing("rootfs");
	if (p.set_hostname && sethostname(p.hostname, strlen(p.hostname)) < 0)
		FAILED(errno, "sethostname");
	if (p.terminal)
		setup_console(p.rows, p.cols);
	else
		close(CONSOLE_FD);
	exec_process(&p);
}

/* ------------------------------------------------------------------ */
/* The waiter (nsinit/wait.go).                                        */

static int parse_int(const char *s, long long *out)
{
	char *end;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *s != 0 && *end == 0;
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int wait_main(int argc, char **argv)
{
	long long pid, start, ready_fd, exe_fd;
	if (argc < 7 || !parse_int(argv[2], &pid) || !parse_int(argv[3], &start) ||
	    !parse_int(argv[4], &ready_fd) || !parse_int(argv[5], &exe_fd) || pid <= 0) {
		fprintf(stderr, "gvmm-init: bad waiter arguments\n");
		return 2;
	}
	/* The signals to forward, and SIGCHLD, arrive on a signalfd. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("gvmm-init: signalfd");
		return 2;
	}
	prctl(PR_SET_NAME, WAITER_NAME, 0, 0, 0);
	int code = -1;
	while (code < 0) {
		int status;
		pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
		if (r == (pid_t)pid) {
			code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
			break;
		}
		if (r < 0 && errno != EINTR) {
			code = 255;
			break;
		}
		struct pollfd fds[2] = {{sfd, POLLIN, 0}, {(int)ready_fd, POLLIN, 0}};
		if (poll(fds, ready_fd >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD)
				kill((pid_t)pid, (int)si.ssi_signo);
		}
		if (ready_fd >= 0 && fds[1].revents) {
			unsigned char b;
			ssize_t n = read((int)ready_fd, &b, 1);
			if (n == 1 && b == READY_MAGIC)
				fprintf(stderr, "gvmm: READY at %lld us\n",
					(long long)(monotonic_ns() - start) / 1000);
			if (n != 1 || b == READY_MAGIC) {
				close((int)ready_fd);
				ready_fd = -1;
			}
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Finish: the runtime's binary records the exit and cleans up. */
	char **finish = calloc((size_t)argc - 6 + 2, sizeof(char *));
	if (finish == NULL)
		return code;
	for (int i = 6; i < argc; i++)
		finish[i - 6] = argv[i];
	char exit_arg[32], exe[32];
	snprintf(exit_arg, sizeof exit_arg, "exit=%d", code);
	finish[argc - 6] = exit_arg;
	extern char **environ;
	execve(fd_path((int)exe_fd, exe), finish, environ);
	fprintf(stderr, "gvmm-init: run gvmm to finish the container: %s\n", strerror(errno));
	return code;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], WAIT_ARG) == 0)
		return wait_main(argc, argv);
	if (argc < 2 || strcmp(argv[argc - 1], INIT_ARG) != 0) {
		fprintf(stderr, "gvmm-init: the first process of a gvmm container; it is started "
				"by `gvmm container run`, not by hand\n");
		return 2;
	}
	return init_main();
}
