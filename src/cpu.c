/*
 * The CPU engine: a pool of pre-forked worker processes (worker.c), each
 * on its own SOCK_SEQPACKET socketpair, driven from the main thread.
 *
 * A job becomes one or more tasks (a big file is cut into byte ranges, a
 * long range of numbers into sub-ranges) in one FIFO; idle workers take
 * tasks from it and the results are merged in order when the last task of
 * the job is in. A worker may hold up to CPU_DEPTH tasks at once (see
 * there): it serves its socket in order, so replies come in send order and
 * each must answer the worker's oldest outstanding task. Workers are started by re-executing the
 * daemon's own binary with posix_spawn, never by a bare fork of this
 * multi-threaded process. A worker that dies is reaped on SIGCHLD and
 * replaced (with a growing delay if they keep dying); a timeout or cancel
 * kills the workers holding the job's tasks; either way the tasks of other
 * jobs a lost worker held but had not started go back to the front of the
 * FIFO at no cost to their jobs. A worker is recycled after
 * max_jobs_per_worker tasks.
 *
 * A "worker" here is a slot of the pool: it keeps its id, counters and
 * backoff across the processes that fill it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobd.h"

extern char	**environ;

#define CPU_MAX_WORKERS		1024
#define CPU_MAX_ATTEMPTS	2		/* one retry after a crash */
#define CPU_MAX_TASKS		65536		/* per job */
#define CPU_SQUARES_SPLIT	(INT64_C(1) << 24)
#define CPU_BACKOFF_MIN_MS	100
#define CPU_BACKOFF_MAX_MS	10000
#define CPU_STABLE_US		(UINT64_C(10) * 1000000)
#define CPU_GRACE_MS		2000		/* SIGTERM to SIGKILL at shutdown */
#define CPU_START_TIMEOUT_S	30		/* spawn to READY */
#define CPU_SNDBUF		(256 * 1024)

/*
 * Tasks a worker may hold at once. With one, a worker goes to sleep after
 * each reply and the main thread's next sendmsg has to wake it on another
 * CPU: for tiny tasks those wake-ups cost more than the work (a quarter of
 * the main thread's time in sendmsg, and workers idle between tasks). With
 * a few in flight the main thread sends the next tasks while the worker
 * computes, and a worker with work queued never sleeps. Four covers the
 * reply-to-next-send latency with room to spare; more would only let more
 * tasks wait behind one another on a worker instead of in the FIFO.
 *
 * A task that waits on a worker cannot move to another one that becomes
 * idle, nor be overtaken by a job of higher priority (the sched queue is
 * bypassed for it): so a worker only takes a task beyond its first when
 * no worker is idle (least loaded first), and only while what it already
 * holds is estimated to take less than CPU_PIPE_US (cpu_task_cost). Tiny
 * tasks are pipelined; a long spin or a big count range is not, and short
 * tasks stay in the FIFO and in sched's priority order instead of waiting
 * behind it. The remaining effect: on a busy pool a task may wait behind
 * up to CPU_DEPTH - 1 tasks of under CPU_PIPE_US in all, or behind one
 * whose estimate was wrong (a slow disk for charcount).
 */
#define CPU_DEPTH		4
#define CPU_PIPE_US		1000

enum cpu_op { CPU_OP_CHARCOUNT, CPU_OP_SQUARES, CPU_OP_SPIN };

/* Why a worker process ended; the first four are counted as restarts. */
enum cpu_why {
	CPU_WHY_CRASH,
	CPU_WHY_TIMEOUT,
	CPU_WHY_CANCEL,
	CPU_WHY_RECYCLE,
	CPU_WHY_RETIRE,
	CPU_WHY_SHUTDOWN,
};
#define CPU_NRESTARTS	4
static const char *cpu_why_names[] = {
	"crash", "timeout", "cancel", "recycle", "retire", "shutdown"
};

enum cpu_wstate { CPU_W_DOWN, CPU_W_STARTING, CPU_W_IDLE, CPU_W_BUSY };
static const char *cpu_wstate_names[] = { "down", "starting", "idle", "busy" };

/* The file a charcount job opened at submit; the fd travels to workers. */
struct cpu_file {
	int		 fd;
};

struct cpu_run;

/* One piece of a job, run by one worker. */
struct cpu_task {
	struct cpu_run	*run;
	uint64_t	 id;		/* on the wire */
	struct cpu_worker *worker;	/* outstanding on it, or NULL */
	int		 queued;	/* in cpu_queue */
	uint64_t	 cost_us;	/* estimated run time */
	int		 done;
	union {
		struct {
			uint64_t off, len, fsize;
		} count;
		struct {
			int64_t	 from, to;
			int	 values;
		} squares;
		uint64_t	 spin_ms;
	} arg;
	union {
		struct count_result count;
		unsigned __int128 sum;
		uint64_t	 spun_ms;
	} res;
	TAILQ_ENTRY(cpu_task) entry;	/* cpu_queue or worker->tasks */
};
TAILQ_HEAD(cpu_tasks, cpu_task);

/* A running job's state (job->engine). */
struct cpu_run {
	struct job	*job;
	enum cpu_op	 op;
	u_int		 ntasks;
	u_int		 nleft;
	struct cpu_task	*tasks;
	json_t		*values;	/* squares values, when asked */
	TAILQ_ENTRY(cpu_run) entry;
};
TAILQ_HEAD(cpu_runs, cpu_run);

struct cpu_worker {
	int		 id;
	enum cpu_wstate	 state;
	pid_t		 pid;		/* 0 when down */
	int		 fd;
	struct event	*ev;
	struct event	*timer;		/* delayed respawn; start watchdog */
	struct cpu_tasks tasks;		/* outstanding, oldest (running) first */
	u_int		 ntasks;
	u_int		 depth;		/* most tasks at once */
	uint64_t	 cost_us;	/* estimated, of the outstanding tasks */
	uint64_t	 spawned;	/* mono us */
	uint64_t	 jobs_done;	/* tasks, by the current process */
	uint64_t	 jobs_total;	/* tasks, by every process of the slot */
	u_int		 restarts;
	int		 backoff_ms;	/* delay before the next respawn */
	int		 retire;	/* leave the pool when its tasks end */
	char		 last_exit[64];
	TAILQ_ENTRY(cpu_worker) entry;
};
TAILQ_HEAD(cpu_workers, cpu_worker);

/* A worker process that has been let go and is waiting to be reaped. */
struct cpu_corpse {
	pid_t		 pid;
	int		 wid;
	enum cpu_why	 why;
	LIST_ENTRY(cpu_corpse) entry;
};
LIST_HEAD(cpu_corpses, cpu_corpse);

static struct event_base *cpu_base;
static char		*cpu_exe;	/* what posix_spawn runs */
static int		 cpu_exe_fd = -1;
static struct event	*cpu_sigchld;
static struct cpu_workers cpu_workers = TAILQ_HEAD_INITIALIZER(cpu_workers);
static struct cpu_tasks	 cpu_queue = TAILQ_HEAD_INITIALIZER(cpu_queue);
static struct cpu_runs	 cpu_runs = TAILQ_HEAD_INITIALIZER(cpu_runs);
static struct cpu_corpses cpu_corpses = LIST_HEAD_INITIALIZER(cpu_corpses);
static int		 cpu_size;	/* slots not retiring */
static int		 cpu_next_id;
static uint64_t		 cpu_next_task;
static size_t		 cpu_nqueued;
static uint64_t		 cpu_restarts[CPU_NRESTARTS];
static unsigned char	*cpu_rbuf;	/* one message from a worker */
static int		 cpu_started;
static int		 cpu_stopping;
static int		 cpu_testing;	/* cpu_test_init: slots have no process */
static u_int		 cpu_test_depth_n = 1;	/* of cpu_test_worker slots */

