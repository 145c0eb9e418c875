/*
 * The worker process: the hidden mode of the jobd binary that the CPU pool
 * (cpu.c) starts by re-executing itself with one SOCK_SEQPACKET socket on
 * a known descriptor. A plain blocking loop: read one request, run the
 * kernel, send one answer. No libevent and no jansson here: the process
 * must stay small and must not depend on anything the daemon set up.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

#define WORKER_MAX_FDS	4	/* received per message before refusing */

/* Any request the pool may send. */
union worker_req {
	struct cpu_msg_hdr	 hdr;
	struct cpu_msg_hello	 hello;
	struct cpu_msg_count	 count;
	struct cpu_msg_squares	 squares;
	struct cpu_msg_spin	 spin;
};

static int	 worker_fd = -1;

/* Answers, the largest being a squares reply with every value. */
static uint64_t	 worker_out[CPU_MSG_MAX / sizeof (uint64_t) + 1];

/* Send one message; the pool going away ends the worker. */
static void
worker_send(const void *buf, size_t len)
{
	ssize_t	 n;

	do {
		n = send(worker_fd, buf, len, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EPIPE || errno == ECONNRESET)
			_exit(0);
		log_warn("%s: send (%zu bytes)", __func__, len);
		_exit(1);
	}
}

/* Answer a task with an error: an errno value and a short message. */
static void __attribute__((format(printf, 3, 4)))
worker_error(uint64_t task, int code, const char *fmt, ...)
{
	struct cpu_msg_error	 m;
	va_list			 ap;

	memset(&m, 0, sizeof m);
	m.hdr.type = CPU_MSG_ERROR;
	m.hdr.len = sizeof m;
	m.hdr.task = task;
	m.code = code;
	va_start(ap, fmt);
	vsnprintf(m.msg, sizeof m.msg, fmt, ap);
	va_end(ap);
	worker_send(&m, sizeof m);
}

/* Put every signal back to its default and unblock them all. */
static void
worker_reset_signals(void)
{
	struct sigaction	 sa;
	sigset_t		 none;
	int			 sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);	/* KILL, STOP: EINVAL */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Read one request; returns its length, 0 when the pool closed the socket.
 * Received descriptors are returned in fds (at most WORKER_MAX_FDS; any
 * beyond that are closed and make nfds -1 so the caller refuses).
 */
static ssize_t
worker_recv(union worker_req *req, int *fds, int *nfds)
{
	ssize_t	 n;

	if ((n = fd_recv(worker_fd, req, sizeof *req, fds, WORKER_MAX_FDS,
	    nfds, 0)) == -1) {
		log_warn("%s: recvmsg", __func__);
		_exit(1);
	}
	return n;
}

/* Burn CPU for ms milliseconds of wall time; returns the time spun. */
static uint64_t
worker_spin(uint64_t ms)
{
	volatile uint64_t	 sink = 0;
	uint64_t		 start, end, i;

	start = now_mono_us();
	end = start + ms * 1000;
	while (now_mono_us() < end) {
		for (i = 0; i < 100000; i++)
			sink += i * i;
	}
	return (now_mono_us() - start) / 1000;
}

/* Count one byte range of the file the pool passed. */
static void
worker_count(const struct cpu_msg_count *req, int fd)
{
	struct cpu_msg_count_done	 m;
	struct count_result		 r;

	if (req->off > req->fsize || req->len > req->fsize - req->off) {
		worker_error(req->hdr.task, EINVAL, "range %llu+%llu past "
		    "the file size %llu", (unsigned long long)req->off,
		    (unsigned long long)req->len,
		    (unsigned long long)req->fsize);
		return;
	}
	memset(&r, 0, sizeof r);
	if (count_range(fd, req->off, req->len, req->fsize, &r) == -1) {
		worker_error(req->hdr.task, errno, "read: %s",
		    strerror(errno));
		return;
	}
	memset(&m, 0, sizeof m);
	m.hdr.type = CPU_MSG_COUNT_DONE;
	m.hdr.len = sizeof m;
	m.hdr.task = req->hdr.task;
	m.bytes = r.bytes;
	m.chars = r.chars;
	m.lines = r.lines;
	m.valid = r.valid ? 1 : 0;
	m.lead_skip = r.lead_skip;
	m.tail_extra = r.tail_extra;
	worker_send(&m, sizeof m);
}

