/*
 * The CPU engine. First the worker process alone, driven over its
 * socketpair by the test as the pool would (hello, requests, malformed
 * requests, limits); then the real daemon through the harness: charcount
 * against wc(1) with ranges split over 1 and 3 workers, path policy,
 * squares against the closed form, timeouts, cancels and killed workers,
 * priorities, recycling, resizing on reload, shutdown.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* --- helpers ------------------------------------------------------------- */

/* A small deterministic PRNG (xorshift64*), so failures replay. */
static uint64_t	 rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Decimal of an unsigned 128-bit number, independent of count.c. */
static void
dec128(unsigned __int128 v, char *buf, size_t len)
{
	char	 tmp[48], *p = tmp + sizeof tmp;

	*--p = '\0';
	do {
		*--p = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0);
	ck_assert_uint_lt(strlen(p), len);
	strcpy(buf, p);
}

/* 1^2 + ... + n^2. */
static unsigned __int128
sq_prefix(uint64_t n)
{
	unsigned __int128	 m = n;

	return m * (m + 1) * (2 * m + 1) / 6;
}

/* Sum of i^2 for from <= i <= to, by the closed form. */
static unsigned __int128
sq_closed(int64_t from, int64_t to)
{
	if (from >= 0)
		return sq_prefix((uint64_t)to) -
		    (from > 0 ? sq_prefix((uint64_t)from - 1) : 0);
	if (to <= 0)
		return sq_closed(-to, -from);
	return sq_prefix((uint64_t)-from) + sq_prefix((uint64_t)to);
}