static int	 cpu_check_charcount(struct job *, json_t *, struct rpcerr *);
static int	 cpu_check_squares(struct job *, json_t *, struct rpcerr *);
static int	 cpu_check_spin(struct job *, json_t *, struct rpcerr *);
static int	 cpu_has_capacity(void);
static void	 cpu_start(struct job *);
static void	 cpu_cancel(struct job *, enum job_state);
static json_t	*cpu_status(void);
static void	 cpu_read_cb(evutil_socket_t, short, void *);
static void	 cpu_respawn_cb(evutil_socket_t, short, void *);
static void	 cpu_sigchld_cb(evutil_socket_t, short, void *);
static void	 cpu_worker_lost(struct cpu_worker *, int, int, const char *);
static void	 cpu_pump(void);
static void	 cpu_enqueue(struct cpu_task *, int);

const struct engine cpu_engine = {
	.name = "cpu",
	.has_capacity = cpu_has_capacity,
	.start = cpu_start,
	.cancel = cpu_cancel,
	.status = cpu_status,
};

static const struct jobtype cpu_types[] = {
	{
		.name = "charcount",
		.class = CLASS_CPU,
		.classes = 1 << CLASS_CPU,
		.idempotent = 1,
		.check = cpu_check_charcount,
		.args_doc = "{\"path\": \"absolute path of a regular file "
		    "inside allowed_roots\"}",
		.op = CPU_OP_CHARCOUNT,
	},
	{
		.name = "squares",
		.class = CLASS_CPU,
		.classes = 1 << CLASS_CPU,
		.idempotent = 1,
		.check = cpu_check_squares,
		.args_doc = "{\"from\": \"first integer, |x| <= 2^32\", "
		    "\"to\": \"last integer (inclusive), |x| <= 2^32\", "
		    "\"values\": \"return every square (bool, default false; "
		    "at most 10000 numbers)\"}",
		.op = CPU_OP_SQUARES,
	},
	{
		.name = "spin",
		.class = CLASS_CPU,
		.classes = 1 << CLASS_CPU,
		.idempotent = 1,
		.check = cpu_check_spin,
		.args_doc = "{\"ms\": \"milliseconds of CPU to burn in a "
		    "worker, 1..3600000\"}",
		.op = CPU_OP_SPIN,
	},
};

/* Describe a wait status for logs and the status page. */
static void
cpu_describe(int status, char *buf, size_t len)
{
	const char	*name;

	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status)) {
		name = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, len, "killed by signal %d (SIG%s)",
		    WTERMSIG(status), name != NULL ? name : "?");
	} else
		snprintf(buf, len, "wait status %#x", status);
}

/* --- job types: submit-time checks ------------------------------------ */

static void
cpu_file_free(void *arg)
{
	struct cpu_file	*f = arg;

	if (f == NULL)
		return;
	if (f->fd != -1)
		close(f->fd);
	free(f);
}

static const char *
cpu_ftype(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}

/* Turn a stat/open failure into the client's error. */
static int
cpu_path_error(struct rpcerr *err, const char *path, int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		rpcerr_set(err, RPC_INVALID_PARAMS, "path", "no such file: %s",
		    path);
		break;
	case EACCES:
	case EPERM:
		rpcerr_set(err, RPC_FORBIDDEN, "path", "permission denied: %s",
		    path);
		break;
	case ELOOP:
		rpcerr_set(err, RPC_INVALID_PARAMS, "path",
		    "is a symbolic link: %s", path);
		break;
	default:
		rpcerr_set(err, RPC_INVALID_PARAMS, "path", "%s: %s", path,
		    strerror(e));
		break;
	}
	return -1;
}

/*
 * charcount {path}: resolve against allowed_roots, refuse anything but a
 * regular file before opening it (a FIFO would block the open, a device
 * may have side effects), open it and keep the descriptor for the
 * workers, so what they read is what was checked.
 */
static int
cpu_check_charcount(struct job *job, json_t *args, struct rpcerr *err)
{
	static const char *const known[] = { "path", NULL };
	char			 resolved[PATH_MAX];
	const char		*path;
	struct stat		 st;
	struct cpu_file		*f;
	int			 fd;

	if (arg_only(args, known, err) == -1 ||
	    arg_str(args, "path", NULL, &path, err) == -1)
		return -1;
	if (path[0] != '/') {
		rpcerr_set(err, RPC_INVALID_PARAMS, "path",
		    "must be an absolute path");
		return -1;
	}
	if (path_allowed(path, resolved, sizeof resolved, err) == -1)
		return -1;
	if (stat(resolved, &st) == -1)
		return cpu_path_error(err, path, errno);
	if (!S_ISREG(st.st_mode)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "path",
		    "not a regular file (%s): %s", cpu_ftype(st.st_mode), path);
		return -1;
	}
	/* Not a plain open: the path may have changed since it was checked. */
	fd = path_open_nofollow(resolved, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return cpu_path_error(err, path, errno);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		rpcerr_set(err, RPC_INVALID_PARAMS, "path",
		    "not a regular file: %s", path);
		return -1;
	}
	f = xcalloc(1, sizeof *f);
	f->fd = fd;
	job->data = f;
	job->data_free = cpu_file_free;
	return 0;
}

/* squares {from, to, values}. */
static int
cpu_check_squares(struct job *job, json_t *args, struct rpcerr *err)
{
	static const char *const known[] = { "from", "to", "values", NULL };
	int64_t		 from, to;
	int		 values;

	if (arg_only(args, known, err) == -1 ||
	    arg_int(args, "from", ARG_REQUIRED, -SQUARES_LIMIT, SQUARES_LIMIT,
	    &from, err) == -1 ||
	    arg_int(args, "to", ARG_REQUIRED, -SQUARES_LIMIT, SQUARES_LIMIT,
	    &to, err) == -1 ||
	    arg_bool(args, "values", 0, &values, err) == -1)
		return -1;
	if (from > to) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "to",
		    "must not be less than from");
		return -1;
	}
	if (values && (uint64_t)(to - from) + 1 > SQUARES_MAX_VALUES) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "values",
		    "only allowed for at most %d numbers", SQUARES_MAX_VALUES);
		return -1;
	}
	return 0;
}

/* spin {ms}. */
static int
cpu_check_spin(struct job *job, json_t *args, struct rpcerr *err)
{
	static const char *const known[] = { "ms", NULL };
	int64_t		 ms;

	if (arg_only(args, known, err) == -1 ||
	    arg_int(args, "ms", ARG_REQUIRED, 1, CPU_SPIN_MAX_MS, &ms,
	    err) == -1)
		return -1;
	return 0;
}

/* --- workers ------------------------------------------------------------ */

static struct cpu_worker *
cpu_worker_find(pid_t pid)
{
	struct cpu_worker	*w;

	TAILQ_FOREACH(w, &cpu_workers, entry) {
		if (w->pid == pid && pid != 0)
			return w;
	}
	return NULL;
}

static struct cpu_worker *
cpu_worker_by_id(int id)
{
	struct cpu_worker	*w;

	TAILQ_FOREACH(w, &cpu_workers, entry) {
		if (w->id == id)
			return w;
	}
	return NULL;
}

/* Send one message, with a descriptor when fd != -1. */
static int
cpu_send(struct cpu_worker *w, const void *buf, size_t len, int fd)
{
	ssize_t	 n;

	n = fd_send(w->fd, buf, len, fd, MSG_DONTWAIT);
	if (n == -1) {
		log_warn("%s: worker %d (pid %ld)", __func__, w->id,
		    (long)w->pid);
		return -1;
	}
	if ((size_t)n != len) {
		log_warnx("%s: worker %d: short send", __func__, w->id);
		return -1;
	}
	return 0;
}

