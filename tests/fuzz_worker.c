/*
 * libFuzzer target: the CPU engine's binary messages (jobd.h, CPU_MSG_*),
 * both ways, through the real decoders, in process and without a fork.
 *
 * The first byte of an input picks what the rest is:
 *
 * - bit 0 clear: one request to a worker (worker.c: worker_recv,
 *   worker_dispatch and the kernels, through worker_test_serve()), sent as
 *   one SOCK_SEQPACKET message, with the descriptor of a small temporary
 *   file when bit 1 is set. Any message of at least a header must get
 *   exactly one well-formed answer carrying its task id; a shorter one,
 *   none.
 *
 * - bit 0 set: a worker's messages to the pool (cpu.c: cpu_read_cb,
 *   cpu_reply, the merge in cpu_run_done, the retry after a bad reply),
 *   for a job picked by bits 1-2: charcount of the file (cut into 5
 *   tasks), squares, squares with values, spin. The rest is cut at each
 *   FUZZ_SEP into messages; each goes, through a slot of the pool made by
 *   cpu_test_worker(), as the answer to the request the pool just sent
 *   (or unasked, once the job is over). Their task id is overwritten
 *   with that request's unless bit 3 is set; bit 4 sends a descriptor
 *   along (workers never do); with bit 5 the slot is starting and the
 *   first message answers its hello (READY). A slot the pool lets go is
 *   replaced, up to FUZZ_SLOTS, so the task's retry is reached. The job
 *   must end in a defined state with a result of the right shape, and no
 *   descriptor may leak on either side.
 *
 * So that the fuzzer never waits, requests are clamped before they are
 * sent, here and not in the worker: a valid spin runs 1 ms, a valid
 * squares range at most FUZZ_SQUARES numbers. Valid requests stay valid,
 * invalid ones are left alone, so the worker's checks see what was sent.
 *
 * Before fuzzing, every job type runs once end to end (the pool's real
 * requests answered by the real worker code) and its result is checked
 * against a reference: a reply the worker sends must be one the pool
 * takes.
 *
 * The seeds in tests/corpus/worker, valid and broken messages of every
 * type, were written by the script in tests/corpus/README.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_SEP	"\xf7NXT"
#define FUZZ_SEPLEN	4
#define FUZZ_SLOTS	4		/* worker processes per pool-side input */
#define FUZZ_SQUARES	65536		/* numbers a squares request may ask */
#define FUZZ_CHUNK	64		/* chunk_bytes: the file is 5 tasks */
#define FUZZ_RECYCLE	3		/* max_jobs_per_worker */
#define FUZZ_MAXLEN	65536		/* -max_len in Makefile.am */
#define FUZZ_REPEAT	13

/* The file: 13 lines of 23 bytes, 16 characters, cut mid-sequence. */
static const char fuzz_line[] =
    "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9d\x84\x9e\n";

/* The jobs the pool side runs, by bits 1-2 of the first byte. */
static const struct {
	const char	*type;
	uint32_t	 request;	/* what the pool sends for it */
	size_t		 size;
	int64_t		 from, to;	/* squares */
} fuzz_jobs[] = {
	{ "charcount", CPU_MSG_COUNT, sizeof (struct cpu_msg_count), 0, 0 },
	{ "squares", CPU_MSG_SQUARES, sizeof (struct cpu_msg_squares),
	    -1000, 5000 },
	{ "squares", CPU_MSG_SQUARES, sizeof (struct cpu_msg_squares),
	    -3, 96 },
	{ "spin", CPU_MSG_SPIN, sizeof (struct cpu_msg_spin), 0, 0 },
};
#define FUZZ_VALUES	2		/* the squares job with values */

static char	 fuzz_dir[64];
static char	 fuzz_path[128];
static int	 fuzz_file = -1;
static size_t	 fuzz_fsize;
static int	 fuzz_wk[2] = { -1, -1 };	/* worker side: [0] the worker's */
static int	 fuzz_procfd = -1;		/* /proc/self/fd */
static int	 fuzz_nfds;			/* fuzz_count_fds() */