static const char *
str_of(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static json_int_t
int_of(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

/* The pools.cpu object of daemon.status (a new reference). */
static json_t *
cpu_pool(struct harness *h)
{
	json_t	*r, *pool;

	r = harness_call(h, "daemon.status", json_object());
	pool = json_object_get(json_object_get(harness_ok(r), "pools"), "cpu");
	ck_assert_ptr_nonnull(pool);
	json_incref(pool);
	json_decref(r);
	return pool;
}

static json_int_t
restarts_of(struct harness *h, const char *why)
{
	json_t		*pool = cpu_pool(h);
	json_int_t	 n;

	n = int_of(json_object_get(pool, "restarts"), why);
	json_decref(pool);
	return n;
}

/* Does a worker in the pool have this pid? */
static int
pool_has_pid(json_t *pool, pid_t pid)
{
	json_t	*w;
	size_t	 i;

	json_array_foreach(json_object_get(pool, "workers"), i, w) {
		if (json_integer_value(json_object_get(w, "pid")) == pid)
			return 1;
	}
	return 0;
}

/*
 * Wait until the pool has exactly n workers, all idle with a pid (so a
 * killed worker has been replaced); returns the pool (new reference).
 */
static json_t *
await_pool(struct harness *h, int n)
{
	json_t	*pool, *w;
	size_t	 i;
	int	 tries, idle;

	for (tries = 0; tries < 1200; tries++) {
		pool = cpu_pool(h);
		idle = 0;
		json_array_foreach(json_object_get(pool, "workers"), i, w) {
			if (strcmp(str_of(w, "state"), "idle") == 0 &&
			    json_integer_value(json_object_get(w, "pid")) > 0)
				idle++;
		}
		if (idle == n &&
		    json_array_size(json_object_get(pool, "workers")) ==
		    (size_t)n)
			return pool;
		json_decref(pool);
		usleep(50000);
	}
	ck_abort_msg("the pool never had %d idle workers", n);
	return NULL;
}

/*
 * Wait until a worker runs job id with a pid other than not; check it is
 * a worker process of the daemon and return its pid.
 */
static pid_t
busy_pid(struct harness *h, const char *id, pid_t not)
{
	json_t	*pool, *w, *job;
	char	 path[64], buf[512], *p;
	size_t	 i;
	pid_t	 pid = 0;
	long	 ppid;
	int	 tries, fd;
	ssize_t	 n;

	for (tries = 0; tries < 1200 && pid == 0; tries++) {
		pool = cpu_pool(h);
		json_array_foreach(json_object_get(pool, "workers"), i, w) {
			job = json_object_get(w, "job");
			if (job != NULL &&
			    strcmp(json_string_value(job), id) == 0 &&
			    strcmp(str_of(w, "state"), "busy") == 0 &&
			    int_of(w, "pid") != not)
				pid = (pid_t)int_of(w, "pid");
		}
		json_decref(pool);
		if (pid == 0)
			usleep(20000);
	}
	ck_assert_msg(pid > 0, "job %s never ran on a worker", id);

	/* A real child of the daemon, re-executed in worker mode. */
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %ld", &ppid), 1);
	ck_assert_int_eq(ppid, harness_pid(h));
	ck_assert_ptr_nonnull(strstr(buf, "(jobd-worker)"));
	return pid;
}

/* Submit without waiting; returns the job id (malloc'ed). */
static char *
submit(struct harness *h, json_t *params)
{
	json_t	*r;
	char	*id;

	r = harness_call(h, "job.submit", params);
	id = xstrdup(str_of(harness_ok(r), "id"));
	json_decref(r);
	return id;
}

/* job.wait on id; returns the record (new reference). */
static json_t *
wait_job(struct harness *h, const char *id)
{
	json_t	*r, *rec;

	r = harness_call(h, "job.wait", json_pack("{s:s, s:i}", "id", id,
	    "timeout_ms", TEST_TIMEOUT_MS));
	rec = json_incref(harness_ok(r));
	json_decref(r);
	ck_assert_msg(job_state_parse(str_of(rec, "state")) >= JOB_DONE,
	    "job %s still %s", id, str_of(rec, "state"));
	return rec;
}

/* Submit a job that must be refused; returns the code, checks the field. */
static int
refused(struct harness *h, const char *type, json_t *args, const char *field)
{
	json_t	*r, *data;
	int	 code;

	r = harness_call(h, "job.submit", json_pack("{s:s, s:o, s:b}",
	    "type", type, "args", args, "wait", 1));
	code = harness_err(r);
	data = json_object_get(json_object_get(r, "error"), "data");
	if (field != NULL && code == RPC_INVALID_PARAMS)
		ck_assert_str_eq(str_of(data, "field"), field);
	ck_assert_msg(json_is_string(json_object_get(data, "reason")),
	    "no reason in the error");
	json_decref(r);
	return code;
}

/* The reason of a refused submit, for messages (static copy). */
static const char *
refused_reason(struct harness *h, const char *type, json_t *args)
{
	static char	 reason[256];
	json_t		*r;

	r = harness_call(h, "job.submit", json_pack("{s:s, s:o, s:b}",
	    "type", type, "args", args, "wait", 1));
	harness_err(r);
	snprintf(reason, sizeof reason, "%s", str_of(json_object_get(
	    json_object_get(r, "error"), "data"), "reason"));
	json_decref(r);
	return reason;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Wait until a process no longer exists (killed and reaped). */
static void
await_gone(pid_t pid)
{
	int	 i;

	for (i = 0; i < 1200 && kill(pid, 0) == 0; i++)
		usleep(50000);
	ck_assert_msg(kill(pid, 0) == -1 && errno == ESRCH,
	    "pid %ld still exists", (long)pid);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* --- the worker alone ----------------------------------------------------- */

struct wk {
	pid_t	 pid;
	int	 fd;
};

/* Fork a worker on a socketpair, as the pool's posix_spawn would. */
static struct wk
wk_start(uint32_t memory_mb, int32_t ppid)
{
	struct cpu_msg_hello	 hello;
	struct wk		 w;
	int			 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	w.pid = fork();
	ck_assert_int_ge(w.pid, 0);
	if (w.pid == 0) {
		close(sv[0]);
		_exit(worker_main(sv[1]));
	}
	close(sv[1]);
	w.fd = sv[0];

	memset(&hello, 0, sizeof hello);
	hello.hdr.type = CPU_MSG_HELLO;
	hello.hdr.len = sizeof hello;
	hello.version = CPU_PROTO_VERSION;
	hello.memory_limit_mb = memory_mb;
	hello.ppid = ppid;
	hello.log_level = LOG_LEVEL_WARN;
	ck_assert_int_eq(send(w.fd, &hello, sizeof hello, 0),
	    (ssize_t)sizeof hello);
	return w;
}

/* Receive one message (with a timeout); returns its length, 0 on EOF. */
static ssize_t
wk_recv(struct wk *w, void *buf, size_t len)
{
	struct timeval	 tv = { 60, 0 };
	ssize_t		 n;

	setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = recv(w->fd, buf, len, 0);
	ck_assert_int_ge(n, 0);
	return n;
}

static void
wk_ready(struct wk *w)
{
	struct cpu_msg_ready	 m;

	ck_assert_int_eq(wk_recv(w, &m, sizeof m), (ssize_t)sizeof m);
	ck_assert_uint_eq(m.hdr.type, CPU_MSG_READY);
	ck_assert_uint_eq(m.hdr.len, sizeof m);
	ck_assert_uint_eq(m.version, CPU_PROTO_VERSION);
	ck_assert_int_eq(m.pid, w->pid);
}

/* Close the socket and return the worker's exit status. */
static int
wk_stop(struct wk *w)
{
	int	 status;

	close(w->fd);
	ck_assert_int_eq(waitpid(w->pid, &status, 0), w->pid);
	return status;
}

/* Send a request, with fd as SCM_RIGHTS when not -1. */
static void
wk_send(struct wk *w, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof (int))];
	} cm;
	struct msghdr	 msg;
	struct iovec	 iov = { (void *)buf, len };
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof cm.buf;
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof (int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	ck_assert_int_eq(sendmsg(w->fd, &msg, 0), (ssize_t)len);
}

/* Expect an ERROR answer for task with errno code. */
static void
wk_expect_error(struct wk *w, uint64_t task, int code)
{
	struct cpu_msg_error	 m;

	ck_assert_int_eq(wk_recv(w, &m, sizeof m), (ssize_t)sizeof m);
	ck_assert_uint_eq(m.hdr.type, CPU_MSG_ERROR);
	ck_assert_uint_eq(m.hdr.task, task);
	ck_assert_int_eq(m.code, code);
	ck_assert_ptr_nonnull(memchr(m.msg, '\0', sizeof m.msg));
	ck_assert_uint_gt(strlen(m.msg), 0);
}

static void
wk_count(struct wk *w, uint64_t task, int fd, uint64_t off, uint64_t len,
    uint64_t fsize, struct count_result *r)
{
	struct cpu_msg_count		 req;
	struct cpu_msg_count_done	 m;

	memset(&req, 0, sizeof req);
	req.hdr.type = CPU_MSG_COUNT;
	req.hdr.len = sizeof req;
	req.hdr.task = task;
	req.off = off;
	req.len = len;
	req.fsize = fsize;
	wk_send(w, &req, sizeof req, fd);
	ck_assert_int_eq(wk_recv(w, &m, sizeof m), (ssize_t)sizeof m);
	ck_assert_uint_eq(m.hdr.type, CPU_MSG_COUNT_DONE);
	ck_assert_uint_eq(m.hdr.task, task);
	memset(r, 0, sizeof *r);
	r->bytes = m.bytes;
	r->chars = m.chars;
	r->lines = m.lines;
	r->valid = (int)m.valid;
	r->lead_skip = m.lead_skip;
	r->tail_extra = m.tail_extra;
}

START_TEST(test_worker_count)
{
	char		 path[] = "/tmp/jobd-cpu-wk.XXXXXX";
	unsigned char	 data[20000];
	struct count_result r, r2, whole;
	struct wk	 w;
	uint64_t	 chars = 0, lines = 0, cut;
	size_t		 i;
	int		 fd;

	/* Multibyte text: "a", "é", "€", an emoji and newlines. */
	for (i = 0; i < sizeof data; ) {
		switch (rng() % 5) {
		case 0:
			data[i++] = 'a';
			break;
		case 1:
			data[i++] = '\n';
			lines++;
			break;
		case 2:
			if (i + 2 > sizeof data)
				continue;
			memcpy(data + i, "\xc3\xa9", 2);
			i += 2;
			break;
		case 3:
			if (i + 3 > sizeof data)
				continue;
			memcpy(data + i, "\xe2\x82\xac", 3);
			i += 3;
			break;
		default:
			if (i + 4 > sizeof data)
				continue;
			memcpy(data + i, "\xf0\x9f\x98\x80", 4);
			i += 4;
			break;
		}
		chars++;
	}
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
	unlink(path);

	w = wk_start(0, (int32_t)getpid());
	wk_ready(&w);
	wk_count(&w, 1, fd, 0, sizeof data, sizeof data, &whole);
	ck_assert_uint_eq(whole.bytes, sizeof data);
	ck_assert_uint_eq(whole.chars, chars);
	ck_assert_uint_eq(whole.lines, lines);
	ck_assert_int_eq(whole.valid, 1);

	/* Two ranges cut anywhere merge back to the whole. */
	for (cut = 1; cut < sizeof data; cut += 997) {
		wk_count(&w, 2 + cut, fd, 0, cut, sizeof data, &r);
		wk_count(&w, 3 + cut, fd, cut, sizeof data - cut, sizeof data,
		    &r2);
		count_merge(&r, &r2);
		ck_assert_uint_eq(r.bytes, whole.bytes);
		ck_assert_uint_eq(r.chars, whole.chars);
		ck_assert_uint_eq(r.lines, whole.lines);
		ck_assert_int_eq(r.valid, 1);
	}
	close(fd);
	ck_assert_int_eq(wk_stop(&w), 0);	/* exit status 0 on EOF */
}
END_TEST

START_TEST(test_worker_squares_spin)
{
	static uint64_t			 buf[CPU_MSG_MAX / 8 + 16];
	struct cpu_msg_squares		 sq;
	struct cpu_msg_squares_done	*m = (void *)buf;
	struct cpu_msg_spin		 sp;
	struct cpu_msg_spin_done	 sd;
	const uint64_t			*v;
	unsigned __int128		 sum, val;
	struct wk			 w;
	ssize_t				 n;
	int64_t				 i;

	w = wk_start(0, (int32_t)getpid());
	wk_ready(&w);

	/* The biggest reply: 10000 values ending at 2^32 (2^64 squared). */
	memset(&sq, 0, sizeof sq);
	sq.hdr.type = CPU_MSG_SQUARES;
	sq.hdr.len = sizeof sq;
	sq.hdr.task = 7;
	sq.from = SQUARES_LIMIT - SQUARES_MAX_VALUES + 1;
	sq.to = SQUARES_LIMIT;
	sq.values = 1;
	wk_send(&w, &sq, sizeof sq, -1);
	n = wk_recv(&w, buf, sizeof buf);
	ck_assert_int_eq(n, (ssize_t)CPU_MSG_MAX);
	ck_assert_uint_eq(m->hdr.type, CPU_MSG_SQUARES_DONE);
	ck_assert_uint_eq(m->hdr.len, (size_t)n);
	ck_assert_uint_eq(m->hdr.task, 7);
	ck_assert_uint_eq(m->count, SQUARES_MAX_VALUES);
	ck_assert_uint_eq(m->nvalues, SQUARES_MAX_VALUES);
	sum = ((unsigned __int128)m->sum_hi << 64) | m->sum_lo;
	ck_assert(sum == sq_closed(sq.from, sq.to));
	v = (const uint64_t *)(m + 1);
	for (i = sq.from; i <= sq.to; i++, v += 2) {
		val = ((unsigned __int128)v[1] << 64) | v[0];
		ck_assert(val == (unsigned __int128)i * (unsigned __int128)i);
	}

	/* Negative numbers, no values. */
	sq.hdr.task = 8;
	sq.from = -1000;
	sq.to = 10;
	sq.values = 0;
	wk_send(&w, &sq, sizeof sq, -1);
	n = wk_recv(&w, buf, sizeof buf);
	ck_assert_int_eq(n, (ssize_t)sizeof *m);
	ck_assert_uint_eq(m->nvalues, 0);
	ck_assert_uint_eq(m->count, 1011);
	sum = ((unsigned __int128)m->sum_hi << 64) | m->sum_lo;
	ck_assert(sum == sq_closed(-1000, 10));

	memset(&sp, 0, sizeof sp);
	sp.hdr.type = CPU_MSG_SPIN;
	sp.hdr.len = sizeof sp;
	sp.hdr.task = 9;
	sp.ms = 20;
	wk_send(&w, &sp, sizeof sp, -1);
	ck_assert_int_eq(wk_recv(&w, &sd, sizeof sd), (ssize_t)sizeof sd);
	ck_assert_uint_eq(sd.hdr.type, CPU_MSG_SPIN_DONE);
	ck_assert_uint_eq(sd.hdr.task, 9);
	ck_assert_uint_ge(sd.spun_ms, 20);
	ck_assert_int_eq(wk_stop(&w), 0);
}
END_TEST

/* Malformed requests are answered with errors; the worker carries on. */
START_TEST(test_worker_bad_requests)
{
	struct cpu_msg_count	 cnt;
	struct cpu_msg_squares	 sq;
	struct cpu_msg_spin	 sp;
	struct cpu_msg_spin_done sd;
	unsigned char		 big[sizeof sq + 8];
	struct wk		 w;
	int			 fd;

	w = wk_start(0, (int32_t)getpid());
	wk_ready(&w);

	/* A count without its descriptor. */
	memset(&cnt, 0, sizeof cnt);
	cnt.hdr.type = CPU_MSG_COUNT;
	cnt.hdr.len = sizeof cnt;
	cnt.hdr.task = 1;
	wk_send(&w, &cnt, sizeof cnt, -1);
	wk_expect_error(&w, 1, EPROTO);

	/* A descriptor where none belongs. */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	memset(&sp, 0, sizeof sp);
	sp.hdr.type = CPU_MSG_SPIN;
	sp.hdr.len = sizeof sp;
	sp.hdr.task = 2;
	sp.ms = 1;
	wk_send(&w, &sp, sizeof sp, fd);
	wk_expect_error(&w, 2, EPROTO);

	/* A range past the end of the file. */
	cnt.hdr.task = 3;
	cnt.off = 10;
	cnt.len = 1;
	cnt.fsize = 10;
	wk_send(&w, &cnt, sizeof cnt, fd);
	wk_expect_error(&w, 3, EINVAL);
	close(fd);

	/* Wrong length: the header says more than was sent, or less. */
	memset(&sq, 0, sizeof sq);
	sq.hdr.type = CPU_MSG_SQUARES;
	sq.hdr.len = sizeof sq + 8;
	sq.hdr.task = 4;
	wk_send(&w, &sq, sizeof sq, -1);
	wk_expect_error(&w, 4, EPROTO);
	memset(big, 0, sizeof big);
	sq.hdr.len = sizeof big;
	sq.hdr.task = 5;
	memcpy(big, &sq, sizeof sq);
	wk_send(&w, big, sizeof big, -1);
	wk_expect_error(&w, 5, EPROTO);

	/* Unknown type; out-of-range arguments. */
	sq.hdr.type = 999;
	sq.hdr.len = sizeof sq;
	sq.hdr.task = 6;
	wk_send(&w, &sq, sizeof sq, -1);
	wk_expect_error(&w, 6, EPROTO);
	sq.hdr.type = CPU_MSG_SQUARES;
	sq.hdr.task = 7;
	sq.from = 5;
	sq.to = 4;
	wk_send(&w, &sq, sizeof sq, -1);
	wk_expect_error(&w, 7, EINVAL);
	sq.hdr.task = 8;
	sq.from = 0;
	sq.to = SQUARES_LIMIT + 1;
	wk_send(&w, &sq, sizeof sq, -1);
	wk_expect_error(&w, 8, EINVAL);
	sq.hdr.task = 9;
	sq.to = SQUARES_MAX_VALUES;	/* 10001 numbers */
	sq.values = 1;
	wk_send(&w, &sq, sizeof sq, -1);
	wk_expect_error(&w, 9, EINVAL);
	sp.hdr.task = 10;
	sp.ms = 0;
	wk_send(&w, &sp, sizeof sp, -1);
	wk_expect_error(&w, 10, EINVAL);
	sp.hdr.task = 11;
	sp.ms = CPU_SPIN_MAX_MS + 1;
	wk_send(&w, &sp, sizeof sp, -1);
	wk_expect_error(&w, 11, EINVAL);

	/* Still serving. */
	sp.hdr.task = 12;
	sp.ms = 1;
	wk_send(&w, &sp, sizeof sp, -1);
	ck_assert_int_eq(wk_recv(&w, &sd, sizeof sd), (ssize_t)sizeof sd);
	ck_assert_uint_eq(sd.hdr.type, CPU_MSG_SPIN_DONE);
	ck_assert_uint_eq(sd.hdr.task, 12);

	/* A message shorter than a header ends the worker. */
	ck_assert_int_eq(send(w.fd, "x", 1, 0), 1);
	ck_assert_int_eq(wk_recv(&w, &sd, sizeof sd), 0);
	ck_assert_int_eq(WEXITSTATUS(wk_stop(&w)), 1);
}
END_TEST

/* The hello: a wrong parent or a bad hello ends it; limits applied. */
START_TEST(test_worker_hello)
{
	struct wk	 w;
	char		 path[64], line[256], buf[64];
	FILE		*f;
	long long	 soft = -1, hard = -1;
	int		 sv[2];
	pid_t		 pid;

	/* Not our parent: no READY, exit 1. */
	w = wk_start(0, (int32_t)getpid() + 100000);
	ck_assert_int_eq(wk_recv(&w, buf, sizeof buf), 0);
	ck_assert_int_eq(WEXITSTATUS(wk_stop(&w)), 1);

	/* Garbage instead of a hello. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(worker_main(sv[1]));
	}
	close(sv[1]);
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(send(sv[0], buf, 24, 0), 24);
	w.pid = pid;
	w.fd = sv[0];
	ck_assert_int_eq(wk_recv(&w, buf, sizeof buf), 0);
	ck_assert_int_eq(WEXITSTATUS(wk_stop(&w)), 1);

	/* Not a SEQPACKET socket at all. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(worker_main(open("/dev/null", O_RDONLY)));
	ck_assert_int_eq(waitpid(pid, &sv[0], 0), pid);
	ck_assert_int_eq(WEXITSTATUS(sv[0]), 1);

	/* memory_limit_mb becomes RLIMIT_AS. */
	w = wk_start(64, (int32_t)getpid());
	wk_ready(&w);
	snprintf(path, sizeof path, "/proc/%ld/limits", (long)w.pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "Max address space", 17) == 0)
			ck_assert_int_eq(sscanf(line + 17, "%lld %lld", &soft,
			    &hard), 2);
	}
	fclose(f);
	ck_assert_int_eq(soft, 64LL << 20);
	ck_assert_int_eq(hard, 64LL << 20);
	ck_assert_int_eq(wk_stop(&w), 0);
}
END_TEST

