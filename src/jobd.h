/*
 * jobd — a job daemon that runs I/O-bound jobs on libcurl event loops and
 * CPU-bound jobs on a pool of pre-forked worker processes.
 *
 * One header for the whole program, one section per source file.
 */
#ifndef JOBD_H
#define JOBD_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <jansson.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif
#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = LIST_FIRST(head);					\
	    (var) != NULL && ((tvar) = LIST_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/* $(sysconfdir)/jobd/jobd.conf: /etc/jobd/jobd.conf with --sysconfdir=/etc. */
#ifdef SYSCONFDIR
#define JOBD_DEFAULT_CONFIG	SYSCONFDIR "/jobd/jobd.conf"
#else
#define JOBD_DEFAULT_CONFIG	"/etc/jobd/jobd.conf"
#endif
#define JOBD_DEFAULT_SOCKET	"/run/jobd/jobd.sock"
#define JOBD_WORKER_ARG		"--worker"	/* hidden worker mode, argv[1] */

#define nitems(a)	(sizeof (a) / sizeof (a)[0])

/* JSON-RPC error codes (PROTOCOL.md). */
#define RPC_PARSE_ERROR		-32700
#define RPC_INVALID_REQUEST	-32600
#define RPC_METHOD_NOT_FOUND	-32601
#define RPC_INVALID_PARAMS	-32602
#define RPC_INTERNAL_ERROR	-32603
#define RPC_OVERLOADED		-32001
#define RPC_UNKNOWN_JOB		-32002
#define RPC_FORBIDDEN		-32003
#define RPC_SHUTTING_DOWN	-32004
#define RPC_TOO_LARGE		-32005

/*
 * An RPC error being built. The field/reason go to error.data as
 * {"field","reason"} for -32602, {"reason"} for -32003, and retry_after_ms
 * as {"retry_after_ms"} for -32001.
 */
struct rpcerr {
	int		 code;
	char		 field[64];
	char		 reason[256];
	int		 retry_after_ms;
};

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
int		 xasprintf(char **, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
int		 xvasprintf(char **, const char *, va_list);
/* Fault injection seam for tests: fail the Nth allocation (0 = never). */
extern unsigned long xmalloc_fail_after;

/* log.c */
enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
void		 log_init(const char *, int);
void		 log_setlevel(int);
int		 log_getlevel(void);
int		 log_parse_level(const char *);
const char	*log_level_name(int);
void		 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatal(const char *, ...)
		     __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *, ...)
		     __attribute__((format(printf, 1, 2)));

/* util.c: clocks and small helpers shared by every module. */
extern struct event_base *main_base;	/* the main thread's loop */
extern uint64_t	 main_start_mono;
/* Set by main.c: re-read the config (SIGHUP, daemon.reload); -1 + rpcerr. */
extern int	 (*main_reload)(struct rpcerr *);
uint64_t	 now_mono_us(void);		/* CLOCK_MONOTONIC */
uint64_t	 now_wall_us(void);		/* CLOCK_REALTIME */
void		 fmt_rfc3339(char *, size_t, uint64_t);	/* wall us, UTC, ms */
void		 rpcerr_set(struct rpcerr *, int, const char *, const char *, ...)
		     __attribute__((format(printf, 4, 5)));
int		 set_nonblock(int);
int		 set_cloexec(int);
/*
 * Resolve a client path (absolute, symlinks resolved) and check that it is
 * under config allowed_roots; -1 with rpcerr set (-32602 bad path, -32003
 * outside the roots). Writes the resolved path.
 */
int		 path_allowed(const char *, char *, size_t, struct rpcerr *);
/*
 * One message on a SOCK_SEQPACKET/DGRAM socket, with descriptors. fd_send
 * sends fd along unless it is -1 (MSG_NOSIGNAL added; EINTR retried).
 * fd_recv keeps up to maxfds descriptors in fds and their count in *nfds;
 * when more came, or the message or its control data were cut, all of
 * them are closed and *nfds is -1. Both return what sendmsg/recvmsg do.
 */
ssize_t		 fd_send(int, const void *, size_t, int, int);
ssize_t		 fd_recv(int, void *, size_t, int *, int, int *, int);
/* Open a resolved absolute path with O_NOFOLLOW on every component. */
int		 path_open_nofollow(const char *, int);
/*
 * Job argument helpers for jobtype check() functions. Each validates one
 * member of an args object and writes the default back when it is absent,
 * so the normalised args replay; -1 with an -32602 rpcerr naming the field.
 * def_required: pass ARG_REQUIRED to make the member mandatory.
 */
#define ARG_REQUIRED	INT64_MIN
int		 arg_int(json_t *, const char *, int64_t, int64_t, int64_t,
		     int64_t *, struct rpcerr *);
int		 arg_bool(json_t *, const char *, int, int *, struct rpcerr *);
/* def NULL = required. */
int		 arg_str(json_t *, const char *, const char *, const char **,
		     struct rpcerr *);
/* Reject members not in the NULL-terminated list. */
int		 arg_only(json_t *, const char *const *, struct rpcerr *);

/* config.c */
struct config {
	char		*path;		/* file it came from, or NULL */

	/* [daemon] */
	char		*socket;
	unsigned int	 socket_mode;
	char		*socket_group;	/* NULL = primary group of the daemon */
	char		*admin_group;	/* may see and cancel others' jobs */
	int		 log_level;
	char		*state_dir;
	int		 result_ttl_s;
	int		 drain_timeout_s;

	/* [io] */
	int		 io_threads;
	int		 blocking_threads;
	int		 max_transfers;
	int		 max_host_connections;
	char		*download_dir;
	char		*allowed_schemes;	/* "http,https" */
	int64_t		 io_timeout_ms;
	int64_t		 io_max_bytes;

	/* [cpu] */
	int		 cpu_workers;		/* 0 = one per online CPU */
	int		 max_jobs_per_worker;	/* 0 = never recycle */
	int		 memory_limit_mb;	/* 0 = none */
	int64_t		 cpu_timeout_ms;	/* 0 = none */
	int64_t		 chunk_bytes;

	/* [limits] */
	int		 max_connections;
	int		 max_queued;
	int64_t		 max_request_bytes;
	int64_t		 max_output_bytes;	/* per connection */

	/* [files] */
	char		**allowed_roots;	/* NULL-terminated */
	int		 nallowed_roots;
};
extern struct config	*cfg;		/* the configuration in force */
/* Fill a fresh struct (old contents are not freed). */
void		 config_defaults(struct config *);
/*
 * Load an INI file over *c. must_exist=0: a missing file is not an error.
 * -1 with a malloc'ed "file:line: [section] key: reason" in *err, and *c
 * untouched; on success all of c's strings are new allocations.
 */
int		 config_load(struct config *, const char *, int, char **);
/* Apply one "section.key=value" (-o); errors as config_load. */
int		 config_set(struct config *, const char *, char **);
void		 config_free(struct config *);
int		 config_cpu_workers(const struct config *);	/* resolves 0 */
/* Whether two configs set every key alike (path aside). */
int		 config_equal(const struct config *, const struct config *);
int		 config_dump(const struct config *, FILE *);

/* job.c */
enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
	JOB_FAILED,
	JOB_TIMEOUT,
	JOB_CANCELLED,
};
#define JOB_NSTATES	6
#define JOB_FINISHED(s)	((s) >= JOB_DONE)