static uint64_t	 fuzz_buf[FUZZ_MAXLEN / sizeof (uint64_t) + 1];
static uint64_t	 fuzz_rbuf[CPU_MSG_MAX / sizeof (uint64_t) + 2];

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_worker: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* Send one message, with descriptor fd unless it is -1. */
static int
fuzz_send(int sock, const void *buf, size_t len, int fd)
{
	return fd_send(sock, buf, len, fd, MSG_DONTWAIT) == (ssize_t)len ?
	    0 : -1;
}

/*
 * Receive one message without waiting: its length, 0 at end of file, -1
 * if there is none. One descriptor sent along is kept in *fd (-1 if none),
 * any more are closed; *nfds counts them all.
 */
static ssize_t
fuzz_recv(int sock, void *buf, size_t size, int *fd, int *nfds)
{
	int	 fds[4];
	ssize_t	 n;

	*fd = -1;
	n = fd_recv(sock, buf, size, fds, (int)nitems(fds), nfds,
	    MSG_DONTWAIT);
	if (n == -1) {
		FUZZ_CHECK(errno == EAGAIN, "recvmsg: %s", strerror(errno));
		*nfds = 0;
		return -1;
	}
	FUZZ_CHECK(*nfds >= 0, "message or descriptors truncated (%zd bytes)",
	    n);
	if (*nfds > 0)
		*fd = fds[0];
	for (int i = 1; i < *nfds; i++)
		close(fds[i]);
	return n;
}

/* Run the daemon's loop until nothing is ready. */
static void
fuzz_loop(void)
{
	event_base_loop(main_base, EVLOOP_NONBLOCK);
	event_base_loop(main_base, EVLOOP_NONBLOCK);
}

/*
 * Count the open sockets and descriptors of the file: what this target
 * and the code under test open (libFuzzer opens pipes of its own, to the
 * symbolizer, as it goes). /proc/self/fd lists them at less cost than
 * probing every number.
 */
static int
fuzz_count_fds(void)
{
	struct dirent64	*d;
	struct stat	 st, fst;
	char		 buf[4096];
	ssize_t		 n, off;
	int		 fd, ours = 0;

	FUZZ_CHECK(fstat(fuzz_file, &fst) == 0 &&
	    lseek(fuzz_procfd, 0, SEEK_SET) == 0, "fstat, lseek");
	while ((n = getdents64(fuzz_procfd, buf, sizeof buf)) > 0) {
		for (off = 0; off < n; off += d->d_reclen) {
			d = (struct dirent64 *)(buf + off);
			if (d->d_name[0] == '.')
				continue;
			fd = atoi(d->d_name);
			if (fd != fuzz_procfd && fstat(fd, &st) == 0 &&
			    (S_ISSOCK(st.st_mode) || (st.st_dev == fst.st_dev &&
			    st.st_ino == fst.st_ino)))
				ours++;
		}
	}
	FUZZ_CHECK(n == 0, "getdents64: %s", strerror(errno));
	return ours;
}

/* Check that the last input left no descriptor open. */
static void
fuzz_check_fds(void)
{
	int	 n;

	n = fuzz_count_fds();
	FUZZ_CHECK(n == fuzz_nfds, "descriptor leak: %d sockets or file "
	    "descriptors open, not %d", n, fuzz_nfds);
}

/* --- worker side ------------------------------------------------------- */

/*
 * Keep a valid request from running long: a spin to 1 ms, a squares
 * range to FUZZ_SQUARES numbers. Invalid ones are not touched.
 */