/* --- the daemon: charcount -------------------------------------------------- */

struct cc_file {
	const char	*name;
	unsigned char	*data;
	size_t		 len;
	int		 valid;
};

/* Append a UTF-8 character of n bytes (1..4) or a newline (n == 0). */
static size_t
put_char(unsigned char *p, int n)
{
	static const char *const seqs[] = {
		"\n", "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"
	};

	memcpy(p, seqs[n], strlen(seqs[n]));
	return strlen(seqs[n]);
}

/* Fill len bytes with random valid UTF-8 (ends exactly at len). */
static void
fill_utf8(unsigned char *p, size_t len)
{
	size_t	 i = 0;
	int	 n;

	while (i < len) {
		n = (int)(rng() % 5);
		if ((size_t)(n == 0 ? 1 : n) > len - i)
			n = 1;
		i += put_char(p + i, n);
	}
}

/* Non-continuation bytes: the code points of valid text. */
static uint64_t
ref_chars(const unsigned char *p, size_t len)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < len; i++)
		n += (p[i] & 0xc0) != 0x80;
	return n;
}

static uint64_t
ref_lines(const unsigned char *p, size_t len)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

/* wc -m / wc -l of a file in a UTF-8 locale. */
static long long
wc_of(const char *flag, const char *path)
{
	char		*cmd, *out;
	long long	 n;
	int		 st;

	xasprintf(&cmd, "LC_ALL=C.UTF-8 wc %s < '%s'", flag, path);
	out = harness_sh(cmd, &st);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(sscanf(out, "%lld", &n), 1);
	free(cmd);
	free(out);
	return n;
}