enum job_class { CLASS_IO, CLASS_CPU };
#define JOB_NCLASSES	2

struct job;

/*
 * A job type: the registry entry that classifies and validates. check()
 * runs on the main thread at submit time; it validates and normalises
 * args in place (filling defaults, so the args replay), and may attach
 * prepared data to the job with job->data / job->data_free.
 */
struct jobtype {
	const char	*name;
	enum job_class	 class;		/* default class */
	int		 classes;	/* mask of (1 << class) it may run on */
	int		 idempotent;	/* retried once after a worker crash */
	int		 (*check)(struct job *, json_t *, struct rpcerr *);
	const char	*args_doc;	/* JSON text: {"arg": "description", ...} */
	int		 op;		/* engine's own opcode */
};

/* Something waiting for a job to finish: an RPC request, a map. */
struct job_waiter {
	void		(*cb)(struct job *, void *);
	void		*arg;
	struct job	*job;
	TAILQ_ENTRY(job_waiter) entry;
};
TAILQ_HEAD(job_waiters, job_waiter);

struct job {
	char		 id[24];
	const struct jobtype *type;
	enum job_class	 class;
	enum job_state	 state;
	int		 priority;
	uint64_t	 seq;		/* submission order, FIFO tie-break */
	char		*tag;
	uid_t		 uid;
	int		 attempts;
	int64_t		 timeout_ms;	/* 0 = none; counted from start */