/* Start a process in slot w: socketpair, posix_spawn, hello. */
static int
cpu_spawn(struct cpu_worker *w)
{
	static char			 arg0[] = "jobd", arg1[] = JOBD_WORKER_ARG;
	static char			 arg2[] = "3";
	char				*argv[] = { arg0, arg1, arg2, NULL };
	struct cpu_msg_hello		 hello;
	struct timeval			 tv = { CPU_START_TIMEOUT_S, 0 };
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 all, none;
	pid_t				 pid;
	int				 sv[2], fd, error, sz;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	/* dup2 of a descriptor onto itself would leave FD_CLOEXEC set. */
	if (sv[1] <= 3) {
		if ((fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 4)) == -1) {
			log_warn("%s: fcntl", __func__);
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		close(sv[1]);
		sv[1] = fd;
	}
	sz = (int)CPU_MSG_MAX + 4096;
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) == -1)
		log_warn("%s: SO_RCVBUF", __func__);

	/*
	 * posix_spawn (a vfork-style clone in glibc) runs no daemon code in
	 * the child. Only the socket is inherited, as descriptor 3, with
	 * default signal handling and an empty mask, in its own process
	 * group so a terminal's ^C reaches the daemon alone, which then
	 * stops the workers in order.
	 */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_init(&attr);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	error = posix_spawn(&pid, cpu_exe, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (error != 0) {
		errno = error;
		log_warn("%s: posix_spawn %s", __func__, cpu_exe);
		close(sv[0]);
		return -1;
	}

	w->pid = pid;
	w->fd = sv[0];
	w->state = CPU_W_STARTING;
	w->spawned = now_mono_us();
	w->jobs_done = 0;
	if (set_nonblock(w->fd) == -1)
		goto fail;
	w->ev = event_new(cpu_base, w->fd, EV_READ | EV_PERSIST, cpu_read_cb,
	    w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1) {
		log_warnx("%s: event_add", __func__);
		goto fail;
	}

	memset(&hello, 0, sizeof hello);
	hello.hdr.type = CPU_MSG_HELLO;
	hello.hdr.len = sizeof hello;
	hello.version = CPU_PROTO_VERSION;
	hello.memory_limit_mb = (uint32_t)cfg->memory_limit_mb;
	hello.ppid = (int32_t)getpid();
	hello.log_level = log_getlevel();
	if (cpu_send(w, &hello, sizeof hello, -1) == -1)
		goto fail;
	evtimer_add(w->timer, &tv);
	log_debug("%s: worker %d started, pid %ld", __func__, w->id,
	    (long)pid);
	return 0;

fail:
	/* Reaped on SIGCHLD like any other. */
	cpu_worker_lost(w, 0, 0, "could not be set up");
	return 0;
}

/* Try to fill slot w now; on failure, retry after the backoff delay. */
static void
cpu_worker_spawn_later(struct cpu_worker *w, int delay_ms)
{
	struct timeval	 tv;

	if (cpu_stopping)
		return;
	if (delay_ms == 0) {
		if (cpu_spawn(w) == 0)
			return;
		delay_ms = w->backoff_ms;
		w->backoff_ms = delay_ms == 0 ? CPU_BACKOFF_MIN_MS :
		    delay_ms * 2 > CPU_BACKOFF_MAX_MS ? CPU_BACKOFF_MAX_MS :
		    delay_ms * 2;
		if (delay_ms == 0)
			delay_ms = CPU_BACKOFF_MIN_MS;
	}
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);
	log_debug("%s: worker %d respawns in %d ms", __func__, w->id,
	    delay_ms);
}

/* The slot's timer: respawn a down slot, or give up on a slow start. */
static void
cpu_respawn_cb(evutil_socket_t fd, short events, void *arg)
{
	struct cpu_worker	*w = arg;

	if (w->state == CPU_W_DOWN)
		cpu_worker_spawn_later(w, 0);
	else if (w->state == CPU_W_STARTING) {
		cpu_worker_lost(w, 0, 0, "did not start in time");
		cpu_pump();
	}
}

static struct cpu_worker *
cpu_worker_new(void)
{
	struct cpu_worker	*w;

	w = xcalloc(1, sizeof *w);
	w->id = cpu_next_id++;
	w->fd = -1;
	w->state = CPU_W_DOWN;
	TAILQ_INIT(&w->tasks);
	w->depth = CPU_DEPTH;
	w->timer = evtimer_new(cpu_base, cpu_respawn_cb, w);
	if (w->timer == NULL)
		fatalx("%s: evtimer_new", __func__);
	TAILQ_INSERT_TAIL(&cpu_workers, w, entry);
	return w;
}

static void
cpu_worker_free(struct cpu_worker *w)
{
	TAILQ_REMOVE(&cpu_workers, w, entry);
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->fd != -1)
		close(w->fd);
	event_free(w->timer);
	free(w);
}

/*
 * Let go of w's process: stop listening, close the socket (which ends an
 * idle worker by itself) and remember the pid to reap unless the process
 * was already reaped. The slot is left down; the caller has taken its
 * tasks (cpu_worker_take).
 */
static void
cpu_worker_close(struct cpu_worker *w, enum cpu_why why, int reaped)
{
	struct cpu_corpse	*c;

	evtimer_del(w->timer);
	if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (w->fd != -1) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->pid != 0 && !reaped) {
		c = xcalloc(1, sizeof *c);
		c->pid = w->pid;
		c->wid = w->id;
		c->why = why;
		LIST_INSERT_HEAD(&cpu_corpses, c, entry);
	}
	if (why < CPU_NRESTARTS) {
		cpu_restarts[why]++;
		w->restarts++;
	}
	w->pid = 0;
	w->state = CPU_W_DOWN;
}

/* After its process is gone: refill slot w, or drop it if retiring. */
static void
cpu_worker_refill(struct cpu_worker *w, int delay_ms)
{
	if (w->retire || cpu_stopping || cpu_testing) {
		cpu_worker_free(w);
		return;
	}
	cpu_worker_spawn_later(w, delay_ms);
}

/* Move w's outstanding tasks, in order, to list. */
static void
cpu_worker_take(struct cpu_worker *w, struct cpu_tasks *list)
{
	struct cpu_task	*t;

	TAILQ_INIT(list);
	while ((t = TAILQ_FIRST(&w->tasks)) != NULL) {
		TAILQ_REMOVE(&w->tasks, t, entry);
		t->worker = NULL;
		TAILQ_INSERT_TAIL(list, t, entry);
	}
	w->ntasks = 0;
	w->cost_us = 0;
}

/*
 * Put tasks that were sent to a worker but never started back at the front
 * of the FIFO, in their order: they cost their jobs no attempt.
 */
static void
cpu_requeue(struct cpu_tasks *list)
{
	struct cpu_task	*t;

	while ((t = TAILQ_LAST(list, cpu_tasks)) != NULL) {
		TAILQ_REMOVE(list, t, entry);
		log_debug("job %s: task %llu requeued", t->run->job->id,
		    (unsigned long long)t->id);
		cpu_enqueue(t, 1);
	}
}

/*
 * Kill w's process at once (timeout or cancel of run, which is being
 * stopped) and start another. The tasks of other jobs it held go back to
 * the FIFO; those of run are dropped.
 */