/* Sum of jobs_total over the pool, and per worker into tot[]. */
static long long
pool_tasks(struct harness *h, long long *tot, size_t ntot)
{
	json_t		*pool = cpu_pool(h), *w;
	long long	 sum = 0;
	size_t		 i;

	json_array_foreach(json_object_get(pool, "workers"), i, w) {
		if (i < ntot)
			tot[i] = int_of(w, "jobs_total");
		sum += int_of(w, "jobs_total");
	}
	json_decref(pool);
	return sum;
}

/* charcount over files cut in 4 KiB ranges, with 1 then 3 workers. */
START_TEST(test_charcount)
{
	const int	 nworkers = _i == 0 ? 1 : 3;
	char		 warg[32];
	const char	*args[] = { "-o", warg, "-o", "cpu.chunk_bytes=4096",
	    NULL };
	struct harness	*h;
	struct cc_file	 files[8];
	json_t		*rec, *res, *pool;
	const char	*path;
	char		 name[64];
	long long	 before[3], after[3], sum0, sum1;
	size_t		 i, nfiles = 0, k;
	unsigned char	*p;

	snprintf(warg, sizeof warg, "cpu.workers=%d", nworkers);
	h = harness_start(args);
	pool = await_pool(h, nworkers);
	json_decref(pool);

	/* ASCII lines, 100 KB. */
	p = xmalloc(100000);
	for (i = 0; i < 100000; i++)
		p[i] = (i % 61 == 60) ? '\n' : (unsigned char)('a' + i % 26);
	files[nfiles++] = (struct cc_file){ "ascii", p, 100000, 1 };

	/* Random multibyte text: sequences straddle every boundary. */
	p = xmalloc(300001);
	fill_utf8(p, 300001);
	files[nfiles++] = (struct cc_file){ "multibyte", p, 300001, 1 };

	/*
	 * 8 x 4 KiB, so ranges are exactly 4 KiB: a 4-byte sequence over
	 * the first cut, a 3-byte one over the second, a 2-byte one over
	 * the third.
	 */
	p = xmalloc(32768);
	fill_utf8(p, 4094);
	memcpy(p + 4094, "\xf0\x9f\x98\x80", 4);
	fill_utf8(p + 4098, 8191 - 4098);
	memcpy(p + 8191, "\xe2\x82\xac", 3);
	fill_utf8(p + 8194, 12287 - 8194);
	memcpy(p + 12287, "\xc3\xa9", 2);
	fill_utf8(p + 12289, 32768 - 12289);
	files[nfiles++] = (struct cc_file){ "straddle", p, 32768, 1 };

	/* Invalid: stray continuation, 0xff, a sequence cut at a range. */
	p = xmalloc(32768);
	fill_utf8(p, 32768);
	p[100] = 0x80;
	p[9000] = 0xff;
	memcpy(p + 12286, "\xe2\x82", 2);	/* 3-byte lead, one missing */
	p[12288] = 'z';
	files[nfiles++] = (struct cc_file){ "invalid", p, 32768, 0 };

	/* Only the cut sequence over a range boundary is wrong. */
	p = xmalloc(16384);
	memset(p, 'q', 16384);
	memcpy(p + 8190, "\xf0\x9f\x98", 3);	/* 4-byte lead, one missing */
	files[nfiles++] = (struct cc_file){ "cut", p, 16384, 0 };

	files[nfiles++] = (struct cc_file){ "empty", xmalloc(1), 0, 1 };
	p = xmalloc(5);
	memcpy(p, "no\xc3\xa9l", 5);	/* no final newline */
	files[nfiles++] = (struct cc_file){ "short", p, 5, 1 };

	for (i = 0; i < nfiles; i++) {
		snprintf(name, sizeof name, "%s.txt", files[i].name);
		path = harness_file(h, name, files[i].data, files[i].len);
		rec = harness_run(h, "charcount", json_pack("{s:s}", "path",
		    path));
		ck_assert_msg(strcmp(str_of(rec, "state"), "done") == 0,
		    "%s: %s", files[i].name, str_of(rec, "state"));
		res = json_object_get(rec, "result");
		ck_assert_int_eq(int_of(res, "bytes"), (json_int_t)files[i].len);
		ck_assert_msg(json_is_boolean(json_object_get(res,
		    "valid_utf8")), "valid_utf8 is not a boolean");
		ck_assert_msg(json_is_true(json_object_get(res, "valid_utf8")) ==
		    files[i].valid, "%s: valid_utf8 wrong", files[i].name);
		ck_assert_int_eq(int_of(res, "lines"), wc_of("-l", path));
		ck_assert_int_eq(int_of(res, "lines"),
		    (json_int_t)ref_lines(files[i].data, files[i].len));
		ck_assert_int_eq(int_of(res, "chars"),
		    (json_int_t)ref_chars(files[i].data, files[i].len));
		if (files[i].valid)
			ck_assert_msg(int_of(res, "chars") == wc_of("-m", path),
			    "%s: chars %lld, wc -m %lld", files[i].name,
			    (long long)int_of(res, "chars"),
			    wc_of("-m", path));
		json_decref(rec);
	}

	/* A 1 MB file: 256 ranges, spread over every worker. */
	p = xmalloc(1 << 20);
	fill_utf8(p, 1 << 20);
	path = harness_file(h, "big.txt", p, 1 << 20);
	pool = await_pool(h, nworkers);
	json_decref(pool);
	sum0 = pool_tasks(h, before, 3);
	rec = harness_run(h, "charcount", json_pack("{s:s}", "path", path));
	ck_assert_str_eq(str_of(rec, "state"), "done");
	res = json_object_get(rec, "result");
	ck_assert_int_eq(int_of(res, "bytes"), 1 << 20);
	ck_assert_int_eq(int_of(res, "chars"), wc_of("-m", path));
	ck_assert_int_eq(int_of(res, "lines"), wc_of("-l", path));
	ck_assert(json_is_true(json_object_get(res, "valid_utf8")));
	json_decref(rec);
	sum1 = pool_tasks(h, after, 3);
	ck_assert_int_eq(sum1 - sum0, 256);
	for (k = 0; k < (size_t)nworkers; k++)
		ck_assert_msg(after[k] > before[k], "worker %zu got no range",
		    k);
	free(p);

	for (i = 0; i < nfiles; i++)
		free(files[i].data);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* Without splitting (default chunk_bytes), the same answers. */
START_TEST(test_charcount_whole)
{
	const char	*args[] = { "-o", "cpu.workers=2", NULL };
	struct harness	*h;
	json_t		*rec, *res;
	const char	*path;
	unsigned char	*p;
	long long	 before[2], sum0;

	h = harness_start(args);
	json_decref(await_pool(h, 2));
	p = xmalloc(200000);
	fill_utf8(p, 200000);
	p[150000] = 0xfe;
	path = harness_file(h, "one.txt", p, 200000);
	sum0 = pool_tasks(h, before, 2);
	rec = harness_run(h, "charcount", json_pack("{s:s}", "path", path));
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(rec, "attempts"), 1);
	res = json_object_get(rec, "result");
	ck_assert_int_eq(int_of(res, "bytes"), 200000);
	ck_assert_int_eq(int_of(res, "chars"), (json_int_t)ref_chars(p,
	    200000));
	ck_assert_int_eq(int_of(res, "lines"), wc_of("-l", path));
	ck_assert(json_is_false(json_object_get(res, "valid_utf8")));
	json_decref(rec);
	ck_assert_int_eq(pool_tasks(h, before, 2) - sum0, 1);
	free(p);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* Paths: missing, directory, FIFO, relative, outside the roots. */
START_TEST(test_charcount_paths)
{
	char		 dir[] = "/tmp/jobd-cpu.XXXXXX", in[64];
	char		 roots[PATH_MAX + 32], p[PATH_MAX], q[PATH_MAX];
	const char	*args[] = { "-o", roots, "-o", "cpu.workers=1", NULL };
	struct harness	*h;
	json_t		*rec, *r;
	const char	*reason;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(in, sizeof in, "%s/in", dir);
	ck_assert_int_eq(mkdir(in, 0755), 0);
	snprintf(p, sizeof p, "%s/out", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/out/secret", dir);
	write_file(p, "secret\n", 7);
	snprintf(q, sizeof q, "%s/link", in);
	ck_assert_int_eq(symlink(p, q), 0);
	snprintf(p, sizeof p, "%s/ok", in);
	write_file(p, "fine\n", 5);
	snprintf(q, sizeof q, "%s/oklink", in);
	ck_assert_int_eq(symlink(p, q), 0);
	snprintf(p, sizeof p, "%s/dir", in);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/fifo", in);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	snprintf(roots, sizeof roots, "files.allowed_roots=%s", in);

	h = harness_start(args);

	/* Allowed: a file and a symlink that stays inside. */
	snprintf(p, sizeof p, "%s/ok", in);
	rec = harness_run(h, "charcount", json_pack("{s:s}", "path", p));
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(json_object_get(rec, "result"), "chars"), 5);
	json_decref(rec);
	snprintf(p, sizeof p, "%s/oklink", in);
	rec = harness_run(h, "charcount", json_pack("{s:s}", "path", p));
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(json_object_get(rec, "result"), "lines"), 1);
	json_decref(rec);

	/* A symlink out of the roots, and the target itself. */
	snprintf(p, sizeof p, "%s/link", in);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s}", "path", p),
	    NULL), RPC_FORBIDDEN);
	snprintf(p, sizeof p, "%s/out/secret", dir);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s}", "path", p),
	    NULL), RPC_FORBIDDEN);

	snprintf(p, sizeof p, "%s/missing", in);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s}", "path", p),
	    "path"), RPC_INVALID_PARAMS);
	reason = refused_reason(h, "charcount", json_pack("{s:s}", "path", p));
	ck_assert_msg(strstr(reason, "no such file") != NULL, "%s", reason);

	snprintf(p, sizeof p, "%s/dir", in);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s}", "path", p),
	    "path"), RPC_INVALID_PARAMS);
	reason = refused_reason(h, "charcount", json_pack("{s:s}", "path", p));
	ck_assert_msg(strstr(reason, "directory") != NULL, "%s", reason);

	/* A FIFO is refused without blocking the daemon on open(). */
	snprintf(p, sizeof p, "%s/fifo", in);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s}", "path", p),
	    "path"), RPC_INVALID_PARAMS);
	reason = refused_reason(h, "charcount", json_pack("{s:s}", "path", p));
	ck_assert_msg(strstr(reason, "FIFO") != NULL, "%s", reason);

	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s}", "path",
	    "in/ok"), "path"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:i}", "path", 3),
	    "path"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "charcount", json_object(), "path"),
	    RPC_INVALID_PARAMS);
	snprintf(p, sizeof p, "%s/ok", in);
	ck_assert_int_eq(refused(h, "charcount", json_pack("{s:s, s:b}",
	    "path", p, "fast", 1), "fast"), RPC_INVALID_PARAMS);

	/* The daemon is fine and nothing was left running. */
	r = harness_call(h, "daemon.status", json_object());
	harness_ok(r);
	json_decref(r);
	json_decref(await_pool(h, 1));
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* --- squares and spin arguments ------------------------------------------ */