	json_t		*args;		/* owned, normalised */
	json_t		*result;	/* owned, when done */
	char		*err_code;	/* other end states */
	char		*err_msg;

	uint64_t	 submitted_wall;
	uint64_t	 submitted_mono;
	uint64_t	 started_mono;
	uint64_t	 finished_mono;

	void		*data;		/* prepared by type->check */
	void		(*data_free)(void *);
	void		*engine;	/* engine's per-run state */

	struct event	*timer;		/* run timeout */
	struct job_waiters waiters;

	TAILQ_ENTRY(job) qentry;	/* sched queue or engine list */
	TAILQ_ENTRY(job) aentry;	/* all jobs, by submission */
	TAILQ_ENTRY(job) fentry;	/* finished jobs, by finish time */
	LIST_ENTRY(job)	 hentry;	/* id hash */
	int		 refs;
};
TAILQ_HEAD(jobs, job);

void		 job_init(struct event_base *);
void		 job_shutdown(void);
struct job	*job_new(const struct jobtype *, enum job_class, json_t *,
		     int, const char *, int64_t, uid_t);
void		 job_free(struct job *);
struct job	*job_find(const char *);
/* The only place a job's state changes. */
void		 job_set_state(struct job *, enum job_state);
/* Finish with an end state; result is stolen; errcode/msg for non-done. */
void		 job_finish(struct job *, enum job_state, json_t *,
		     const char *, const char *, ...)
		     __attribute__((format(printf, 5, 6)));
json_t		*job_record(const struct job *, int);
void		 job_wait(struct job *, struct job_waiter *,
		     void (*)(struct job *, void *), void *);
void		 job_unwait(struct job_waiter *);
void		 job_hold(struct job *);
void		 job_release(struct job *);
const char	*job_state_name(enum job_state);
int		 job_state_parse(const char *);
const char	*job_class_name(enum job_class);
int		 job_class_parse(const char *);
struct job	*job_first(void);	/* iterate all jobs, oldest first */
struct job	*job_next(struct job *);
struct job	*job_last(void);
struct job	*job_prev(struct job *);
uint64_t	 job_count(enum job_state);	/* current, by state */
uint64_t	 job_total(enum job_state);	/* ever finished in state */
size_t		 job_table_size(void);
void		 job_expire(void);

/* sched.c: the type registry, classification and the priority queues. */
struct engine {
	const char	*name;
	int		 (*has_capacity)(void);
	void		 (*start)(struct job *);
	/* Abort a running job; the engine finishes it with the given state. */
	void		 (*cancel)(struct job *, enum job_state);
	json_t		*(*status)(void);
};
void		 sched_init(void);
void		 sched_shutdown(void);
void		 sched_register(const struct jobtype *);
void		 sched_set_engine(enum job_class, const struct engine *);
const struct jobtype *sched_type(const char *);
json_t		*sched_types_json(void);
/* What a submit asks for, besides the args. */
struct job_spec {
	const struct jobtype *type;
	int		 class;
	int64_t		 priority;
	int64_t		 timeout_ms;
	const char	*tag;		/* borrowed from the params */
};
/* Read type/class/timeout_ms/priority/tag (and allow extra keys). */
int		 sched_spec(json_t *, const char *const *, struct job_spec *,
		     struct rpcerr *);