static void
cpu_worker_kill(struct cpu_worker *w, enum cpu_why why, struct cpu_run *run)
{
	struct cpu_tasks	 list, others;
	struct cpu_task		*t;

	log_info("worker %d (pid %ld) killed: %s", w->id, (long)w->pid,
	    cpu_why_names[why]);
	if (w->pid != 0)
		kill(w->pid, SIGKILL);
	cpu_worker_take(w, &list);
	TAILQ_INIT(&others);
	while ((t = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, t, entry);
		if (t->run != run)
			TAILQ_INSERT_TAIL(&others, t, entry);
	}
	cpu_worker_close(w, why, 0);
	cpu_worker_refill(w, 0);
	cpu_requeue(&others);
}

/* Retire w's process gracefully (recycle or shrink): close the socket. */
static void
cpu_worker_release(struct cpu_worker *w, enum cpu_why why)
{
	log_debug("worker %d (pid %ld) released: %s", w->id, (long)w->pid,
	    cpu_why_names[why]);
	if (w->ntasks != 0)
		fatalx("%s: worker %d has %u tasks", __func__, w->id,
		    w->ntasks);
	cpu_worker_close(w, why, 0);
	cpu_worker_refill(w, 0);
}

/* --- runs and tasks ----------------------------------------------------- */

static void
cpu_enqueue(struct cpu_task *t, int front)
{
	if (front)
		TAILQ_INSERT_HEAD(&cpu_queue, t, entry);
	else
		TAILQ_INSERT_TAIL(&cpu_queue, t, entry);
	t->queued = 1;
	cpu_nqueued++;
}

static void
cpu_dequeue(struct cpu_task *t)
{
	TAILQ_REMOVE(&cpu_queue, t, entry);
	t->queued = 0;
	cpu_nqueued--;
}

static struct cpu_run *
cpu_run_new(struct job *job, u_int ntasks)
{
	struct cpu_run	*run;
	u_int		 i;

	run = xcalloc(1, sizeof *run);
	run->job = job;
	run->op = job->type->op;
	run->ntasks = run->nleft = ntasks;
	run->tasks = xcalloc(ntasks, sizeof *run->tasks);
	for (i = 0; i < ntasks; i++) {
		run->tasks[i].run = run;
		run->tasks[i].id = ++cpu_next_task;
	}
	return run;
}

/* Detach a run from its job and free it. */
static void
cpu_run_free(struct cpu_run *run)
{
	TAILQ_REMOVE(&cpu_runs, run, entry);
	run->job->engine = NULL;
	json_decref(run->values);
	free(run->tasks);
	free(run);
}

/*
 * Stop a run: drop its queued tasks, kill the workers holding the others
 * (why says which restart counter; other jobs' tasks on them are requeued)
 * and free it. The caller then finishes the job.
 */
static void
cpu_run_abort(struct cpu_run *run, enum cpu_why why)
{
	struct cpu_task	*t;
	u_int		 i;

	for (i = 0; i < run->ntasks; i++) {
		t = &run->tasks[i];
		if (t->queued)
			cpu_dequeue(t);
		if (t->worker != NULL)
			cpu_worker_kill(t->worker, why, run);
	}
	cpu_run_free(run);
}

/* Release the file as soon as the job is over, not when it expires. */
static void
cpu_job_release(struct job *job)
{
	if (job->data != NULL && job->data_free != NULL) {
		job->data_free(job->data);
		job->data = NULL;
		job->data_free = NULL;
	}
}

/* A square as JSON: an integer when it fits, else a decimal string. */
static json_t *
cpu_u128_json(unsigned __int128 v)
{
	char	 buf[48];

	if (v <= (unsigned __int128)INT64_MAX)
		return json_integer((json_int_t)v);
	u128_to_dec(v, buf, sizeof buf);
	return json_string(buf);
}

/* Every task is in: merge in order, finish the job. */
static void
cpu_run_done(struct cpu_run *run)
{
	struct job		*job = run->job;
	struct count_result	 acc;
	unsigned __int128	 sum = 0;
	uint64_t		 count = 0;
	json_t			*result = NULL;
	char			 buf[48];
	u_int			 i;

	switch (run->op) {
	case CPU_OP_CHARCOUNT:
		acc = run->tasks[0].res.count;
		for (i = 1; i < run->ntasks; i++)
			count_merge(&acc, &run->tasks[i].res.count);
		result = json_pack("{s:I, s:I, s:I, s:b}",
		    "bytes", (json_int_t)acc.bytes,
		    "chars", (json_int_t)acc.chars,
		    "lines", (json_int_t)acc.lines,
		    "valid_utf8", acc.valid);
		break;
	case CPU_OP_SQUARES:
		for (i = 0; i < run->ntasks; i++) {
			sum += run->tasks[i].res.sum;
			count += (uint64_t)(run->tasks[i].arg.squares.to -
			    run->tasks[i].arg.squares.from) + 1;
		}
		u128_to_dec(sum, buf, sizeof buf);
		result = json_pack("{s:I, s:s}", "count", (json_int_t)count,
		    "sum", buf);
		if (run->values != NULL) {
			json_object_set_new(result, "values", run->values);
			run->values = NULL;
		}
		break;
	case CPU_OP_SPIN:
		result = json_pack("{s:I}", "spun_ms",
		    (json_int_t)run->tasks[0].res.spun_ms);
		break;
	}
	cpu_run_free(run);
	cpu_job_release(job);
	job_finish(job, JOB_DONE, result, NULL, NULL);
}

/* Fail a job: stop its other tasks and finish it. */
static void
cpu_run_fail(struct cpu_run *run, const char *code, const char *msg)
{
	struct job	*job = run->job;

	cpu_run_abort(run, CPU_WHY_CANCEL);
	cpu_job_release(job);
	job_finish(job, JOB_FAILED, NULL, code, "%s", msg);
}

/*
 * The worker running t died. An idempotent job gets its task run again
 * once (the other tasks' results stand); otherwise, or the second time,
 * the job fails with worker_crashed.
 */
static void
cpu_task_lost(struct cpu_task *t, pid_t pid, const char *how)
{
	struct cpu_run	*run = t->run;
	struct job	*job = run->job;
	char		 msg[160];

	t->worker = NULL;
	if (job->type->idempotent && job->attempts < CPU_MAX_ATTEMPTS) {
		job->attempts++;
		log_info("job %s: worker pid %ld %s; retrying (attempt %d)",
		    job->id, (long)pid, how, job->attempts);
		cpu_enqueue(t, 1);
		return;
	}
	log_warnx("job %s: worker pid %ld %s; giving up after %d attempts",
	    job->id, (long)pid, how, job->attempts);
	snprintf(msg, sizeof msg, "worker pid %ld %s", (long)pid, how);
	cpu_run_fail(run, "worker_crashed", msg);
}