static void
fuzz_clamp(void *buf, size_t len)
{
	struct cpu_msg_hdr	*hdr = buf;
	struct cpu_msg_squares	*sq = buf;
	struct cpu_msg_spin	*sp = buf;

	if (len < sizeof *hdr)
		return;
	if (hdr->type == CPU_MSG_SPIN && len == sizeof *sp &&
	    sp->ms >= 1 && sp->ms <= CPU_SPIN_MAX_MS)
		sp->ms = 1;
	if (hdr->type == CPU_MSG_SQUARES && len == sizeof *sq &&
	    sq->from >= -SQUARES_LIMIT && sq->from <= sq->to &&
	    sq->to <= SQUARES_LIMIT &&
	    (uint64_t)(sq->to - sq->from) >= FUZZ_SQUARES)
		sq->to = sq->from + FUZZ_SQUARES - 1;
}

/* Check one answer of the worker to a request for task. */
static void
fuzz_check_answer(const void *buf, size_t n, int nfds, int known,
    uint64_t task)
{
	const struct cpu_msg_hdr		*hdr = buf;
	const struct cpu_msg_squares_done	*ms = buf;
	const struct cpu_msg_error		*me = buf;
	size_t					 want;

	FUZZ_CHECK(nfds == 0, "the worker sent %d descriptors", nfds);
	FUZZ_CHECK(n >= sizeof *hdr && hdr->len == n, "answer of %zu bytes, "
	    "header says %u", n, n >= sizeof *hdr ? hdr->len : 0);
	FUZZ_CHECK(!known || hdr->task == task, "answer for task %llu, not "
	    "%llu", (unsigned long long)hdr->task, (unsigned long long)task);
	switch (hdr->type) {
	case CPU_MSG_COUNT_DONE:
		want = sizeof (struct cpu_msg_count_done);
		break;
	case CPU_MSG_SQUARES_DONE:
		FUZZ_CHECK(n >= sizeof *ms && ms->nvalues <= SQUARES_MAX_VALUES,
		    "squares answer of %zu bytes", n);
		want = sizeof *ms + (size_t)ms->nvalues * 2 * sizeof (uint64_t);
		break;
	case CPU_MSG_SPIN_DONE:
		want = sizeof (struct cpu_msg_spin_done);
		break;
	case CPU_MSG_ERROR:
		want = sizeof *me;
		FUZZ_CHECK(n != want ||
		    memchr(me->msg, '\0', sizeof me->msg) != NULL,
		    "error message not terminated");
		break;
	default:
		FUZZ_CHECK(0, "answer of type %u", hdr->type);
	}
	FUZZ_CHECK(n == want, "answer of type %u: %zu bytes, not %zu",
	    hdr->type, n, want);
}

/* One request to the worker. */
static void
fuzz_worker(const uint8_t *data, size_t len)
{
	const struct cpu_msg_hdr	*hdr = (void *)fuzz_buf;
	ssize_t				 n;
	size_t				 mlen = len - 1;
	uint64_t			 task = 0;
	int				 r, fd, nfds, answers = 0;

	memcpy(fuzz_buf, data + 1, mlen);
	fuzz_clamp(fuzz_buf, mlen);
	if (mlen >= sizeof *hdr)
		task = hdr->task;
	FUZZ_CHECK(fuzz_send(fuzz_wk[1], fuzz_buf, mlen, (data[0] & 2) ?
	    fuzz_file : -1) == 0, "send %zu bytes: %s", mlen, strerror(errno));
	r = worker_test_serve(fuzz_wk[0]);
	while ((n = fuzz_recv(fuzz_wk[1], fuzz_rbuf, sizeof fuzz_rbuf, &fd,
	    &nfds)) > 0) {
		if (fd != -1)
			close(fd);
		fuzz_check_answer(fuzz_rbuf, (size_t)n, nfds,
		    mlen >= sizeof *hdr, task);
		answers++;
	}
	FUZZ_CHECK(n == -1, "the worker's socket closed");
	FUZZ_CHECK(answers == (r == 1 ? 1 : 0), "%d answers to a request of "
	    "%zu bytes (served: %d)", answers, mlen, r);
	FUZZ_CHECK(r != 1 || mlen >= sizeof *hdr, "a request of %zu bytes "
	    "was served", mlen);
}