/* Create, check and queue a job; args stolen; NULL with rpcerr. */
struct job	*sched_create(const struct job_spec *, json_t *, uid_t,
		     struct rpcerr *);
/* Check args as a submit would, without creating a job. */
int		 sched_check(const struct job_spec *, json_t *, uid_t,
		     struct rpcerr *);
/* Validate job.submit params and create + queue a job. */
struct job	*sched_submit(json_t *, uid_t, struct rpcerr *);
void		 sched_kick(enum job_class);	/* an engine has room */
/* Cancel (or time out) a job in any state; a no-op once finished. */
void		 sched_cancel(struct job *, enum job_state);
size_t		 sched_queued(enum job_class);
json_t		*sched_status(void);		/* queue depths */
json_t		*sched_pools_json(void);	/* engines' status */
extern int	 sched_draining;		/* no new work accepted */

/* server.c: listener and connections. */
struct conn;
struct rpc_conn;
int		 server_listen(struct event_base *, const char *, unsigned int,
		     const char *);
int		 server_listen_fd(struct event_base *, int);
void		 server_close(void);	/* stop accepting */
void		 server_shutdown(void);	/* close every connection */
struct rpc_conn	*conn_rpc(struct conn *);
void		 conn_send(struct conn *, json_t *);	/* steals */
/* Send an encoded message, '\n' included; the malloc'ed buffer is taken. */
void		 conn_send_text(struct conn *, char *, size_t);
void		 conn_send_pieces(struct conn *, char **, size_t *, int);
uid_t		 conn_uid(const struct conn *);
int		 conn_admin(const struct conn *);	/* root or admin_group */
void		 server_config(void);	/* after cfg changes */
pid_t		 conn_pid(const struct conn *);
int		 server_nconns(void);
size_t		 server_output_pending(void);	/* bytes not yet written */

/* rpc.c: JSON-RPC 2.0 on top of connections. */
void		 rpc_init(struct event_base *);
struct rpc_conn	*rpc_conn_new(struct conn *);
void		 rpc_conn_free(struct rpc_conn *);	/* connection gone */
int		 rpc_conn_busy(const struct rpc_conn *);	/* answers owed */
void		 rpc_handle(struct conn *, const char *, size_t);
/* For deferred requests whose answer another module produces (job.map). */
struct rpc_req;
void		 rpc_req_respond(struct rpc_req *, json_t *);	/* stolen */
void		 rpc_req_respond_text(struct rpc_req *, char *, size_t);
void		 rpc_req_notify(struct rpc_req *, const char *, json_t *);
void		 rpc_req_on_detach(struct rpc_req *, void (*)(void *), void *);
uid_t		 rpc_req_uid(const struct rpc_req *);
int		 rpc_req_admin(const struct rpc_req *);
int		 rpc_req_is_notification(const struct rpc_req *);

/* map.c: job.map, one job type over many items. */
int		 map_start(struct rpc_req *, json_t *, struct rpcerr *);
void		 map_shutdown(void);
size_t		 map_count(void);
json_t		*rpc_error_json(json_t *, int, const char *, const json_t *);
json_t		*rpcerr_json(json_t *, const struct rpcerr *);

/* count.c: the CPU kernels (pure; used by workers and tests). */
/*
 * The count of one byte range [off, off+len) of a file. Validity across
 * cuts: the range skips up to 3 continuation bytes at its start (never at
 * offset 0) as belonging to a sequence begun before it (lead_skip), and
 * validates every sequence that starts inside it, reading up to 3 bytes
 * past its end to finish the last one (tail_extra). count_merge checks
 * that these agree at each boundary, so the merged answer does not depend
 * on where the cuts fall.
 */