/* Sum the squares of a range, with every square when asked. */
static void
worker_squares(const struct cpu_msg_squares *req)
{
	struct cpu_msg_squares_done	*m = (void *)worker_out;
	uint64_t			*v = (uint64_t *)(m + 1);
	unsigned __int128		 sum, sq;
	uint64_t			 count;
	int64_t				 i;
	size_t				 len;

	if (req->from > req->to || req->from < -SQUARES_LIMIT ||
	    req->to > SQUARES_LIMIT) {
		worker_error(req->hdr.task, EINVAL, "bad range %lld..%lld",
		    (long long)req->from, (long long)req->to);
		return;
	}
	count = (uint64_t)(req->to - req->from) + 1;
	if (req->values && count > SQUARES_MAX_VALUES) {
		worker_error(req->hdr.task, EINVAL, "%llu values asked",
		    (unsigned long long)count);
		return;
	}
	sum = squares_sum(req->from, req->to);

	len = sizeof *m;
	memset(m, 0, sizeof *m);
	m->hdr.type = CPU_MSG_SQUARES_DONE;
	m->hdr.task = req->hdr.task;
	m->count = count;
	m->sum_lo = (uint64_t)sum;
	m->sum_hi = (uint64_t)(sum >> 64);
	if (req->values) {
		m->nvalues = (uint32_t)count;
		for (i = req->from; i <= req->to; i++) {
			sq = (unsigned __int128)((__int128)i * i);
			*v++ = (uint64_t)sq;
			*v++ = (uint64_t)(sq >> 64);
		}
		len += (size_t)count * 2 * sizeof (uint64_t);
	}
	m->hdr.len = (uint32_t)len;
	worker_send(m, len);
}

/* Burn CPU as asked. */
static void
worker_spin_task(const struct cpu_msg_spin *req)
{
	struct cpu_msg_spin_done	 m;

	if (req->ms == 0 || req->ms > CPU_SPIN_MAX_MS) {
		worker_error(req->hdr.task, EINVAL, "bad spin time %llu ms",
		    (unsigned long long)req->ms);
		return;
	}
	memset(&m, 0, sizeof m);
	m.hdr.type = CPU_MSG_SPIN_DONE;
	m.hdr.len = sizeof m;
	m.hdr.task = req->hdr.task;
	m.spun_ms = worker_spin(req->ms);
	worker_send(&m, sizeof m);
}

/*
 * Wait for the pool's hello, check that it comes from our parent (which
 * may have died before PR_SET_PDEATHSIG was set), apply the limits it
 * carries and answer READY.
 */
static int
worker_hello(void)
{
	union worker_req	 req;
	struct cpu_msg_ready	 m;
	struct rlimit		 rl;
	ssize_t			 n;
	int			 fds[WORKER_MAX_FDS], nfds, i, sz;

	if ((n = worker_recv(&req, fds, &nfds)) == 0)
		return -1;
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (nfds != 0 || (size_t)n != sizeof req.hello ||
	    req.hdr.type != CPU_MSG_HELLO || req.hdr.len != sizeof req.hello ||
	    req.hello.version != CPU_PROTO_VERSION) {
		log_warnx("%s: bad hello (%zd bytes)", __func__, n);
		return -1;
	}
	if (getppid() != (pid_t)req.hello.ppid) {
		log_warnx("%s: parent %ld is gone", __func__,
		    (long)req.hello.ppid);
		return -1;
	}
	if (req.hello.log_level >= LOG_LEVEL_ERR &&
	    req.hello.log_level <= LOG_LEVEL_DEBUG)
		log_setlevel(req.hello.log_level);

	if (req.hello.memory_limit_mb != 0) {
		if (getrlimit(RLIMIT_AS, &rl) == -1) {
			log_warn("%s: getrlimit", __func__);
			return -1;
		}
		rl.rlim_cur = (rlim_t)req.hello.memory_limit_mb << 20;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_AS, &rl) == -1) {
			log_warn("%s: setrlimit", __func__);
			return -1;
		}
	}

	/* A squares reply with every value is bigger than the default. */
	sz = (int)CPU_MSG_MAX + 4096;
	if (setsockopt(worker_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) == -1)
		log_warn("%s: SO_SNDBUF", __func__);

	memset(&m, 0, sizeof m);
	m.hdr.type = CPU_MSG_READY;
	m.hdr.len = sizeof m;
	m.version = CPU_PROTO_VERSION;
	m.pid = (int32_t)getpid();
	worker_send(&m, sizeof m);
	return 0;
}