/* --- pool side --------------------------------------------------------- */

/* Submit the pool-side job number kind; it must be in state after. */
static struct job *
fuzz_submit(int kind, enum job_state state)
{
	struct job_spec	 spec;
	struct rpcerr	 err;
	struct job	*job;
	json_t		*args;

	switch (fuzz_jobs[kind].request) {
	case CPU_MSG_COUNT:
		args = json_pack("{s:s}", "path", fuzz_path);
		break;
	case CPU_MSG_SQUARES:
		args = json_pack("{s:I, s:I, s:b}",
		    "from", (json_int_t)fuzz_jobs[kind].from,
		    "to", (json_int_t)fuzz_jobs[kind].to,
		    "values", kind == FUZZ_VALUES);
		break;
	default:
		args = json_pack("{s:i}", "ms", 1);
		break;
	}
	memset(&spec, 0, sizeof spec);
	spec.type = sched_type(fuzz_jobs[kind].type);
	spec.class = CLASS_CPU;
	memset(&err, 0, sizeof err);
	job = sched_create(&spec, args, getuid(), &err);
	FUZZ_CHECK(job != NULL, "submit %s: %s", fuzz_jobs[kind].type,
	    err.reason);
	FUZZ_CHECK(job->state == state, "job %s %s", job->id,
	    job_state_name(job->state));
	return job;
}

/*
 * Take the pool's next request from a slot: 1 with it in fuzz_rbuf and
 * its descriptor in *fd, 0 when the pool let the slot go, -1 if there is
 * none. It must be the job's kind of request, well formed.
 */
static int
fuzz_request(int slot, int kind, uint64_t *task, size_t *len, int *fd)
{
	const struct cpu_msg_hdr	*hdr = (void *)fuzz_rbuf;
	const struct cpu_msg_count	*mc = (void *)fuzz_rbuf;
	ssize_t				 n;
	int				 nfds;

	if ((n = fuzz_recv(slot, fuzz_rbuf, sizeof fuzz_rbuf, fd, &nfds)) <= 0)
		return n == 0 ? 0 : -1;
	FUZZ_CHECK((size_t)n == fuzz_jobs[kind].size &&
	    hdr->type == fuzz_jobs[kind].request && hdr->len == n,
	    "request type %u, %zd bytes", hdr->type, n);
	FUZZ_CHECK(nfds == (hdr->type == CPU_MSG_COUNT ? 1 : 0),
	    "request type %u with %d descriptors", hdr->type, nfds);
	FUZZ_CHECK(hdr->type != CPU_MSG_COUNT || (mc->fsize == fuzz_fsize &&
	    mc->off <= mc->fsize && mc->len <= mc->fsize - mc->off),
	    "count request %llu+%llu of %llu", (unsigned long long)mc->off,
	    (unsigned long long)mc->len, (unsigned long long)mc->fsize);
	*task = hdr->task;
	*len = (size_t)n;
	return 1;
}