/* Split a job into its tasks; -1 with the job finished on failure. */
static struct cpu_run *
cpu_plan(struct job *job)
{
	struct cpu_run	*run;
	struct cpu_task	*t;
	struct cpu_file	*f = job->data;
	struct stat	 st;
	json_t		*v;
	uint64_t	 size, chunk, n, r, count, i;
	int64_t		 from, to;
	int		 values;

	switch (job->type->op) {
	case CPU_OP_CHARCOUNT:
		/* Count the file as it is now, not as it was at submit. */
		if (f == NULL || fstat(f->fd, &st) == -1) {
			log_warn("%s: job %s: fstat", __func__, job->id);
			cpu_job_release(job);
			job_finish(job, JOB_FAILED, NULL, "io_error",
			    "cannot stat the file: %s", strerror(errno));
			return NULL;
		}
		size = (uint64_t)st.st_size;
		chunk = (uint64_t)cfg->chunk_bytes;
		n = 1;
		if (size > chunk) {
			/* All workers get work, no range above chunk_bytes. */
			n = (size + chunk - 1) / chunk;
			if (n < (uint64_t)cpu_size)
				n = (uint64_t)cpu_size;
			if (n > CPU_MAX_TASKS)
				n = CPU_MAX_TASKS;
		}
		r = n == 1 ? size : (size + n - 1) / n;
		if (n > 1)
			n = (size + r - 1) / r;
		run = cpu_run_new(job, (u_int)n);
		for (i = 0; i < n; i++) {
			t = &run->tasks[i];
			t->arg.count.off = i * r;
			t->arg.count.len = i == n - 1 ? size - i * r : r;
			t->arg.count.fsize = size;
		}
		return run;
	case CPU_OP_SQUARES:
		from = json_integer_value(json_object_get(job->args, "from"));
		to = json_integer_value(json_object_get(job->args, "to"));
		values = json_is_true(json_object_get(job->args, "values"));
		count = (uint64_t)(to - from) + 1;
		n = 1;
		if (!values && count > (uint64_t)CPU_SQUARES_SPLIT &&
		    cpu_size > 1)
			n = (uint64_t)cpu_size;
		r = (count + n - 1) / n;
		n = (count + r - 1) / r;
		run = cpu_run_new(job, (u_int)n);
		for (i = 0; i < n; i++) {
			t = &run->tasks[i];
			t->arg.squares.from = from + (int64_t)(i * r);
			t->arg.squares.to = i == n - 1 ? to :
			    from + (int64_t)((i + 1) * r) - 1;
			t->arg.squares.values = values;
		}
		if (values)
			run->values = json_array();
		return run;
	case CPU_OP_SPIN:
		v = json_object_get(job->args, "ms");
		run = cpu_run_new(job, 1);
		run->tasks[0].arg.spin_ms = (uint64_t)json_integer_value(v);
		return run;
	}
	fatalx("%s: job %s: bad op %d", __func__, job->id, job->type->op);
}

/*
 * A rough run time, for CPU_PIPE_US only: a spin says it; counting and
 * squaring go at about a byte or a number a nanosecond (slower than the
 * kernels, so a long task is not taken for a short one).
 */
static uint64_t
cpu_task_cost(const struct cpu_task *t)
{
	switch (t->run->op) {
	case CPU_OP_CHARCOUNT:
		return t->arg.count.len / 1000;
	case CPU_OP_SQUARES:
		return ((uint64_t)(t->arg.squares.to - t->arg.squares.from) +
		    1) / 1000;
	case CPU_OP_SPIN:
		return t->arg.spin_ms * 1000;
	}
	return UINT64_MAX;
}

/* Send task t to worker w, which has room for it. */
static int
cpu_task_send(struct cpu_worker *w, struct cpu_task *t)
{
	struct job		*job = t->run->job;
	struct cpu_file		*f = job->data;
	struct cpu_msg_count	 mc;
	struct cpu_msg_squares	 ms;
	struct cpu_msg_spin	 mp;

	switch (t->run->op) {
	case CPU_OP_CHARCOUNT:
		memset(&mc, 0, sizeof mc);
		mc.hdr.type = CPU_MSG_COUNT;
		mc.hdr.len = sizeof mc;
		mc.hdr.task = t->id;
		mc.off = t->arg.count.off;
		mc.len = t->arg.count.len;
		mc.fsize = t->arg.count.fsize;
		return cpu_send(w, &mc, sizeof mc, f->fd);
	case CPU_OP_SQUARES:
		memset(&ms, 0, sizeof ms);
		ms.hdr.type = CPU_MSG_SQUARES;
		ms.hdr.len = sizeof ms;
		ms.hdr.task = t->id;
		ms.from = t->arg.squares.from;
		ms.to = t->arg.squares.to;
		ms.values = (uint32_t)t->arg.squares.values;
		return cpu_send(w, &ms, sizeof ms, -1);
	case CPU_OP_SPIN:
		memset(&mp, 0, sizeof mp);
		mp.hdr.type = CPU_MSG_SPIN;
		mp.hdr.len = sizeof mp;
		mp.hdr.task = t->id;
		mp.ms = t->arg.spin_ms;
		return cpu_send(w, &mp, sizeof mp, -1);
	}
	return -1;
}

/*
 * May w take one more task? Not when starting, down or retiring; not
 * beyond its depth, nor beyond what max_jobs_per_worker leaves it (so a
 * worker to recycle has nothing outstanding once its last reply is in);
 * and beyond its first task only while what it holds is short.
 */
static int
cpu_worker_room(const struct cpu_worker *w)
{
	if ((w->state != CPU_W_IDLE && w->state != CPU_W_BUSY) || w->retire)
		return 0;
	if (w->ntasks >= w->depth)
		return 0;
	if (cfg->max_jobs_per_worker > 0 && w->jobs_done + w->ntasks >=
	    (uint64_t)cfg->max_jobs_per_worker)
		return 0;
	return w->ntasks == 0 || w->cost_us < CPU_PIPE_US;
}

/*
 * The worker to take the next task: the least loaded with room, so that
 * every idle worker gets a task before any gets a second one (a job split
 * in as many tasks as workers runs on all of them).
 */
static struct cpu_worker *
cpu_free_worker(void)
{
	struct cpu_worker	*w, *best = NULL;

	TAILQ_FOREACH(w, &cpu_workers, entry) {
		if (!cpu_worker_room(w))
			continue;
		if (best == NULL || w->ntasks < best->ntasks)
			best = w;
		if (best->ntasks == 0)
			break;
	}
	return best;
}

/*
 * Give waiting tasks to workers with room. A task that cannot be sent goes
 * back to the front without costing its job an attempt: it never ran.
 */
static void
cpu_dispatch(void)
{
	struct cpu_worker	*w;
	struct cpu_task		*t;

	while ((t = TAILQ_FIRST(&cpu_queue)) != NULL &&
	    (w = cpu_free_worker()) != NULL) {
		cpu_dequeue(t);
		if (cpu_task_send(w, t) == -1) {
			cpu_enqueue(t, 1);
			cpu_worker_lost(w, 0, 0, "could not be sent a task");
			continue;
		}
		w->state = CPU_W_BUSY;
		TAILQ_INSERT_TAIL(&w->tasks, t, entry);
		w->ntasks++;
		w->cost_us += t->cost_us;
		t->worker = w;
	}
}

/* Run what can run now, then let sched hand over more jobs. */
static void
cpu_pump(void)
{
	if (cpu_stopping)
		return;
	cpu_dispatch();
	if (cpu_has_capacity())
		sched_kick(CLASS_CPU);
}

/*
 * A worker process ended or broke the protocol: reap-or-kill it, refill
 * the slot (with a growing delay when processes keep dying young) and
 * deal with its tasks: the oldest was running and falls under the retry
 * rule (cpu_task_lost); the others had not started and go back to the
 * front of the FIFO as they were. With reaped set, status is its wait
 * status; else how says what was seen.
 */