struct count_result {
	uint64_t	 bytes;
	uint64_t	 chars;		/* UTF-8 code points (non-continuation bytes) */
	uint64_t	 lines;		/* '\n' bytes */
	int		 valid;		/* valid UTF-8 */
	unsigned int	 lead_skip;	/* continuation bytes at start, left to the previous range */
	unsigned int	 tail_extra;	/* bytes past the end read to finish the last sequence */
};
/*
 * Count [off, off+len) of fd (file size fsize) with pread windows;
 * -1 (logged, errno set) on a read error, a range outside fsize, or a file
 * that turns out shorter than fsize.
 */
int		 count_range(int, uint64_t, uint64_t, uint64_t,
		     struct count_result *);
/* Count a buffer that is a whole file (no neighbours). */
void		 count_buffer(const unsigned char *, size_t, struct count_result *);
/*
 * Merge next (the range right after acc's) into acc. Associative; an
 * empty range is neutral, and acc may start zeroed (all-zero = empty).
 */
void		 count_merge(struct count_result *, const struct count_result *);
const char	*count_kernel_name(void);	/* "avx2" or "swar" */
/*
 * Force a kernel ("avx2", "swar"; NULL = default: $JOBD_COUNT_KERNEL, else
 * the best the CPU has). -1 if unknown or unsupported on this CPU.
 */
int		 count_set_kernel(const char *);
extern size_t	 count_window_bytes;	/* pread window (tests shrink it) */
/* Sum of i*i for from <= i <= to, |i| <= 2^32 (0 if from > to). */
unsigned __int128 squares_sum(int64_t, int64_t);
/* Decimal, truncated to fit like snprintf; U128_DEC_SIZE always fits. */
void		 u128_to_dec(unsigned __int128, char *, size_t);
#define U128_DEC_SIZE	40
#define SQUARES_LIMIT	(INT64_C(1) << 32)
#define SQUARES_MAX_VALUES 10000

/* cpu.c: the pre-forked worker pool. */
int		 cpu_init(struct event_base *, const char *);
void		 cpu_shutdown(void);
int		 cpu_resize(int);
extern const struct engine cpu_engine;
/*
 * Test hooks (tests/fuzz_worker.c): cpu_test_init() sets the pool up on a
 * base with no worker process; cpu_test_worker(starting) adds a slot,
 * idle or waiting for READY, and returns the process's end of its
 * socket: requests come out there and replies go in, through the real
 * read callback. A test slot that is let go is dropped, never respawned.
 * It holds one task at a time, or up to cpu_test_depth(n) for the slots
 * added after that call. cpu_shutdown() ends it all.
 */
void		 cpu_test_init(struct event_base *);
int		 cpu_test_worker(int);
void		 cpu_test_depth(int);

/*
 * The pool <-> worker protocol: one fixed binary struct per SOCK_SEQPACKET
 * message, each starting with a header; both sides check type and exact
 * length before use. The pool sends HELLO first, the worker answers READY;
 * then one request at a time, answered by its *_DONE or by ERROR with the
 * same task id. COUNT carries the file descriptor with SCM_RIGHTS.
 */