/* Check one request's size and descriptors, then run it. */
static void
worker_dispatch(union worker_req *req, size_t n, int *fds, int nfds)
{
	size_t	 want;
	int	 i;

	switch (req->hdr.type) {
	case CPU_MSG_COUNT:
		want = sizeof req->count;
		break;
	case CPU_MSG_SQUARES:
		want = sizeof req->squares;
		break;
	case CPU_MSG_SPIN:
		want = sizeof req->spin;
		break;
	default:
		want = 0;
		break;
	}
	if (want == 0 || n != want || req->hdr.len != want ||
	    nfds != (req->hdr.type == CPU_MSG_COUNT ? 1 : 0)) {
		worker_error(req->hdr.task, EPROTO, "bad request: type %u, "
		    "%zu bytes, %d fds", req->hdr.type, n, nfds);
		goto out;
	}
	switch (req->hdr.type) {
	case CPU_MSG_COUNT:
		worker_count(&req->count, fds[0]);
		break;
	case CPU_MSG_SQUARES:
		worker_squares(&req->squares);
		break;
	case CPU_MSG_SPIN:
		worker_spin_task(&req->spin);
		break;
	}
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/*
 * Read one request and answer it: 1 when answered (a refusal too), 0 when
 * the pool closed the socket, -1 for a message too short to answer.
 */
static int
worker_serve(void)
{
	union worker_req	 req;
	ssize_t			 n;
	int			 fds[WORKER_MAX_FDS], nfds, i;

	n = worker_recv(&req, fds, &nfds);
	if (n == 0 || (size_t)n < sizeof req.hdr) {
		/* The process ends here; closing matters to the test hook. */
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		if (n == 0)
			return 0;	/* the pool closed: recycled or stopping */
		log_warnx("%s: short message (%zd bytes)", __func__, n);
		return -1;
	}
	worker_dispatch(&req, (size_t)n, fds, nfds);
	return 1;
}

/*
 * Test hook (tests/fuzz_worker.c): serve one request from sock as the
 * worker's loop does, in this process, with no hello. Returns as
 * worker_serve(). The worker still exits if sock fails.
 */
int
worker_test_serve(int sock)
{
	int	 saved = worker_fd, r;

	worker_fd = sock;
	r = worker_serve();
	worker_fd = saved;
	return r;
}

/* The worker's main: fd is the pool's socket. Returns the exit status. */
int
worker_main(int fd)
{
	int			 type, r;
	socklen_t		 tlen = sizeof type;

	/*
	 * Die with the daemon. It may have died before this: the hello
	 * carries its pid, checked against getppid() in worker_hello().
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
		log_warn("%s: prctl", __func__);
		return 1;
	}
	worker_reset_signals();
	/* The command is "exe" after /proc/self/exe: name it for ps/top. */
	(void)prctl(PR_SET_NAME, "jobd-worker");

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1 ||
	    type != SOCK_SEQPACKET) {
		log_warnx("%s: descriptor %d is not the pool's socket",
		    __func__, fd);
		return 1;
	}
	worker_fd = fd;
	if (worker_hello() == -1)
		return 1;

	while ((r = worker_serve()) == 1)
		;
	return r == 0 ? 0 : 1;
}