static const struct {
	int64_t	 from, to;
	int	 values;
} sq_table[] = {
	{ 0, 0, 1 },
	{ -3, 3, 1 },
	{ -5, -1, 1 },
	{ 1, 10000, 1 },
	{ -5000, 4999, 1 },
	{ SQUARES_LIMIT - 9999, SQUARES_LIMIT, 1 },
	{ -SQUARES_LIMIT, -SQUARES_LIMIT + 5, 1 },
	{ 1, (INT64_C(1) << 24) + 1, 0 },		/* just split */
	{ -123456789, 987654321, 0 },
	{ -SQUARES_LIMIT, SQUARES_LIMIT, 0 },		/* the whole range */
};

START_TEST(test_squares)
{
	const char	*args[] = { "-o", "cpu.workers=3", NULL };
	struct harness	*h;
	json_t		*rec, *res, *vals, *v;
	char		 want[64], got[64];
	long long	 before[3], sum0, sum1;
	unsigned __int128 sq;
	size_t		 i, k;
	int64_t		 x;

	h = harness_start(args);
	for (i = 0; i < nitems(sq_table); i++) {
		json_decref(await_pool(h, 3));
		sum0 = pool_tasks(h, before, 3);
		rec = harness_run(h, "squares", json_pack("{s:I, s:I, s:b}",
		    "from", (json_int_t)sq_table[i].from,
		    "to", (json_int_t)sq_table[i].to,
		    "values", sq_table[i].values));
		ck_assert_str_eq(str_of(rec, "state"), "done");
		res = json_object_get(rec, "result");
		ck_assert_int_eq(int_of(res, "count"),
		    sq_table[i].to - sq_table[i].from + 1);
		dec128(sq_closed(sq_table[i].from, sq_table[i].to), want,
		    sizeof want);
		ck_assert_str_eq(str_of(res, "sum"), want);
		vals = json_object_get(res, "values");
		if (!sq_table[i].values)
			ck_assert_ptr_null(vals);
		else {
			ck_assert_int_eq(json_array_size(vals),
			    sq_table[i].to - sq_table[i].from + 1);
			json_array_foreach(vals, k, v) {
				x = sq_table[i].from + (int64_t)k;
				sq = (unsigned __int128)((__int128)x * x);
				dec128(sq, want, sizeof want);
				/* Exact: an integer, or a string past 2^63. */
				if (json_is_integer(v)) {
					ck_assert(sq <= INT64_MAX);
					snprintf(got, sizeof got, "%lld",
					    (long long)json_integer_value(v));
				} else {
					ck_assert(json_is_string(v));
					ck_assert(sq > INT64_MAX);
					snprintf(got, sizeof got, "%s",
					    json_string_value(v));
				}
				ck_assert_str_eq(got, want);
			}
		}
		json_decref(rec);

		/* Long ranges are split over every worker. */
		sum1 = pool_tasks(h, before, 0);
		ck_assert_int_eq(sum1 - sum0, sq_table[i].to -
		    sq_table[i].from + 1 > (INT64_C(1) << 24) ? 3 : 1);
	}
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

START_TEST(test_bad_args)
{
	const char	*args[] = { "-o", "cpu.workers=1", NULL };
	struct harness	*h;

	h = harness_start(args);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:I, s:i}", "from",
	    (json_int_t)SQUARES_LIMIT + 1, "to", 0), "from"),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:i, s:I}", "from",
	    0, "to", (json_int_t)SQUARES_LIMIT + 1), "to"),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:I, s:i}", "from",
	    -(json_int_t)SQUARES_LIMIT - 1, "to", 0), "from"),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:i, s:i}", "from",
	    5, "to", 4), "to"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:i, s:i, s:b}",
	    "from", 1, "to", 10001, "values", 1), "values"),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:i}", "to", 4),
	    "from"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:s, s:i}", "from",
	    "1", "to", 4), "from"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "squares", json_pack("{s:i, s:i, s:i}",
	    "from", 1, "to", 4, "values", 1), "values"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "spin", json_pack("{s:i}", "ms", 0), "ms"),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "spin", json_pack("{s:i}", "ms", 3600001),
	    "ms"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "spin", json_object(), "ms"),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(refused(h, "spin", json_pack("{s:i, s:i}", "ms", 1,
	    "x", 1), "x"), RPC_INVALID_PARAMS);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* --- timeouts, cancels, crashes ------------------------------------------- */

START_TEST(test_spin_timeout)
{
	const char	*args[] = { "-o", "cpu.workers=2", NULL };
	struct harness	*h;
	json_t		*rec, *pool, *err;
	char		*id;
	pid_t		 pid;

	h = harness_start(args);
	rec = harness_run(h, "spin", json_pack("{s:i}", "ms", 50));
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_ge(int_of(json_object_get(rec, "result"), "spun_ms"), 50);
	json_decref(rec);

	id = submit(h, json_pack("{s:s, s:{s:i}, s:i}", "type", "spin",
	    "args", "ms", 600000, "timeout_ms", 500));
	pid = busy_pid(h, id, 0);
	rec = wait_job(h, id);
	ck_assert_str_eq(str_of(rec, "state"), "timeout");
	err = json_object_get(rec, "error");
	ck_assert_str_eq(str_of(err, "code"), "timeout");
	ck_assert_ptr_null(json_object_get(rec, "result"));
	json_decref(rec);

	/* The worker was killed and replaced. */
	pool = await_pool(h, 2);
	ck_assert(!pool_has_pid(pool, pid));
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "timeout"),
	    1);
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "crash"), 0);
	json_decref(pool);
	await_gone(pid);

	/* cpu.timeout_ms is the default run timeout. */
	free(id);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
	{
		const char *args2[] = { "-o", "cpu.workers=1", "-o",
		    "cpu.timeout_ms=300", NULL };

		h = harness_start(args2);
		rec = harness_run(h, "spin", json_pack("{s:i}", "ms", 600000));
		ck_assert_str_eq(str_of(rec, "state"), "timeout");
		json_decref(rec);
		json_decref(await_pool(h, 1));
		ck_assert_int_eq(restarts_of(h, "timeout"), 1);
		ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
	}
}
END_TEST