static void
cpu_worker_lost(struct cpu_worker *w, int reaped, int status,
    const char *how)
{
	struct cpu_tasks list;
	struct cpu_task	*t = TAILQ_FIRST(&w->tasks);
	pid_t		 pid = w->pid;
	char		 desc[64];
	int		 delay;

	if (reaped)
		cpu_describe(status, desc, sizeof desc);
	else {
		snprintf(desc, sizeof desc, "%s", how);
		/* Its exit status may be there already. */
		if (pid != 0 && waitpid(pid, &status, WNOHANG) == pid) {
			cpu_describe(status, desc, sizeof desc);
			reaped = 1;
		} else if (pid != 0)
			kill(pid, SIGKILL);
	}
	if (reaped)
		snprintf(w->last_exit, sizeof w->last_exit, "%s", desc);
	log_warnx("worker %d (pid %ld) %s%s", w->id, (long)pid, desc,
	    t != NULL ? " during a task" : "");

	if (w->spawned != 0 && now_mono_us() - w->spawned >= CPU_STABLE_US)
		w->backoff_ms = 0;
	delay = w->backoff_ms;
	w->backoff_ms = delay == 0 ? CPU_BACKOFF_MIN_MS :
	    delay * 2 > CPU_BACKOFF_MAX_MS ? CPU_BACKOFF_MAX_MS : delay * 2;

	cpu_worker_take(w, &list);
	cpu_worker_close(w, CPU_WHY_CRASH, reaped);
	cpu_worker_refill(w, delay);
	if (t != NULL) {
		TAILQ_REMOVE(&list, t, entry);
		cpu_requeue(&list);
		cpu_task_lost(t, pid, desc);
	}
}

/*
 * w answered its oldest task t. With nothing else outstanding it is idle
 * again, unless it leaves the pool (shrinking) or has done its
 * max_jobs_per_worker (recycled: it was sent no more than that).
 */
static void
cpu_worker_idle(struct cpu_worker *w, struct cpu_task *t)
{
	TAILQ_REMOVE(&w->tasks, t, entry);
	w->ntasks--;
	w->cost_us -= t->cost_us;
	t->worker = NULL;
	w->jobs_done++;
	w->jobs_total++;
	if (w->ntasks != 0)
		return;
	w->state = CPU_W_IDLE;
	if (w->retire)
		cpu_worker_release(w, CPU_WHY_RETIRE);
	else if (cfg->max_jobs_per_worker > 0 &&
	    w->jobs_done >= (uint64_t)cfg->max_jobs_per_worker)
		cpu_worker_release(w, CPU_WHY_RECYCLE);
}

/*
 * Check and take a reply to w's oldest task; -1 if it is malformed or
 * answers another task (replies come in send order).
 */
static int
cpu_reply(struct cpu_worker *w, size_t n)
{
	const struct cpu_msg_hdr		*hdr = (void *)cpu_rbuf;
	const struct cpu_msg_count_done		*mc = (void *)cpu_rbuf;
	const struct cpu_msg_squares_done	*ms = (void *)cpu_rbuf;
	const struct cpu_msg_spin_done		*mp = (void *)cpu_rbuf;
	const struct cpu_msg_error		*me = (void *)cpu_rbuf;
	const uint64_t				*v;
	struct cpu_task				*t = TAILQ_FIRST(&w->tasks);
	struct cpu_run				*run = t->run;
	uint64_t				 count, i;
	unsigned __int128			 sq;
	char					 msg[160];

	if (hdr->task != t->id) {
		log_warnx("%s: worker %d: reply for task %llu, not %llu",
		    __func__, w->id, (unsigned long long)hdr->task,
		    (unsigned long long)t->id);
		return -1;
	}
	switch (hdr->type) {
	case CPU_MSG_COUNT_DONE:
		/*
		 * lead_skip and tail_extra feed count_merge: a sequence is at
		 * most 4 bytes, so neither is above 3, nor beyond the range
		 * or the file (count_range). Unchecked, an impossible value
		 * was taken and turned a valid file invalid.
		 */
		if (run->op != CPU_OP_CHARCOUNT || n != sizeof *mc ||
		    mc->valid > 1 || mc->bytes != t->arg.count.len ||
		    mc->chars > mc->bytes || mc->lines > mc->bytes ||
		    mc->lead_skip > 3 || mc->lead_skip > mc->bytes ||
		    mc->tail_extra > 3 || mc->tail_extra > t->arg.count.fsize -
		    t->arg.count.off - t->arg.count.len)
			return -1;
		memset(&t->res.count, 0, sizeof t->res.count);
		t->res.count.bytes = mc->bytes;
		t->res.count.chars = mc->chars;
		t->res.count.lines = mc->lines;
		t->res.count.valid = (int)mc->valid;
		t->res.count.lead_skip = mc->lead_skip;
		t->res.count.tail_extra = mc->tail_extra;
		break;
	case CPU_MSG_SQUARES_DONE:
		count = (uint64_t)(t->arg.squares.to - t->arg.squares.from) + 1;
		if (run->op != CPU_OP_SQUARES || n < sizeof *ms ||
		    ms->count != count ||
		    ms->nvalues != (t->arg.squares.values ? count : 0) ||
		    n != sizeof *ms + (size_t)ms->nvalues * 2 *
		    sizeof (uint64_t))
			return -1;
		t->res.sum = ((unsigned __int128)ms->sum_hi << 64) |
		    ms->sum_lo;
		v = (const uint64_t *)(ms + 1);
		for (i = 0; i < ms->nvalues; i++) {
			if (v[2 * i + 1] > 1)	/* squares are <= 2^64 */
				return -1;
		}
		for (i = 0; i < ms->nvalues; i++) {
			sq = ((unsigned __int128)v[2 * i + 1] << 64) |
			    v[2 * i];
			json_array_append_new(run->values, cpu_u128_json(sq));
		}
		break;
	case CPU_MSG_SPIN_DONE:
		if (run->op != CPU_OP_SPIN || n != sizeof *mp)
			return -1;
		t->res.spun_ms = mp->spun_ms;
		break;
	case CPU_MSG_ERROR:
		if (n != sizeof *me ||
		    memchr(me->msg, '\0', sizeof me->msg) == NULL)
			return -1;
		snprintf(msg, sizeof msg, "%s", me->msg);
		log_warnx("job %s: worker %d: %s", run->job->id, w->id, msg);
		/* The worker is fine: it answered. */
		cpu_worker_idle(w, t);
		cpu_run_fail(run, me->code == ENOMEM ? "out_of_memory" :
		    run->op == CPU_OP_CHARCOUNT ? "io_error" : "worker_error",
		    msg);
		return 0;
	default:
		return -1;
	}
	t->done = 1;
	cpu_worker_idle(w, t);
	if (--run->nleft == 0)
		cpu_run_done(run);
	return 0;
}

/* A message (or EOF) from a worker. */
static void
cpu_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct cpu_worker		*w = arg;
	const struct cpu_msg_hdr	*hdr = (void *)cpu_rbuf;
	const struct cpu_msg_ready	*mr = (void *)cpu_rbuf;
	ssize_t				 n;
	int				 nfds, bad;

	/*
	 * Workers never send descriptors: fd_recv closes any it finds (none
	 * kept), and a zero-length message can carry them too, so that
	 * happens before n is looked at (found by tests/fuzz_worker).
	 */
	n = fd_recv(fd, cpu_rbuf, CPU_MSG_MAX, NULL, 0, &nfds, MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_warn("%s: worker %d: recvmsg", __func__, w->id);
		cpu_worker_lost(w, 0, 0, "broke its socket");
		goto out;
	}
	bad = nfds != 0;	/* descriptors, or a message cut short */
	if (n == 0) {
		cpu_worker_lost(w, 0, 0, "closed its socket");
		goto out;
	}
	if (bad || (size_t)n < sizeof *hdr || hdr->len != (size_t)n)
		bad = 1;
	else if (w->state == CPU_W_STARTING) {
		if (hdr->type != CPU_MSG_READY || (size_t)n != sizeof *mr ||
		    mr->version != CPU_PROTO_VERSION || mr->pid != w->pid)
			bad = 1;
		else {
			w->state = CPU_W_IDLE;
			evtimer_del(w->timer);
			log_debug("worker %d (pid %ld) ready", w->id,
			    (long)w->pid);
		}
	} else if (w->state == CPU_W_BUSY && !TAILQ_EMPTY(&w->tasks))
		bad = cpu_reply(w, (size_t)n) == -1;
	else
		bad = 1;
	if (bad) {
		log_warnx("%s: worker %d (pid %ld): bad message (%zd bytes, "
		    "type %u)", __func__, w->id, (long)w->pid, n,
		    (size_t)n >= sizeof *hdr ? hdr->type : 0);
		cpu_worker_lost(w, 0, 0, "sent a bad message");
	}