#define CPU_PROTO_VERSION	1
enum cpu_msg_type {
	CPU_MSG_HELLO = 1,	/* pool -> worker */
	CPU_MSG_READY,		/* worker -> pool */
	CPU_MSG_COUNT,		/* pool -> worker, + fd */
	CPU_MSG_SQUARES,
	CPU_MSG_SPIN,
	CPU_MSG_COUNT_DONE,	/* worker -> pool */
	CPU_MSG_SQUARES_DONE,	/* + nvalues squares as (lo, hi) uint64 pairs */
	CPU_MSG_SPIN_DONE,
	CPU_MSG_ERROR,
};
struct cpu_msg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* whole message, header included */
	uint64_t	 task;
};
struct cpu_msg_hello {
	struct cpu_msg_hdr hdr;
	uint32_t	 version;
	uint32_t	 memory_limit_mb;	/* RLIMIT_AS; 0 = none */
	int32_t		 ppid;		/* the pool's pid, checked by the worker */
	int32_t		 log_level;
};
struct cpu_msg_ready {
	struct cpu_msg_hdr hdr;
	uint32_t	 version;
	int32_t		 pid;
};
struct cpu_msg_count {
	struct cpu_msg_hdr hdr;
	uint64_t	 off;
	uint64_t	 len;
	uint64_t	 fsize;
};
struct cpu_msg_squares {
	struct cpu_msg_hdr hdr;
	int64_t		 from;
	int64_t		 to;
	uint32_t	 values;	/* 1 = return every square */
	uint32_t	 pad;
};
struct cpu_msg_spin {
	struct cpu_msg_hdr hdr;
	uint64_t	 ms;
};
struct cpu_msg_count_done {
	struct cpu_msg_hdr hdr;
	uint64_t	 bytes;
	uint64_t	 chars;
	uint64_t	 lines;
	uint32_t	 valid;
	uint32_t	 lead_skip;
	uint32_t	 tail_extra;
	uint32_t	 pad;
};
struct cpu_msg_squares_done {
	struct cpu_msg_hdr hdr;
	uint64_t	 count;
	uint64_t	 sum_lo;
	uint64_t	 sum_hi;
	uint32_t	 nvalues;
	uint32_t	 pad;
	/* uint64_t values[nvalues][2]: (2^32)^2 does not fit 64 bits */
};
struct cpu_msg_spin_done {
	struct cpu_msg_hdr hdr;
	uint64_t	 spun_ms;
};
struct cpu_msg_error {
	struct cpu_msg_hdr hdr;
	int32_t		 code;		/* errno value */
	uint32_t	 pad;
	char		 msg[112];	/* NUL-terminated */
};
#define CPU_SPIN_MAX_MS		3600000
#define CPU_MSG_MAX	(sizeof (struct cpu_msg_squares_done) +		\
			    SQUARES_MAX_VALUES * 2 * sizeof (uint64_t))

/* worker.c: the worker process (hidden mode of the jobd binary). */
int		 worker_main(int);
/* Test hook: serve one request from a socket, in process (fuzz_worker). */
int		 worker_test_serve(int);

/* io.c: I/O event-loop threads and the blocking pool. */
#define IO_OP_FETCH	1		/* jobtype.op of the I/O types */
#define IO_OP_DOWNLOAD	2
#define IO_OP_PING	3
#define IO_OP_SLEEP	4
#define IO_SLEEP_MAX_MS	86400000

/* What io_ops.done tells the loop to do next. */
#define IO_COMPLETE	0	/* post the completion to the main thread */
#define IO_AGAIN	1	/* reset the easy handle, set it up, rerun */
#define IO_LATER	2	/* the blocking pool posts the completion */
#define IO_NEXT_MASK	3
#define IO_DISCARD	4	/* flag: clean the easy handle up, don't reuse */

/* The code io_ops.done gets when there was no curl transfer result. */
#define IO_CODE_CANCELLED (-1)	/* cancelled or timed out by the main thread */
#define IO_CODE_SETUP	(-2)	/* setup() or curl_multi_add_handle failed */

/* One run of a job on the I/O engine; belongs to io.c. */
struct io_xfer;
/* A serial queue of work on the blocking pool. */
struct io_strand;

/* How a job type drives a curl transfer (http.c). */
struct io_ops {
	/* Loop thread: configure a reset easy handle (a CURL *); 0 or -1. */
	int	 (*setup)(struct io_xfer *, void *);
	/*
	 * Loop thread: the transfer ended with a CURLcode (easy handle still
	 * valid for curl_easy_getinfo), or with IO_CODE_* and no handle.
	 * Returns IO_COMPLETE, IO_AGAIN (only for a CURLcode) or IO_LATER,
	 * optionally | IO_DISCARD.
	 */
	int	 (*done)(struct io_xfer *, void *, int);
	/* Main thread: build the result and job_finish() the job. */
	void	 (*finish)(struct io_xfer *, struct job *);
	/* Any thread: free the arg once nobody uses the transfer. */
	void	 (*free)(void *);
};