START_TEST(test_cancel)
{
	const char	*args[] = { "-o", "cpu.workers=1", NULL };
	struct harness	*h;
	json_t		*r, *rec, *pool;
	char		*id, *id2;
	pid_t		 pid;

	h = harness_start(args);
	id = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin", "args",
	    "ms", 600000));
	/* Queued behind it: must survive the cancel and run. */
	id2 = submit(h, json_pack("{s:s, s:{s:i, s:i}}", "type", "squares",
	    "args", "from", 1, "to", 100));
	pid = busy_pid(h, id, 0);
	r = harness_call(h, "job.cancel", json_pack("{s:s}", "id", id));
	rec = harness_ok(r);
	ck_assert_str_eq(str_of(rec, "state"), "cancelled");
	ck_assert_str_eq(str_of(json_object_get(rec, "error"), "code"),
	    "cancelled");
	json_decref(r);

	rec = wait_job(h, id2);
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_str_eq(str_of(json_object_get(rec, "result"), "sum"),
	    "338350");
	json_decref(rec);

	pool = await_pool(h, 1);
	ck_assert(!pool_has_pid(pool, pid));
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "cancel"),
	    1);
	json_decref(pool);
	await_gone(pid);
	free(id);
	free(id2);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* A killed worker: the job is retried once, then fails worker_crashed. */
START_TEST(test_worker_killed)
{
	const char	*args[] = { "-o", "cpu.workers=2", NULL };
	struct harness	*h;
	json_t		*rec, *pool, *w;
	char		*id;
	pid_t		 pid, pid2;
	size_t		 i;
	int		 seen;

	h = harness_start(args);
	json_decref(await_pool(h, 2));

	id = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin", "args",
	    "ms", 1500));
	pid = busy_pid(h, id, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	rec = wait_job(h, id);
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(rec, "attempts"), 2);
	ck_assert_int_ge(int_of(json_object_get(rec, "result"), "spun_ms"),
	    1500);
	json_decref(rec);
	free(id);

	id = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin", "args",
	    "ms", 600000));
	pid = busy_pid(h, id, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	pid2 = busy_pid(h, id, pid);
	ck_assert_int_eq(kill(pid2, SIGKILL), 0);
	rec = wait_job(h, id);
	ck_assert_str_eq(str_of(rec, "state"), "failed");
	ck_assert_int_eq(int_of(rec, "attempts"), 2);
	ck_assert_str_eq(str_of(json_object_get(rec, "error"), "code"),
	    "worker_crashed");
	json_decref(rec);
	free(id);

	/* Refilled; the deaths are on record. */
	pool = await_pool(h, 2);
	ck_assert(!pool_has_pid(pool, pid) && !pool_has_pid(pool, pid2));
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "crash"),
	    3);
	seen = 0;
	json_array_foreach(json_object_get(pool, "workers"), i, w) {
		if (json_object_get(w, "last_exit") != NULL &&
		    strstr(str_of(w, "last_exit"), "signal 9") != NULL)
			seen++;
	}
	ck_assert_int_ge(seen, 1);
	json_decref(pool);

	/* And it still works. */
	rec = harness_run(h, "squares", json_pack("{s:i, s:i}", "from", -2,
	    "to", 2));
	ck_assert_str_eq(str_of(json_object_get(rec, "result"), "sum"), "10");
	json_decref(rec);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* With one worker busy, queued jobs start highest priority first. */
START_TEST(test_priorities)
{
	const char	*args[] = { "-o", "cpu.workers=1", NULL };
	static const int prio[] = { -5, 0, 5, 1 };
	struct harness	*h;
	json_t		*rec;
	char		*block, *ids[nitems(prio)], started[nitems(prio)][64];
	size_t		 i;

	h = harness_start(args);
	block = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin", "args",
	    "ms", 1000));
	busy_pid(h, block, 0);
	for (i = 0; i < nitems(prio); i++)
		ids[i] = submit(h, json_pack("{s:s, s:{s:i}, s:i}", "type",
		    "spin", "args", "ms", 50, "priority", prio[i]));
	for (i = 0; i < nitems(prio); i++) {
		rec = wait_job(h, ids[i]);
		ck_assert_str_eq(str_of(rec, "state"), "done");
		snprintf(started[i], sizeof started[i], "%s",
		    str_of(rec, "started_at"));
		json_decref(rec);
		free(ids[i]);
	}
	/* Each spins 50 ms on the one worker: start times are apart. */
	ck_assert_str_lt(started[2], started[3]);	/* 5 before 1 */
	ck_assert_str_lt(started[3], started[1]);	/* 1 before 0 */
	ck_assert_str_lt(started[1], started[0]);	/* 0 before -5 */
	rec = wait_job(h, block);
	ck_assert_str_lt(str_of(rec, "started_at"), started[2]);
	json_decref(rec);
	free(block);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* max_jobs_per_worker: a worker is replaced after K tasks. */
START_TEST(test_recycle)
{
	const char	*args[] = { "-o", "cpu.workers=1", "-o",
	    "cpu.max_jobs_per_worker=2", NULL };
	struct harness	*h;
	json_t		*rec, *pool, *w;
	pid_t		 pids[5];
	char		 want[32];
	int		 i, j, distinct = 0;

	h = harness_start(args);
	for (i = 0; i < 5; i++) {
		pool = await_pool(h, 1);
		pids[i] = (pid_t)int_of(json_array_get(json_object_get(pool,
		    "workers"), 0), "pid");
		json_decref(pool);
		rec = harness_run(h, "squares", json_pack("{s:i, s:i}", "from",
		    i, "to", i + 10));
		ck_assert_str_eq(str_of(rec, "state"), "done");
		dec128(sq_closed(i, i + 10), want, sizeof want);
		ck_assert_str_eq(str_of(json_object_get(rec, "result"), "sum"),
		    want);
		json_decref(rec);
	}
	/* Jobs 1-2 on one process, 3-4 on the next, 5 on a third. */
	ck_assert_int_eq(pids[0], pids[1]);
	ck_assert_int_ne(pids[1], pids[2]);
	ck_assert_int_eq(pids[2], pids[3]);
	ck_assert_int_ne(pids[3], pids[4]);
	for (i = 0; i < 5; i++) {
		for (j = 0; j < i && pids[j] != pids[i]; j++)
			;
		distinct += j == i;
	}
	ck_assert_int_eq(distinct, 3);

	/* Recycled gracefully: reaped with exit status 0. */
	for (i = 0; i < 1200; i++) {
		pool = await_pool(h, 1);
		w = json_array_get(json_object_get(pool, "workers"), 0);
		if (json_object_get(w, "last_exit") != NULL)
			break;
		json_decref(pool);
		usleep(50000);
	}
	ck_assert_int_lt(i, 1200);
	ck_assert_str_eq(str_of(w, "last_exit"), "exited with status 0");
	ck_assert_int_eq(int_of(w, "jobs_done"), 1);
	ck_assert_int_eq(int_of(w, "jobs_total"), 5);
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "recycle"),
	    2);
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "crash"), 0);
	json_decref(pool);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* Write [cpu] workers = n into the config file and reload. */
static void
set_workers(struct harness *h, int n)
{
	char	 path[PATH_MAX], text[64];
	json_t	*r;

	snprintf(path, sizeof path, "%s/jobd.conf", harness_dir(h));
	snprintf(text, sizeof text, "[cpu]\nworkers = %d\n", n);
	write_file(path, text, strlen(text));
	r = harness_call(h, "daemon.reload", json_object());
	harness_ok(r);
	json_decref(r);
}