out:
	cpu_pump();
}

/* Reap every child that ended. */
static void
cpu_sigchld_cb(evutil_socket_t sig, short events, void *arg)
{
	struct cpu_corpse	*c;
	struct cpu_worker	*w;
	char			 desc[64];
	pid_t			 pid;
	int			 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		cpu_describe(status, desc, sizeof desc);
		LIST_FOREACH(c, &cpu_corpses, entry) {
			if (c->pid == pid)
				break;
		}
		if (c != NULL) {
			if (c->why <= CPU_WHY_CANCEL)
				log_info("worker %d (pid %ld, %s) %s", c->wid,
				    (long)pid, cpu_why_names[c->why], desc);
			else
				log_debug("worker %d (pid %ld, %s) %s", c->wid,
				    (long)pid, cpu_why_names[c->why], desc);
			if ((w = cpu_worker_by_id(c->wid)) != NULL)
				snprintf(w->last_exit, sizeof w->last_exit,
				    "%s", desc);
			LIST_REMOVE(c, entry);
			free(c);
			continue;
		}
		if ((w = cpu_worker_find(pid)) != NULL) {
			/* Died before its socket told us. */
			cpu_worker_lost(w, 1, status, NULL);
			continue;
		}
		log_debug("%s: reaped pid %ld (not a worker): %s", __func__,
		    (long)pid, desc);
	}
	cpu_pump();
}

/* --- the engine --------------------------------------------------------- */

/* Room for another job: nothing waits in the FIFO, a worker has room. */
static int
cpu_has_capacity(void)
{
	if (cpu_stopping)
		return 0;
	return TAILQ_EMPTY(&cpu_queue) && cpu_free_worker() != NULL;
}

static void
cpu_start(struct job *job)
{
	struct cpu_run	*run;
	u_int		 i;

	if ((run = cpu_plan(job)) == NULL)
		return;		/* finished */
	TAILQ_INSERT_TAIL(&cpu_runs, run, entry);
	job->engine = run;
	for (i = 0; i < run->ntasks; i++) {
		run->tasks[i].cost_us = cpu_task_cost(&run->tasks[i]);
		cpu_enqueue(&run->tasks[i], 0);
	}
	log_debug("job %s (%s): %u task%s", job->id, job->type->name,
	    run->ntasks, run->ntasks == 1 ? "" : "s");
	cpu_dispatch();
}

static void
cpu_cancel(struct job *job, enum job_state state)
{
	struct cpu_run	*run = job->engine;

	if (run != NULL)
		cpu_run_abort(run, state == JOB_TIMEOUT ? CPU_WHY_TIMEOUT :
		    CPU_WHY_CANCEL);
	cpu_job_release(job);
	if (state == JOB_TIMEOUT)
		job_finish(job, state, NULL, "timeout",
		    "timed out after %lld ms", (long long)job->timeout_ms);
	else
		job_finish(job, state, NULL, "cancelled",
		    "cancelled while running");
	cpu_pump();
}