/* Check an ended job: its state, and its result's shape when done. */
static void
fuzz_check_end(struct job *job, int kind)
{
	static const char *const codes[] = {
		"worker_crashed", "worker_error", "io_error", "out_of_memory",
		"cancelled", NULL
	};
	json_t		*r = job->result, *v;
	json_int_t	 bytes;
	size_t		 i;

	FUZZ_CHECK(JOB_FINISHED(job->state) && job->engine == NULL,
	    "job %s %s after cancel", job->id, job_state_name(job->state));
	if (job->state != JOB_DONE) {
		FUZZ_CHECK(r == NULL && job->err_code != NULL, "job %s: %s "
		    "without an error", job->id, job_state_name(job->state));
		for (i = 0; codes[i] != NULL; i++) {
			if (strcmp(codes[i], job->err_code) == 0)
				break;
		}
		FUZZ_CHECK(codes[i] != NULL, "job %s: error %s", job->id,
		    job->err_code);
		return;
	}
	FUZZ_CHECK(json_is_object(r), "job %s: no result", job->id);
	switch (fuzz_jobs[kind].request) {
	case CPU_MSG_COUNT:
		/* Each task's byte count is checked: they add up. */
		bytes = json_integer_value(json_object_get(r, "bytes"));
		FUZZ_CHECK(bytes == (json_int_t)fuzz_fsize &&
		    json_integer_value(json_object_get(r, "chars")) <= bytes &&
		    json_integer_value(json_object_get(r, "lines")) <= bytes &&
		    json_is_boolean(json_object_get(r, "valid_utf8")),
		    "charcount result");
		break;
	case CPU_MSG_SQUARES:
		FUZZ_CHECK(json_integer_value(json_object_get(r, "count")) ==
		    fuzz_jobs[kind].to - fuzz_jobs[kind].from + 1 &&
		    json_is_string(json_object_get(r, "sum")),
		    "squares result");
		v = json_object_get(r, "values");
		FUZZ_CHECK(kind == FUZZ_VALUES ? json_array_size(v) ==
		    (size_t)(fuzz_jobs[kind].to - fuzz_jobs[kind].from + 1) :
		    v == NULL, "squares values");
		break;
	default:
		FUZZ_CHECK(json_is_integer(json_object_get(r, "spun_ms")),
		    "spin result");
		break;
	}
}

/* A worker's answers to the pool. */
static void
fuzz_pool(const uint8_t *data, size_t len)
{
	const uint8_t	*p = data + 1, *end = data + len, *sep;
	struct job	*job;
	uint64_t	 task = 0;
	size_t		 mlen, rlen;
	int		 kind = (data[0] >> 1) & 3, keep = data[0] & 8;
	int		 sendfd = data[0] & 16, starting = data[0] & 32;
	int		 slot, nslots = 1, more = 1, r, fd;

	FUZZ_CHECK((slot = cpu_test_worker(starting)) != -1,
	    "cpu_test_worker");
	job = fuzz_submit(kind, starting ? JOB_QUEUED : JOB_RUNNING);
	while (more) {
		if (starting) {
			/* The first message answers the hello. */
			starting = 0;
			r = 2;
		} else {
			r = fuzz_request(slot, kind, &task, &rlen, &fd);
			if (fd != -1)
				close(fd);
		}
		if (r == 0) {
			/* Let go (a bad answer, recycled): take another. */
			close(slot);
			slot = -1;
			if (JOB_FINISHED(job->state) || nslots == FUZZ_SLOTS)
				break;
			FUZZ_CHECK((slot = cpu_test_worker(0)) != -1,
			    "cpu_test_worker");
			nslots++;
			continue;
		}
		/* An idle worker: nothing is left to run; it speaks unasked. */
		FUZZ_CHECK(r != -1 || JOB_FINISHED(job->state), "job %s runs, "
		    "but its worker was sent nothing", job->id);

		sep = memmem(p, (size_t)(end - p), FUZZ_SEP, FUZZ_SEPLEN);
		mlen = (size_t)((sep != NULL ? sep : end) - p);
		memcpy(fuzz_buf, p, mlen);
		if (sep != NULL)
			p = sep + FUZZ_SEPLEN;
		else
			more = 0;
		if (r == 1 && !keep && mlen >= sizeof (struct cpu_msg_hdr))
			memcpy((char *)fuzz_buf + offsetof(struct cpu_msg_hdr,
			    task), &task, sizeof task);
		FUZZ_CHECK(fuzz_send(slot, fuzz_buf, mlen, sendfd ? fuzz_file :
		    -1) == 0, "send %zu bytes: %s", mlen, strerror(errno));
		fuzz_loop();
	}
	if (!JOB_FINISHED(job->state))
		sched_cancel(job, JOB_CANCELLED);
	fuzz_check_end(job, kind);
	if (slot != -1) {
		/* Drop what else it was sent; closing ends it for the pool. */
		while (fuzz_request(slot, kind, &task, &rlen, &fd) == 1) {
			if (fd != -1)
				close(fd);
		}
		close(slot);
		fuzz_loop();
	}
	job_free(job);
}