/* Resize on reload: grow, and shrink without failing running tasks. */
START_TEST(test_resize)
{
	struct harness	*h;
	json_t		*rec, *pool, *w;
	char		*a, *b;
	size_t		 i;
	int		 retiring = 0, tries;

	h = harness_start(NULL);
	set_workers(h, 3);
	json_decref(await_pool(h, 3));
	set_workers(h, 2);
	json_decref(await_pool(h, 2));

	a = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin", "args",
	    "ms", 1500));
	b = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin", "args",
	    "ms", 1500));
	busy_pid(h, a, 0);
	busy_pid(h, b, 0);
	set_workers(h, 1);
	pool = cpu_pool(h);
	ck_assert_int_eq(int_of(pool, "size"), 1);
	json_array_foreach(json_object_get(pool, "workers"), i, w) {
		if (json_is_true(json_object_get(w, "retiring")))
			retiring++;
	}
	json_decref(pool);
	ck_assert_int_eq(retiring, 1);

	rec = wait_job(h, a);
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(rec, "attempts"), 1);
	json_decref(rec);
	rec = wait_job(h, b);
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(rec, "attempts"), 1);
	json_decref(rec);
	pool = await_pool(h, 1);
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "crash"), 0);
	json_decref(pool);

	/* Grow back, and the pool works at its new size. */
	set_workers(h, 3);
	pool = await_pool(h, 3);
	json_decref(pool);
	for (tries = 0; tries < 3; tries++) {
		rec = harness_run(h, "spin", json_pack("{s:i}", "ms", 10));
		ck_assert_str_eq(str_of(rec, "state"), "done");
		json_decref(rec);
	}
	free(a);
	free(b);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* Workers get the memory limit; none outlives the daemon. */
START_TEST(test_limits_and_shutdown)
{
	const char	*args[] = { "-o", "cpu.workers=2", "-o",
	    "cpu.memory_limit_mb=64", NULL };
	struct harness	*h;
	json_t		*pool, *w, *rec;
	pid_t		 pids[2];
	char		 path[64], line[256];
	const char	*fpath;
	unsigned char	*data;
	long long	 soft;
	FILE		*f;
	size_t		 i;
	int		 found;

#ifdef __SANITIZE_ADDRESS__
	/* Failed allocations return NULL instead of aborting. */
	setenv("ASAN_OPTIONS", "allocator_may_return_null=1", 1);
#endif
	h = harness_start(args);
	pool = await_pool(h, 2);
	json_array_foreach(json_object_get(pool, "workers"), i, w) {
		pids[i] = (pid_t)int_of(w, "pid");
		ck_assert_int_gt(int_of(w, "rss_kb"), 0);
		snprintf(path, sizeof path, "/proc/%ld/limits", (long)pids[i]);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		found = 0;
		while (fgets(line, sizeof line, f) != NULL) {
			if (strncmp(line, "Max address space", 17) == 0 &&
			    sscanf(line + 17, "%lld", &soft) == 1) {
				ck_assert_int_eq(soft, 64LL << 20);
				found = 1;
			}
		}
		fclose(f);
		ck_assert(found);
	}
	json_decref(pool);

	/* Work still runs under the limit (1 MiB read windows). */
	rec = harness_run(h, "squares", json_pack("{s:i, s:i, s:b}", "from",
	    1, "to", 10000, "values", 1));
	ck_assert_str_eq(str_of(rec, "state"), "done");
	json_decref(rec);
	data = xmalloc(3 << 20);
	fill_utf8(data, 3 << 20);
	fpath = harness_file(h, "limit.txt", data, 3 << 20);
	rec = harness_run(h, "charcount", json_pack("{s:s}", "path", fpath));
#ifdef __SANITIZE_ADDRESS__
	/*
	 * AddressSanitizer reserves terabytes of address space at start, so
	 * under RLIMIT_AS every later mapping fails: the job must fail
	 * cleanly, as out of memory, with the worker alive.
	 */
	ck_assert_str_eq(str_of(rec, "state"), "failed");
	ck_assert_str_eq(str_of(json_object_get(rec, "error"), "code"),
	    "out_of_memory");
	ck_assert_int_eq(restarts_of(h, "crash"), 0);
#else
	ck_assert_str_eq(str_of(rec, "state"), "done");
	ck_assert_int_eq(int_of(json_object_get(rec, "result"), "chars"),
	    (json_int_t)ref_chars(data, 3 << 20));
#endif
	json_decref(rec);
	free(data);

	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
	for (i = 0; i < 2; i++)
		ck_assert(kill(pids[i], 0) == -1 && errno == ESRCH);
}
END_TEST

/* --- pipelining: several tasks per worker --------------------------------- */

/*
 * One worker, three spins of 200 ms queued: the worker is SIGKILLed while
 * the first runs. The first is retried (attempts 2); the others, which
 * had not started, finish done with attempts 1.
 */