/* Resident set of a process in KiB, -1 if unknown. */
static long long
cpu_rss_kb(pid_t pid)
{
	char		 path[64];
	FILE		*f;
	long long	 size, resident;
	int		 ok;

	snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	ok = fscanf(f, "%lld %lld", &size, &resident) == 2;
	fclose(f);
	if (!ok)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static json_t *
cpu_status(void)
{
	struct cpu_worker	*w;
	struct cpu_task		*t;
	json_t			*o, *workers, *wo, *restarts;
	uint64_t		 now = now_mono_us();
	size_t			 running = 0;
	long long		 rss;
	int			 i;

	workers = json_array();
	TAILQ_FOREACH(w, &cpu_workers, entry) {
		wo = json_pack("{s:i, s:s, s:I, s:I, s:i}",
		    "id", w->id,
		    "state", cpu_wstate_names[w->state],
		    "jobs_done", (json_int_t)w->jobs_done,
		    "jobs_total", (json_int_t)w->jobs_total,
		    "restarts", (int)w->restarts);
		if (w->pid != 0) {
			json_object_set_new(wo, "pid", json_integer(w->pid));
			json_object_set_new(wo, "uptime_s", json_integer(
			    (json_int_t)((now - w->spawned) / 1000000)));
			if ((rss = cpu_rss_kb(w->pid)) >= 0)
				json_object_set_new(wo, "rss_kb",
				    json_integer(rss));
		} else
			json_object_set_new(wo, "pid", json_null());
		json_object_set_new(wo, "outstanding",
		    json_integer((json_int_t)w->ntasks));
		if ((t = TAILQ_FIRST(&w->tasks)) != NULL) {
			json_object_set_new(wo, "job",
			    json_string(t->run->job->id));
			running++;
		}
		if (w->retire)
			json_object_set_new(wo, "retiring", json_true());
		if (w->last_exit[0] != '\0')
			json_object_set_new(wo, "last_exit",
			    json_string(w->last_exit));
		json_array_append_new(workers, wo);
	}
	restarts = json_object();
	for (i = 0; i < CPU_NRESTARTS; i++)
		json_object_set_new(restarts, cpu_why_names[i],
		    json_integer((json_int_t)cpu_restarts[i]));
	o = json_object();
	json_object_set_new(o, "size", json_integer(cpu_size));
	json_object_set_new(o, "workers", workers);
	json_object_set_new(o, "tasks_queued",
	    json_integer((json_int_t)cpu_nqueued));
	json_object_set_new(o, "tasks_running",
	    json_integer((json_int_t)running));
	json_object_set_new(o, "restarts", restarts);
	json_object_set_new(o, "kernel", json_string(count_kernel_name()));
	return o;
}

/*
 * Grow or shrink the pool to n workers without failing running tasks:
 * growing first takes back slots that were retiring; shrinking drops
 * down slots, then starting and idle processes, then marks busy ones to
 * leave when their outstanding tasks end (they are sent no more).
 */
int
cpu_resize(int n)
{
	struct cpu_worker	*w, *tw;
	enum cpu_wstate		 st;
	int			 pass;
	static const enum cpu_wstate order[] = {
		CPU_W_DOWN, CPU_W_STARTING, CPU_W_IDLE, CPU_W_BUSY
	};

	if (n < 1 || n > CPU_MAX_WORKERS) {
		log_warnx("%s: %d workers: must be 1 to %d", __func__, n,
		    CPU_MAX_WORKERS);
		return -1;
	}
	if (!cpu_started || cpu_stopping)
		return -1;
	if (n != cpu_size)
		log_info("cpu: %d worker%s (was %d)", n, n == 1 ? "" : "s",
		    cpu_size);

	TAILQ_FOREACH(w, &cpu_workers, entry) {
		if (cpu_size < n && w->retire) {
			w->retire = 0;
			cpu_size++;
		}
	}
	while (cpu_size < n) {
		w = cpu_worker_new();
		cpu_size++;
		cpu_worker_spawn_later(w, 0);
	}
	for (pass = 0; pass < (int)nitems(order) && cpu_size > n; pass++) {
		st = order[pass];
		TAILQ_FOREACH_SAFE(w, &cpu_workers, entry, tw) {
			if (cpu_size <= n)
				break;
			if (w->retire || w->state != st)
				continue;
			w->retire = 1;
			cpu_size--;
			switch (st) {
			case CPU_W_DOWN:
				cpu_worker_free(w);
				break;
			case CPU_W_STARTING:
			case CPU_W_IDLE:
				cpu_worker_release(w, CPU_WHY_RETIRE);
				break;
			case CPU_W_BUSY:
				break;	/* when its tasks end */
			}
		}
	}
	cpu_pump();
	return 0;
}

int
cpu_init(struct event_base *base, const char *exe_path)
{
	struct cpu_worker	*w;
	size_t			 i;
	int			 n;

	cpu_base = base;
	/*
	 * Pin our own executable and run it as /proc/PID/fd/N: like
	 * /proc/self/exe it is this very binary even after an upgrade
	 * replaced the file, and it also works when the daemon runs under
	 * valgrind, where /proc/self/exe in a child would be valgrind.
	 */
	if ((cpu_exe_fd = open(exe_path, O_RDONLY | O_CLOEXEC)) != -1)
		xasprintf(&cpu_exe, "/proc/%ld/fd/%d", (long)getpid(),
		    cpu_exe_fd);
	else {
		log_warn("%s: open %s", __func__, exe_path);
		cpu_exe = xstrdup(exe_path);
	}
	cpu_rbuf = xmalloc(CPU_MSG_MAX);
	cpu_stopping = 0;
	memset(cpu_restarts, 0, sizeof cpu_restarts);

	cpu_sigchld = evsignal_new(base, SIGCHLD, cpu_sigchld_cb, NULL);
	if (cpu_sigchld == NULL || evsignal_add(cpu_sigchld, NULL) == -1) {
		log_warnx("%s: cannot watch SIGCHLD", __func__);
		return -1;
	}
	for (i = 0; i < nitems(cpu_types); i++)
		sched_register(&cpu_types[i]);
	sched_set_engine(CLASS_CPU, &cpu_engine);

	/* A pool that cannot start even one process is a start-up error. */
	n = config_cpu_workers(cfg);
	for (cpu_size = 0; cpu_size < n; cpu_size++) {
		w = cpu_worker_new();
		if (cpu_spawn(w) == -1) {
			log_warnx("%s: cannot start workers from %s", __func__,
			    cpu_exe);
			cpu_worker_free(w);
			cpu_started = 1;
			cpu_shutdown();
			return -1;
		}
	}
	cpu_started = 1;
	log_info("cpu: %d worker%s, %s kernel", n, n == 1 ? "" : "s",
	    count_kernel_name());
	return 0;
}

/* Reap the listed pids, waiting at most ms; returns how many are left. */
static int
cpu_reap_all(int ms)
{
	struct cpu_corpse	*c, *tc;
	struct timespec		 ts = { 0, 10 * 1000000 };
	uint64_t		 end = now_mono_us() + (uint64_t)ms * 1000;
	int			 left;

	for (;;) {
		left = 0;
		LIST_FOREACH_SAFE(c, &cpu_corpses, entry, tc) {
			if (waitpid(c->pid, NULL, WNOHANG) == 0) {
				left++;
				continue;
			}
			LIST_REMOVE(c, entry);	/* reaped, or not ours */
			free(c);
		}
		if (left == 0 || now_mono_us() >= end)
			return left;
		nanosleep(&ts, NULL);
	}
}

/*
 * Stop the pool: running jobs end as cancelled, every process gets
 * SIGTERM (its socket closed too), then SIGKILL after a short grace.
 * Blocking is fine here: the event loop is over.
 */
void
cpu_shutdown(void)
{
	struct cpu_worker	*w;
	struct cpu_corpse	*c;
	struct cpu_run		*run;
	struct job		*job;

	if (!cpu_started)
		return;
	cpu_stopping = 1;
	while ((run = TAILQ_FIRST(&cpu_runs)) != NULL) {
		job = run->job;
		cpu_run_abort(run, CPU_WHY_SHUTDOWN);
		cpu_job_release(job);
		job_finish(job, JOB_CANCELLED, NULL, "cancelled",
		    "the daemon is shutting down");
	}
	while ((w = TAILQ_FIRST(&cpu_workers)) != NULL) {
		if (w->pid != 0) {
			kill(w->pid, SIGTERM);
			cpu_worker_close(w, CPU_WHY_SHUTDOWN, 0);
		}
		cpu_worker_free(w);
	}
	if (cpu_reap_all(CPU_GRACE_MS) > 0) {
		LIST_FOREACH(c, &cpu_corpses, entry) {
			log_warnx("%s: worker pid %ld did not stop; killing",
			    __func__, (long)c->pid);
			kill(c->pid, SIGKILL);
		}
		cpu_reap_all(INT_MAX / 2);
	}
	while ((c = LIST_FIRST(&cpu_corpses)) != NULL) {
		LIST_REMOVE(c, entry);
		free(c);
	}
	if (cpu_sigchld != NULL) {
		event_free(cpu_sigchld);
		cpu_sigchld = NULL;
	}
	TAILQ_INIT(&cpu_queue);
	cpu_nqueued = 0;
	cpu_size = 0;
	free(cpu_rbuf);
	cpu_rbuf = NULL;
	free(cpu_exe);
	cpu_exe = NULL;
	if (cpu_exe_fd != -1) {
		close(cpu_exe_fd);
		cpu_exe_fd = -1;
	}
	cpu_started = 0;
	cpu_testing = 0;
}

/* Test hook: the pool on base, with types and engine, but no process. */
void
cpu_test_init(struct event_base *base)
{
	size_t	 i;

	cpu_base = base;
	cpu_rbuf = xmalloc(CPU_MSG_MAX);
	cpu_stopping = 0;
	cpu_testing = 1;
	memset(cpu_restarts, 0, sizeof cpu_restarts);
	for (i = 0; i < nitems(cpu_types); i++)
		sched_register(&cpu_types[i]);
	sched_set_engine(CLASS_CPU, &cpu_engine);
	cpu_started = 1;
}

/*
 * Test hook: the depth of the next cpu_test_worker slots (1 to CPU_DEPTH;
 * 1 by default).
 */
void
cpu_test_depth(int depth)
{
	cpu_test_depth_n = depth < 1 ? 1 : depth > CPU_DEPTH ? CPU_DEPTH :
	    (u_int)depth;
}

/*
 * Test hook: a slot whose process is the caller, on the returned end of
 * its socketpair (the caller closes it); -1 on failure. Idle, it is sent
 * queued tasks at once; starting, it waits for READY (pid 0, no
 * watchdog).
 */
int
cpu_test_worker(int starting)
{
	struct cpu_worker	*w;
	int			 sv[2], sz;

	if (!cpu_testing)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	sz = (int)CPU_MSG_MAX + 4096;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	w = cpu_worker_new();
	/*
	 * The caller answers each request as it reads it, so it must never
	 * read one the pool may drop unanswered (a slot let go with tasks
	 * queued on it): one task at a time, unless cpu_test_depth says.
	 */
	w->depth = cpu_test_depth_n;
	w->fd = sv[0];
	w->state = starting ? CPU_W_STARTING : CPU_W_IDLE;
	w->spawned = now_mono_us();
	w->ev = event_new(cpu_base, w->fd, EV_READ | EV_PERSIST, cpu_read_cb,
	    w);
	if (set_nonblock(w->fd) == -1 || w->ev == NULL ||
	    event_add(w->ev, NULL) == -1) {
		log_warnx("%s: event_add", __func__);
		cpu_worker_free(w);
		close(sv[1]);
		return -1;
	}
	cpu_pump();
	return sv[1];
}