/* --- set-up and the self-check ----------------------------------------- */

static void
fuzz_file_create(void)
{
	char		*cerr = NULL, *opt;
	int		 fd, i;

	snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/jobd-fuzz.XXXXXX");
	FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(fuzz_path, sizeof fuzz_path, "%s/text", fuzz_dir);
	fd = open(fuzz_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd != -1, "%s: %s", fuzz_path, strerror(errno));
	for (i = 0; i < FUZZ_REPEAT; i++) {
		FUZZ_CHECK(write(fd, fuzz_line, sizeof fuzz_line - 1) ==
		    (ssize_t)sizeof fuzz_line - 1, "write");
	}
	fuzz_fsize = FUZZ_REPEAT * (sizeof fuzz_line - 1);
	fuzz_file = fd;

	xasprintf(&opt, "files.allowed_roots=%s", fuzz_dir);
	FUZZ_CHECK(config_set(cfg, opt, &cerr) == 0, "%s", cerr);
	free(opt);
}

/* At exit: stop the pool and the daemon's modules, remove the files. */
static void
fuzz_exit(void)
{
	cpu_shutdown();
	inproc_stop();
	close(fuzz_wk[0]);
	close(fuzz_wk[1]);
	close(fuzz_procfd);
	close(fuzz_file);
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

/* Sum of i*i for 0 <= i <= n. */
static unsigned __int128
fuzz_sq_prefix(uint64_t n)
{
	unsigned __int128	 m = n;

	return m * (m + 1) * (2 * m + 1) / 6;
}

/*
 * Run job kind from the pool to the real worker code and back, and check
 * the result against a reference. A slot recycled on the way is replaced.
 */
static void
fuzz_roundtrip(int kind)
{
	struct job	*job;
	json_t		*r, *v;
	char		 sum[48];
	uint64_t	 task;
	size_t		 rlen, i;
	ssize_t		 n;
	int64_t		 from = fuzz_jobs[kind].from, to = fuzz_jobs[kind].to;
	int		 slot, fd, nfds, res, tasks = 0, chars = 0, lines = 0;

	FUZZ_CHECK((slot = cpu_test_worker(0)) != -1, "cpu_test_worker");
	job = fuzz_submit(kind, JOB_RUNNING);
	while (!JOB_FINISHED(job->state)) {
		res = fuzz_request(slot, kind, &task, &rlen, &fd);
		FUZZ_CHECK(res != -1, "%s: the pool sent nothing",
		    fuzz_jobs[kind].type);
		if (res == 0) {
			close(slot);
			FUZZ_CHECK((slot = cpu_test_worker(0)) != -1,
			    "cpu_test_worker");
			continue;
		}
		tasks++;
		FUZZ_CHECK(fuzz_send(fuzz_wk[1], fuzz_rbuf, rlen, fd) == 0,
		    "send");
		if (fd != -1)
			close(fd);
		FUZZ_CHECK(worker_test_serve(fuzz_wk[0]) == 1, "not served");
		n = fuzz_recv(fuzz_wk[1], fuzz_rbuf, sizeof fuzz_rbuf, &fd,
		    &nfds);
		FUZZ_CHECK(n > 0, "no answer");
		if (fd != -1)
			close(fd);
		fuzz_check_answer(fuzz_rbuf, (size_t)n, nfds, 1, task);
		FUZZ_CHECK(fuzz_send(slot, fuzz_rbuf, (size_t)n, -1) == 0,
		    "send");
		fuzz_loop();
	}
	FUZZ_CHECK(job->state == JOB_DONE, "%s: %s (%s)", fuzz_jobs[kind].type,
	    job_state_name(job->state), job->err_msg ? job->err_msg : "");
	r = job->result;
	switch (fuzz_jobs[kind].request) {
	case CPU_MSG_COUNT:
		for (i = 0; i < sizeof fuzz_line - 1; i++) {
			if (((unsigned char)fuzz_line[i] & 0xc0) != 0x80)
				chars++;
			if (fuzz_line[i] == '\n')
				lines++;
		}
		FUZZ_CHECK(tasks == (int)((fuzz_fsize + FUZZ_CHUNK - 1) /
		    FUZZ_CHUNK) && json_integer_value(json_object_get(r,
		    "bytes")) == (json_int_t)fuzz_fsize &&
		    json_integer_value(json_object_get(r, "chars")) ==
		    FUZZ_REPEAT * chars &&
		    json_integer_value(json_object_get(r, "lines")) ==
		    FUZZ_REPEAT * lines &&
		    json_is_true(json_object_get(r, "valid_utf8")),
		    "charcount: %d tasks, %s", tasks, json_dumps(r, 0));
		break;
	case CPU_MSG_SQUARES:
		/* from < 0 <= to here. */
		u128_to_dec(fuzz_sq_prefix((uint64_t)-from) +
		    fuzz_sq_prefix((uint64_t)to), sum, sizeof sum);
		FUZZ_CHECK(json_integer_value(json_object_get(r, "count")) ==
		    to - from + 1 && strcmp(sum, json_string_value(
		    json_object_get(r, "sum"))) == 0, "squares: %s",
		    json_dumps(r, 0));
		v = json_object_get(r, "values");
		for (i = 0; kind == FUZZ_VALUES && i < (size_t)(to - from + 1);
		    i++) {
			FUZZ_CHECK(json_integer_value(json_array_get(v, i)) ==
			    (from + (int64_t)i) * (from + (int64_t)i),
			    "squares value %zu", i);
		}
		FUZZ_CHECK(kind == FUZZ_VALUES ? json_array_size(v) ==
		    (size_t)(to - from + 1) : v == NULL, "squares values");
		break;
	default:
		FUZZ_CHECK(json_integer_value(json_object_get(r, "spun_ms")) >=
		    1, "spin: %s", json_dumps(r, 0));
		break;
	}
	close(slot);
	fuzz_loop();
	job_free(job);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 sz = (int)CPU_MSG_MAX + 4096, kind;

	harness_standalone = 1;
	inproc_start(NULL, NULL);
	/* Every bad message is logged: keep the fuzzer's output readable. */
	log_setlevel(getenv("JOBD_TEST_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_ERR);
	cpu_test_init(main_base);
	cfg->chunk_bytes = FUZZ_CHUNK;
	cfg->max_jobs_per_worker = FUZZ_RECYCLE;
	fuzz_file_create();

	/* The worker's socket, sized as worker_hello() sizes it. */
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    fuzz_wk) == 0, "socketpair: %s", strerror(errno));
	(void)setsockopt(fuzz_wk[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	(void)setsockopt(fuzz_wk[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);

	for (kind = 0; kind < (int)nitems(fuzz_jobs); kind++)
		fuzz_roundtrip(kind);
	fuzz_procfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(fuzz_procfd != -1, "/proc/self/fd: %s", strerror(errno));
	fuzz_nfds = fuzz_count_fds();
	atexit(fuzz_exit);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0 || len > FUZZ_MAXLEN)
		return 0;
	if (data[0] & 1)
		fuzz_pool(data, len);
	else
		fuzz_worker(data, len);
	fuzz_check_fds();
	return 0;
}