int		 io_init(struct event_base *);
void		 io_shutdown(void);
/* Main thread, from http_start(): attach the ops and their state. */
void		 io_xfer_set(struct io_xfer *, const struct io_ops *, void *);
void		*io_xfer_arg(struct io_xfer *);
/* Main thread or pool: hand the transfer to its loop thread. */
void		 io_xfer_submit(struct io_xfer *);
/* Any thread, once per run: post the completion to the main thread. */
void		 io_xfer_complete(struct io_xfer *);
/* Any thread: unpause a transfer paused by its write callback. */
void		 io_xfer_resume(struct io_xfer *);
/* Any thread: has the job been cancelled (or timed out)? */
int		 io_xfer_cancelled(struct io_xfer *);
struct io_strand *io_strand_new(void);
/* Freed once its queued work has run. */
void		 io_strand_free(struct io_strand *);
/* Run fn(arg) on the blocking pool after the strand's earlier work. */
void		 io_strand_run(struct io_strand *, void (*)(void *), void *);
extern const struct engine io_engine;

/* http.c: fetch, download and ping on the I/O engine. */
void		 http_init(void);		/* registers the types */
/* Main thread: a job of an http type starts on this transfer. */
void		 http_start(struct io_xfer *, struct job *);
/* For tests: a registered type by name, and the CURLcode mapping. */
const struct jobtype *http_test_type(const char *);
const char	*http_test_errcode(int, int);

/* client.c: a small synchronous JSON-RPC client for jobctl and the tests. */
struct client;
struct client	*client_connect(const char *, char **);
void		 client_close(struct client *);
int		 client_fd(const struct client *);
/* Write one request line (a JSON value, not stolen). */
int		 client_send(struct client *, const json_t *);
int		 client_send_raw(struct client *, const void *, size_t);
/* Next message (response or notification); NULL on EOF, error or timeout. */
json_t		*client_recv(struct client *, int);
/*
 * Call method with params (stolen) and return the whole response object
 * for it; notifications that arrive first go to the client's callback.
 */
json_t		*client_call(struct client *, const char *, json_t *, int);
void		 client_on_notify(struct client *,
		     void (*)(json_t *, void *), void *);
const char	*client_default_socket(void);	/* $JOBD_SOCKET or default */

/* notify-systemd.c / notify-none.c: the service manager. */
void		 notify_ready(void);
void		 notify_reloading(void);
void		 notify_stopping(void);
void		 notify_status(const char *, ...)
		     __attribute__((format(printf, 1, 2)));
int		 notify_watchdog_usec(uint64_t *);
void		 notify_watchdog(void);
int		 notify_listen_fd(void);	/* socket-activated fd or -1 */

/* schedule.c: recurring jobs. */
/* params, the peer's uid, whether it is an admin, the result. */
int		 schedule_add(json_t *, uid_t, int, json_t **, struct rpcerr *);
int		 schedule_get(json_t *, uid_t, int, json_t **, struct rpcerr *);
int		 schedule_list(json_t *, uid_t, int, json_t **, struct rpcerr *);
int		 schedule_remove(json_t *, uid_t, int, json_t **,
		     struct rpcerr *);
json_t		*schedule_status(void);
/* cb(id, type, health: -1 not a ping, 0 unknown, 1 up, 2 down, arg) */
void		 schedule_foreach(void (*)(const char *, const char *, int,
		     void *), void *);
void		 schedule_shutdown(void);

/* metrics.c */
json_t		*metrics_status(void);
char		*metrics_text(void);		/* Prometheus text */
void		 metrics_job_finished(const struct job *);

#endif /* JOBD_H */