START_TEST(test_pipe_killed)
{
	const char	*args[] = { "-o", "cpu.workers=1", NULL };
	struct harness	*h;
	json_t		*rec;
	char		*ids[3];
	pid_t		 pid;
	int		 i;

	h = harness_start(args);
	json_decref(await_pool(h, 1));
	for (i = 0; i < 3; i++)
		ids[i] = submit(h, json_pack("{s:s, s:{s:i}}", "type", "spin",
		    "args", "ms", 200));
	pid = busy_pid(h, ids[0], 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	for (i = 0; i < 3; i++) {
		rec = wait_job(h, ids[i]);
		ck_assert_str_eq(str_of(rec, "state"), "done");
		ck_assert_int_eq(int_of(rec, "attempts"), i == 0 ? 2 : 1);
		ck_assert_int_ge(int_of(json_object_get(rec, "result"),
		    "spun_ms"), 200);
		json_decref(rec);
		free(ids[i]);
	}
	ck_assert_int_eq(restarts_of(h, "crash"), 1);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* One worker: a spin that times out does not take the jobs behind it. */
START_TEST(test_pipe_timeout)
{
	const char	*args[] = { "-o", "cpu.workers=1", NULL };
	struct harness	*h;
	json_t		*rec;
	char		*spin, *sq[2], want[48];
	int		 i;

	h = harness_start(args);
	json_decref(await_pool(h, 1));
	spin = submit(h, json_pack("{s:s, s:{s:i}, s:i}", "type", "spin",
	    "args", "ms", 600000, "timeout_ms", 500));
	for (i = 0; i < 2; i++)
		sq[i] = submit(h, json_pack("{s:s, s:{s:i, s:i}}", "type",
		    "squares", "args", "from", i, "to", 10 + i));
	rec = wait_job(h, spin);
	ck_assert_str_eq(str_of(rec, "state"), "timeout");
	json_decref(rec);
	for (i = 0; i < 2; i++) {
		rec = wait_job(h, sq[i]);
		ck_assert_str_eq(str_of(rec, "state"), "done");
		ck_assert_int_eq(int_of(rec, "attempts"), 1);
		dec128(sq_closed(i, 10 + i), want, sizeof want);
		ck_assert_str_eq(str_of(json_object_get(rec, "result"), "sum"),
		    want);
		json_decref(rec);
		free(sq[i]);
	}
	ck_assert_int_eq(restarts_of(h, "timeout"), 1);
	ck_assert_int_eq(restarts_of(h, "crash"), 0);
	free(spin);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* 5000 tiny squares jobs pipelined on one connection, on 1 and 3 workers. */
START_TEST(test_pipe_many)
{
	static const char *const one[] = { "-o", "cpu.workers=1", NULL };
	static const char *const three[] = { "-o", "cpu.workers=3", NULL };
	enum { N = 5000 };
	struct harness	*h;
	struct client	*c;
	char		*buf = NULL, *line, want[48];
	size_t		 len = 0, n;
	static int	 seen[N];
	json_t		*r, *res, *pool, *w;
	size_t		 k;
	long long	 total = 0;
	int		 i, id;

	memset(seen, 0, sizeof seen);
	h = harness_start(_i == 0 ? one : three);
	json_decref(await_pool(h, _i == 0 ? 1 : 3));
	c = harness_client(h);
	for (i = 0; i < N; i++) {
		n = (size_t)xasprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		    "\"method\":\"job.submit\",\"params\":{\"type\":\"squares\","
		    "\"wait\":true,\"args\":{\"from\":%d,\"to\":%d}}}\n", i,
		    i - 50, i + 50);
		buf = xreallocarray(buf, len + n, 1);
		memcpy(buf + len, line, n);
		len += n;
		free(line);
	}
	ck_assert_int_eq(client_send_raw(c, buf, len), 0);
	free(buf);
	for (i = 0; i < N; i++) {
		r = client_recv(c, TEST_TIMEOUT_MS);
		ck_assert_msg(r != NULL, "answer %d of %d missing", i, N);
		id = (int)json_integer_value(json_object_get(r, "id"));
		ck_assert(id >= 0 && id < N);
		ck_assert_int_eq(seen[id]++, 0);
		res = harness_ok(r);
		ck_assert_str_eq(str_of(res, "state"), "done");
		ck_assert_int_eq(int_of(res, "attempts"), 1);
		dec128(sq_closed(id - 50, id + 50), want, sizeof want);
		ck_assert_str_eq(str_of(json_object_get(res, "result"), "sum"),
		    want);
		json_decref(r);
	}
	client_close(c);

	/* Every task counted once; all idle, nothing outstanding. */
	pool = await_pool(h, _i == 0 ? 1 : 3);
	json_array_foreach(json_object_get(pool, "workers"), k, w) {
		ck_assert_int_eq(int_of(w, "outstanding"), 0);
		total += int_of(w, "jobs_total");
	}
	ck_assert_int_eq(total, N);
	ck_assert_int_eq(int_of(pool, "tasks_queued"), 0);
	ck_assert_int_eq(int_of(json_object_get(pool, "restarts"), "crash"),
	    0);
	json_decref(pool);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/*
 * In process, through the test hooks (the test is the worker): tiny tasks
 * are pipelined on one slot, and when that slot is lost the pipelined
 * ones go back to the FIFO untouched.
 */
static struct job *
pipe_submit(int64_t from, int64_t to)
{
	struct job_spec	 spec;
	struct rpcerr	 err;
	struct job	*job;

	memset(&spec, 0, sizeof spec);
	spec.type = sched_type("squares");
	spec.class = CLASS_CPU;
	memset(&err, 0, sizeof err);
	job = sched_create(&spec, json_pack("{s:I, s:I}", "from",
	    (json_int_t)from, "to", (json_int_t)to), getuid(), &err);
	ck_assert_msg(job != NULL, "submit: %s", err.reason);
	return job;
}

static void
pipe_loop(void)
{
	int	 i;

	for (i = 0; i < 4; i++)
		event_base_loop(main_base, EVLOOP_NONBLOCK);
}

/* The requests waiting on slot, at most max; their task ids in ids. */
static int
pipe_requests(int slot, uint64_t *ids, int max,
    struct cpu_msg_squares *reqs)
{
	struct cpu_msg_squares	 m;
	ssize_t			 n;
	int			 k = 0;

	while ((n = recv(slot, &m, sizeof m, MSG_DONTWAIT)) > 0) {
		ck_assert_int_eq(n, sizeof m);
		ck_assert_int_eq(m.hdr.type, CPU_MSG_SQUARES);
		ck_assert_int_lt(k, max);
		ids[k] = m.hdr.task;
		reqs[k++] = m;
	}
	return k;
}

/* Answer a squares request with its sum, as task id. */
static void
pipe_answer(int slot, const struct cpu_msg_squares *req, uint64_t id)
{
	struct cpu_msg_squares_done	 d;
	unsigned __int128		 sum;

	sum = sq_closed(req->from, req->to);
	memset(&d, 0, sizeof d);
	d.hdr.type = CPU_MSG_SQUARES_DONE;
	d.hdr.len = sizeof d;
	d.hdr.task = id;
	d.count = (uint64_t)(req->to - req->from) + 1;
	d.sum_lo = (uint64_t)sum;
	d.sum_hi = (uint64_t)(sum >> 64);
	ck_assert_int_eq(send(slot, &d, sizeof d, MSG_NOSIGNAL), sizeof d);
}

static json_int_t
pipe_status(const char *key, int worker)
{
	json_t		*st = cpu_engine.status(), *v;
	json_int_t	 n;

	v = worker < 0 ? st : json_array_get(json_object_get(st, "workers"),
	    (size_t)worker);
	n = int_of(v, key);
	json_decref(st);
	return n;
}

static json_int_t
pipe_restarts(const char *why)
{
	json_t		*st = cpu_engine.status();
	json_int_t	 n;

	n = int_of(json_object_get(st, "restarts"), why);
	json_decref(st);
	return n;
}

/* How the slot is lost: EOF, a reply out of order, cancel of job 0 or 1. */
START_TEST(test_pipe_inproc)
{
	struct cpu_msg_squares	 reqs[8];
	struct job		*jobs[3];
	uint64_t		 ids[8], first[8];
	char			 want[48];
	int			 slot, i, k;

	inproc_start(NULL, NULL);
	cpu_test_init(main_base);
	cpu_test_depth(4);
	slot = cpu_test_worker(0);
	ck_assert_int_ne(slot, -1);

	for (i = 0; i < 3; i++) {
		jobs[i] = pipe_submit(i, 100 + i);
		ck_assert_int_eq(jobs[i]->state, JOB_RUNNING);
	}
	pipe_loop();
	/* All three on the one slot at once, in order. */
	ck_assert_int_eq(pipe_requests(slot, first, 8, reqs), 3);
	ck_assert_int_eq(pipe_status("outstanding", 0), 3);
	ck_assert_int_eq(pipe_status("tasks_queued", -1), 0);

	switch (_i) {
	case 0:
		close(slot);
		break;
	case 1:
		/* The second task's reply first: a protocol error. */
		pipe_answer(slot, &reqs[1], first[1]);
		break;
	case 2:
	case 3:
		sched_cancel(jobs[_i - 2], JOB_CANCELLED);
		ck_assert_int_eq(jobs[_i - 2]->state, JOB_CANCELLED);
		break;
	}
	pipe_loop();
	if (_i != 0)
		close(slot);
	/* Test slots are not respawned: the tasks wait in the FIFO. */
	ck_assert_int_eq(pipe_status("tasks_queued", -1), _i >= 2 ? 2 : 3);
	ck_assert_int_eq(pipe_restarts(_i >= 2 ? "cancel" : "crash"), 1);

	slot = cpu_test_worker(0);
	ck_assert_int_ne(slot, -1);
	pipe_loop();
	k = pipe_requests(slot, ids, 8, reqs);
	ck_assert_int_eq(k, _i >= 2 ? 2 : 3);
	/* The same tasks, in their order, less the cancelled one. */
	for (i = 0; i < k; i++)
		ck_assert_uint_eq(ids[i], first[_i == 2 ? i + 1 : _i == 3 &&
		    i == 1 ? 2 : i]);
	for (i = 0; i < k; i++)
		pipe_answer(slot, &reqs[i], ids[i]);
	pipe_loop();
	for (i = 0; i < 3; i++) {
		if (_i >= 2 && i == _i - 2)
			continue;
		ck_assert_int_eq(jobs[i]->state, JOB_DONE);
		/* Only the task that was running counts an attempt. */
		ck_assert_int_eq(jobs[i]->attempts, i == 0 && _i < 2 ? 2 : 1);
		dec128(sq_closed(i, 100 + i), want, sizeof want);
		ck_assert_str_eq(str_of(jobs[i]->result, "sum"), want);
	}
	ck_assert_int_eq(pipe_status("outstanding", 0), 0);
	close(slot);
	pipe_loop();
	for (i = 0; i < 3; i++)
		job_free(jobs[i]);
	cpu_shutdown();
	inproc_stop();
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cpu");
	TCase	*tc;
	SRunner	*sr;
	int	 failed;

	tc = tcase_create("worker");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_worker_count);
	tcase_add_test(tc, test_worker_squares_spin);
	tcase_add_test(tc, test_worker_bad_requests);
	tcase_add_test(tc, test_worker_hello);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_charcount, 0, 2);
	tcase_add_test(tc, test_charcount_whole);
	tcase_add_test(tc, test_charcount_paths);
	tcase_add_test(tc, test_squares);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_spin_timeout);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_worker_killed);
	tcase_add_test(tc, test_priorities);
	tcase_add_test(tc, test_recycle);
	tcase_add_test(tc, test_resize);
	tcase_add_test(tc, test_limits_and_shutdown);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipeline");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_pipe_killed);
	tcase_add_test(tc, test_pipe_timeout);
	tcase_add_loop_test(tc, test_pipe_many, 0, 2);
	tcase_add_loop_test(tc, test_pipe_inproc, 0, 4);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
