/*
 * The I/O engine: io.threads event-loop threads, each with its own
 * event_base and CURLM driven by curl_multi_socket_action (the shape of
 * curl's hiperfifo example), a pool of plain threads for the steps that
 * block (disk writes of downloads), and the sleep job type.
 *
 * Threads never share an event_base, a CURLM, an easy handle or a json_t.
 * Work crosses threads as messages in a locked queue (an io_mbox) with an
 * eventfd that wakes the reader's loop: START, CANCEL and RESUME go from
 * the main thread (or the pool) to a loop, DONE comes back to the main
 * thread, which owns the jobs and builds the results.
 *
 * A transfer (struct io_xfer) is reference counted: the "pipeline" holds
 * one reference from start until the main thread has processed its DONE,
 * and each CANCEL or RESUME message in flight holds one, so a loop thread
 * never touches freed memory when a cancel races with the completion.
 * Which side a transfer is on is kept per thread: job is main-thread only
 * (NULL once the job is finished or cancelled: a late DONE is dropped),
 * lstate is loop-thread only.
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "jobd.h"

#define IO_SHUTDOWN_WAIT_MS	10000	/* for transfers to wind down */

enum io_msg_type {
	IO_MSG_START,
	IO_MSG_CANCEL,
	IO_MSG_RESUME,
	IO_MSG_DONE,
	IO_MSG_QUIT,
};

struct io_msg {
	enum io_msg_type type;
	struct io_xfer	*x;
	TAILQ_ENTRY(io_msg) entry;
};
TAILQ_HEAD(io_msgs, io_msg);

/* A locked message queue whose eventfd wakes the reader's event loop. */
struct io_mbox {
	pthread_mutex_t	 lock;
	struct io_msgs	 msgs;
	int		 efd;
	struct event	*ev;
};

enum io_lstate {
	IO_L_IDLE,		/* not (yet) on its loop */
	IO_L_ACTIVE,		/* running on its loop */
	IO_L_DONE,		/* the loop is finished with it */
};

struct io_xfer {
	uint64_t	 id;
	atomic_int	 refs;
	atomic_int	 cancelled;
	struct io_loop	*loop;
	const struct io_ops *ops;	/* NULL: a sleep */
	void		*arg;

	/* Main thread only. */
	struct job	*job;		/* NULL once finished or cancelled */
	TAILQ_ENTRY(io_xfer) mentry;

	/* Loop thread only. */
	enum io_lstate	 lstate;
	CURL		*easy;
	int		 in_multi;
	struct event	*timer;		/* sleep */
	uint64_t	 sleep_us;
	uint64_t	 start_us;
	uint64_t	 slept_us;	/* read by main after DONE */
	TAILQ_ENTRY(io_xfer) lentry;
};
TAILQ_HEAD(io_xfers, io_xfer);

struct io_loop {
	int		 idx;
	pthread_t	 thread;
	int		 started;
	struct event_base *base;
	CURLM		*multi;
	struct event	*timer;
	struct io_mbox	 mbox;

	/* Loop thread only. */
	int		 running;	/* curl's still-running count */
	struct io_xfers	 active;
	CURL		**easies;	/* recycled handles */
	size_t		 neasies;
	size_t		 caneasies;

	/* Main thread only. */
	int		 nflight;
};

/* A socket curl asked us to watch. */
struct io_sock {
	struct io_loop	*loop;
	struct event	*ev;
};

struct io_work {
	void		(*fn)(void *);
	void		*arg;
	TAILQ_ENTRY(io_work) entry;
};
TAILQ_HEAD(io_works, io_work);

struct io_strand {
	struct io_works	 work;		/* under io_pool.lock */
	int		 queued;	/* on the ready list or running */
	int		 dead;		/* free once idle */
	TAILQ_ENTRY(io_strand) entry;
};
TAILQ_HEAD(io_strands, io_strand);

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct io_strands ready;
	pthread_t	*threads;
	int		 nthreads;
	int		 quit;
} io_pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static struct io_loop	*io_loops;
static int		 io_nloops;
static struct io_mbox	 io_main;	/* completions to the main thread */
static struct io_xfers	 io_inflight = TAILQ_HEAD_INITIALIZER(io_inflight);
static int		 io_nflight;
static uint64_t		 io_completed;
static uint64_t		 io_next_id;
static int		 io_running;

static void	io_loop_finish(struct io_loop *, struct io_xfer *, int);
static void	io_xfer_unref(struct io_xfer *);

static uint64_t
io_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
io_mbox_init(struct io_mbox *mb)
{
	pthread_mutex_init(&mb->lock, NULL);
	TAILQ_INIT(&mb->msgs);
	mb->ev = NULL;
	if ((mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("%s: eventfd", __func__);
		return -1;
	}
	return 0;
}

static void
io_mbox_free(struct io_mbox *mb)
{
	struct io_msg	*m;

	while ((m = TAILQ_FIRST(&mb->msgs)) != NULL) {
		TAILQ_REMOVE(&mb->msgs, m, entry);
		free(m);
	}
	if (mb->ev != NULL)
		event_free(mb->ev);
	if (mb->efd != -1)
		close(mb->efd);
	mb->ev = NULL;
	mb->efd = -1;
	pthread_mutex_destroy(&mb->lock);
}

/*
 * Queue a message; wake the reader only when the queue was empty, since
 * the reader takes the whole queue after clearing the eventfd.
 */
static void
io_mbox_post(struct io_mbox *mb, enum io_msg_type type, struct io_xfer *x)
{
	struct io_msg	*m;
	uint64_t	 one = 1;
	int		 wake;

	m = xmalloc(sizeof *m);
	m->type = type;
	m->x = x;
	pthread_mutex_lock(&mb->lock);
	wake = TAILQ_EMPTY(&mb->msgs);
	TAILQ_INSERT_TAIL(&mb->msgs, m, entry);
	pthread_mutex_unlock(&mb->lock);
	if (wake) {
		while (write(mb->efd, &one, sizeof one) == -1 &&
		    errno == EINTR)
			;	/* EAGAIN: the counter is full, still awake */
	}
}

/* Clear the eventfd, then take every queued message. */
static void
io_mbox_take(struct io_mbox *mb, struct io_msgs *out)
{
	uint64_t	 v;

	while (read(mb->efd, &v, sizeof v) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&mb->lock);
	TAILQ_CONCAT(out, &mb->msgs, entry);
	pthread_mutex_unlock(&mb->lock);
}

/* The blocking pool. */

struct io_strand *
io_strand_new(void)
{
	struct io_strand	*s;

	s = xcalloc(1, sizeof *s);
	TAILQ_INIT(&s->work);
	return s;
}

void
io_strand_free(struct io_strand *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&io_pool.lock);
	if (s->queued)
		s->dead = 1;	/* the pool thread frees it */
	else
		free(s);
	pthread_mutex_unlock(&io_pool.lock);
}

void
io_strand_run(struct io_strand *s, void (*fn)(void *), void *arg)
{
	struct io_work	*w;

	w = xmalloc(sizeof *w);
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&io_pool.lock);
	TAILQ_INSERT_TAIL(&s->work, w, entry);
	if (!s->queued) {
		s->queued = 1;
		TAILQ_INSERT_TAIL(&io_pool.ready, s, entry);
		pthread_cond_signal(&io_pool.cond);
	}
	pthread_mutex_unlock(&io_pool.lock);
}

/*
 * A pool thread: run one item of the first ready strand at a time, then
 * put the strand back at the tail, so one busy download cannot hog it.
 * A strand runs on one thread at a time, so its items stay in order.
 */
static void *
io_pool_main(void *arg)
{
	struct io_strand	*s;
	struct io_work		*w;

	pthread_mutex_lock(&io_pool.lock);
	for (;;) {
		while (TAILQ_EMPTY(&io_pool.ready) && !io_pool.quit)
			pthread_cond_wait(&io_pool.cond, &io_pool.lock);
		if ((s = TAILQ_FIRST(&io_pool.ready)) == NULL)
			break;		/* quitting and drained */
		TAILQ_REMOVE(&io_pool.ready, s, entry);
		w = TAILQ_FIRST(&s->work);
		TAILQ_REMOVE(&s->work, w, entry);
		pthread_mutex_unlock(&io_pool.lock);

		w->fn(w->arg);
		free(w);

		pthread_mutex_lock(&io_pool.lock);
		if (!TAILQ_EMPTY(&s->work))
			TAILQ_INSERT_TAIL(&io_pool.ready, s, entry);
		else {
			s->queued = 0;
			if (s->dead)
				free(s);
		}
	}
	pthread_mutex_unlock(&io_pool.lock);
	return NULL;
}

/* Transfers. */

void
io_xfer_set(struct io_xfer *x, const struct io_ops *ops, void *arg)
{
	x->ops = ops;
	x->arg = arg;
}

void *
io_xfer_arg(struct io_xfer *x)
{
	return x->arg;
}

int
io_xfer_cancelled(struct io_xfer *x)
{
	return atomic_load(&x->cancelled);
}

void
io_xfer_submit(struct io_xfer *x)
{
	io_mbox_post(&x->loop->mbox, IO_MSG_START, x);
}

void
io_xfer_complete(struct io_xfer *x)
{
	io_mbox_post(&io_main, IO_MSG_DONE, x);
}

void
io_xfer_resume(struct io_xfer *x)
{
	atomic_fetch_add(&x->refs, 1);
	io_mbox_post(&x->loop->mbox, IO_MSG_RESUME, x);
}

/* Drop a reference; the last one frees, on whichever thread it is. */
static void
io_xfer_unref(struct io_xfer *x)
{
	if (atomic_fetch_sub(&x->refs, 1) != 1)
		return;
	if (x->ops != NULL && x->ops->free != NULL)
		x->ops->free(x->arg);
	free(x);
}

/* Loop threads. */

/* A clean easy handle: a recycled one if there is one. */
static CURL *
io_loop_easy(struct io_loop *l)
{
	if (l->neasies > 0)
		return l->easies[--l->neasies];
	return curl_easy_init();
}

/* Keep a finished easy handle for the next transfer. */
static void
io_loop_recycle(struct io_loop *l, CURL *e)
{
	curl_easy_reset(e);
	if (l->neasies == l->caneasies) {
		l->caneasies = l->caneasies == 0 ? 64 : l->caneasies * 2;
		l->easies = xreallocarray(l->easies, l->caneasies,
		    sizeof *l->easies);
	}
	l->easies[l->neasies++] = e;
}

/* Set a (reset) handle up and add it to the multi. */
static void
io_loop_add(struct io_loop *l, struct io_xfer *x)
{
	CURL	*e = x->easy;

	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
	/* Removing a handle must not wait for a resolver thread. */
	curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
	if (x->ops->setup(x, e) == -1) {
		io_loop_finish(l, x, IO_CODE_SETUP);
		return;
	}
	if (curl_multi_add_handle(l->multi, e) != CURLM_OK) {
		log_warnx("%s: curl_multi_add_handle failed", __func__);
		io_loop_finish(l, x, IO_CODE_SETUP);
		return;
	}
	x->in_multi = 1;
}

/* A sleep's timer: done once the full time has passed. */
static void
io_sleep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io_xfer	*x = arg;
	uint64_t	 el, left;
	struct timeval	 tv;

	el = io_now_us() - x->start_us;
	if (el < x->sleep_us) {
		/* Timers may round down: never report less than asked. */
		left = x->sleep_us - el;
		tv.tv_sec = left / 1000000;
		tv.tv_usec = left % 1000000;
		evtimer_add(x->timer, &tv);
		return;
	}
	x->slept_us = el;
	io_loop_finish(x->loop, x, 0);
}

/* A transfer arrives on its loop. */
static void
io_loop_start(struct io_loop *l, struct io_xfer *x)
{
	struct timeval	 tv;

	x->lstate = IO_L_ACTIVE;
	TAILQ_INSERT_TAIL(&l->active, x, lentry);
	if (atomic_load(&x->cancelled)) {
		io_loop_finish(l, x, IO_CODE_CANCELLED);
		return;
	}
	if (x->ops == NULL) {
		x->timer = evtimer_new(l->base, io_sleep_cb, x);
		x->start_us = io_now_us();
		tv.tv_sec = x->sleep_us / 1000000;
		tv.tv_usec = x->sleep_us % 1000000;
		evtimer_add(x->timer, &tv);
		return;
	}
	if ((x->easy = io_loop_easy(l)) == NULL) {
		log_warnx("%s: curl_easy_init failed", __func__);
		io_loop_finish(l, x, IO_CODE_SETUP);
		return;
	}
	io_loop_add(l, x);
}

/*
 * A transfer ends on its loop (done, failed or cancelled): tell its ops,
 * take its handle out of the multi and keep it, then complete, rerun, or
 * leave the completion to the pool.
 */
static void
io_loop_finish(struct io_loop *l, struct io_xfer *x, int code)
{
	int	 next;

	/* With IO_LATER the pool may complete it before we are done here. */
	atomic_fetch_add(&x->refs, 1);
	if (x->ops == NULL) {
		if (x->timer != NULL) {
			event_free(x->timer);
			x->timer = NULL;
		}
		next = IO_COMPLETE;
	} else
		next = x->ops->done(x, code >= 0 ? x->easy : NULL, code);

	if (x->in_multi) {
		curl_multi_remove_handle(l->multi, x->easy);
		x->in_multi = 0;
	}
	if ((next & IO_NEXT_MASK) == IO_AGAIN && code >= 0 &&
	    !atomic_load(&x->cancelled)) {
		curl_easy_reset(x->easy);
		io_loop_add(l, x);
		goto out;
	}
	if (x->easy != NULL) {
		if (next & IO_DISCARD)
			curl_easy_cleanup(x->easy);
		else
			io_loop_recycle(l, x->easy);
		x->easy = NULL;
	}
	TAILQ_REMOVE(&l->active, x, lentry);
	x->lstate = IO_L_DONE;
	if ((next & IO_NEXT_MASK) != IO_LATER)
		io_xfer_complete(x);
out:
	io_xfer_unref(x);
}

/* Collect the transfers curl has finished. */
static void
io_loop_check(struct io_loop *l)
{
	CURLMsg		*m;
	struct io_xfer	*x;
	char		*p;
	int		 left;

	while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		if ((x = (struct io_xfer *)p) == NULL)
			fatalx("%s: easy handle without transfer", __func__);
		io_loop_finish(l, x, (int)m->data.result);
	}
}

static void
io_sock_cb_ev(evutil_socket_t fd, short what, void *arg)
{
	struct io_sock	*s = arg;
	struct io_loop	*l = s->loop;	/* s may be freed inside curl */
	int		 action;

	action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(l->multi, fd, action, &l->running);
	/*
	 * No "nothing running: stop the timer" here as in hiperfifo: a
	 * rerun added in io_loop_check has just armed it, and curl itself
	 * stops it when it has nothing to time.
	 */
	io_loop_check(l);
}

/* CURLMOPT_SOCKETFUNCTION: watch, rewatch or forget a socket. */
static int
io_sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct io_loop	*l = userp;
	struct io_sock	*s = sockp;
	short		 kind;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->loop = l;
		s->ev = event_new(l->base, fd, kind, io_sock_cb_ev, s);
		curl_multi_assign(l->multi, fd, s);
	} else {
		event_del(s->ev);
		event_assign(s->ev, l->base, fd, kind, io_sock_cb_ev, s);
	}
	event_add(s->ev, NULL);
	return 0;
}

static void
io_timer_cb_ev(evutil_socket_t fd, short what, void *arg)
{
	struct io_loop	*l = arg;

	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0,
	    &l->running);
	io_loop_check(l);
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or stop the loop's one curl timer. */
static int
io_timer_cb(CURLM *multi, long ms, void *userp)
{
	struct io_loop	*l = userp;
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(l->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(l->timer, &tv);
	return 0;
}

/* Messages for a loop. */
static void
io_loop_mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io_loop	*l = arg;
	struct io_msgs	 msgs = TAILQ_HEAD_INITIALIZER(msgs);
	struct io_msg	*m;
	struct io_xfer	*x;

	io_mbox_take(&l->mbox, &msgs);
	while ((m = TAILQ_FIRST(&msgs)) != NULL) {
		TAILQ_REMOVE(&msgs, m, entry);
		x = m->x;
		switch (m->type) {
		case IO_MSG_START:
			io_loop_start(l, x);
			break;
		case IO_MSG_CANCEL:
			if (x->lstate == IO_L_ACTIVE)
				io_loop_finish(l, x, IO_CODE_CANCELLED);
			io_xfer_unref(x);
			break;
		case IO_MSG_RESUME:
			if (x->lstate == IO_L_ACTIVE && x->in_multi)
				curl_easy_pause(x->easy, CURLPAUSE_CONT);
			io_xfer_unref(x);
			break;
		case IO_MSG_QUIT:
			event_base_loopbreak(l->base);
			break;
		case IO_MSG_DONE:
			fatalx("%s: DONE sent to a loop", __func__);
		}
		free(m);
	}
}

static void *
io_loop_main(void *arg)
{
	struct io_loop	*l = arg;
	struct io_xfer	*x;

	event_base_dispatch(l->base);

	/* Normally empty: io_shutdown waits for transfers first. */
	while ((x = TAILQ_FIRST(&l->active)) != NULL)
		io_loop_finish(l, x, IO_CODE_CANCELLED);
	while (l->neasies > 0)
		curl_easy_cleanup(l->easies[--l->neasies]);
	return NULL;
}

static int
io_loop_init(struct io_loop *l, int idx)
{
	struct event_config	*ec;

	l->idx = idx;
	TAILQ_INIT(&l->active);
	if (io_mbox_init(&l->mbox) == -1)
		return -1;
	/* Only this loop's thread ever uses the base: no locking. */
	if ((ec = event_config_new()) == NULL)
		return -1;
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	l->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (l->base == NULL) {
		log_warnx("%s: event_base_new failed", __func__);
		return -1;
	}
	l->timer = evtimer_new(l->base, io_timer_cb_ev, l);
	l->mbox.ev = event_new(l->base, l->mbox.efd, EV_READ | EV_PERSIST,
	    io_loop_mbox_cb, l);
	if (l->timer == NULL || l->mbox.ev == NULL ||
	    event_add(l->mbox.ev, NULL) == -1) {
		log_warnx("%s: cannot set up events", __func__);
		return -1;
	}
	if ((l->multi = curl_multi_init()) == NULL) {
		log_warnx("%s: curl_multi_init failed", __func__);
		return -1;
	}
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, io_sock_cb);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, io_timer_cb);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)cfg->max_host_connections);
	return 0;
}

static void
io_loop_free(struct io_loop *l)
{
	if (l->multi != NULL)
		curl_multi_cleanup(l->multi);
	if (l->timer != NULL)
		event_free(l->timer);
	io_mbox_free(&l->mbox);
	if (l->base != NULL)
		event_base_free(l->base);
	free(l->easies);
}

/* The main thread's side. */

/* Pick the loop with the fewest transfers. */
static struct io_loop *
io_pick_loop(void)
{
	struct io_loop	*best = &io_loops[0];
	int		 i;

	for (i = 1; i < io_nloops; i++) {
		if (io_loops[i].nflight < best->nflight)
			best = &io_loops[i];
	}
	return best;
}

/* A completion reaches the main thread: finish the job unless it's gone. */
static void
io_main_done(struct io_xfer *x)
{
	struct job	*job;

	TAILQ_REMOVE(&io_inflight, x, mentry);
	io_nflight--;
	x->loop->nflight--;
	io_completed++;
	if ((job = x->job) != NULL) {
		x->job = NULL;
		job->engine = NULL;
		if (x->ops == NULL)
			job_finish(job, JOB_DONE, json_pack("{s:I}",
			    "slept_ms", (json_int_t)(x->slept_us / 1000)),
			    NULL, NULL);
		else
			x->ops->finish(x, job);
	}
	io_xfer_unref(x);
}

static void
io_main_mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io_msgs	 msgs = TAILQ_HEAD_INITIALIZER(msgs);
	struct io_msg	*m;

	io_mbox_take(&io_main, &msgs);
	if (TAILQ_EMPTY(&msgs))
		return;
	while ((m = TAILQ_FIRST(&msgs)) != NULL) {
		TAILQ_REMOVE(&msgs, m, entry);
		if (m->type != IO_MSG_DONE)
			fatalx("%s: unexpected message %d", __func__, m->type);
		io_main_done(m->x);
		free(m);
	}
	if (io_running)
		sched_kick(CLASS_IO);
}

static int
io_has_capacity(void)
{
	return io_running && io_nflight < cfg->max_transfers;
}

static void
io_start(struct job *job)
{
	struct io_xfer	*x;
	int64_t		 ms;

	x = xcalloc(1, sizeof *x);
	x->id = ++io_next_id;
	atomic_init(&x->refs, 1);
	atomic_init(&x->cancelled, 0);
	x->loop = io_pick_loop();
	x->job = job;
	x->lstate = IO_L_IDLE;
	job->engine = x;
	TAILQ_INSERT_TAIL(&io_inflight, x, mentry);
	io_nflight++;
	x->loop->nflight++;

	if (job->type->op == IO_OP_SLEEP) {
		ms = json_integer_value(json_object_get(job->args, "ms"));
		x->sleep_us = (uint64_t)(ms < 0 ? 0 : ms) * 1000;
		io_xfer_submit(x);
		return;
	}
	http_start(x, job);
}

/*
 * Abort a running job: finish it now and send the cancel to its loop,
 * which drops the transfer; the slot frees when its DONE comes back.
 */
static void
io_cancel(struct job *job, enum job_state why)
{
	struct io_xfer	*x = job->engine;

	if (x == NULL || x->job != job)
		fatalx("%s: job %s is not on the I/O engine", __func__,
		    job->id);
	x->job = NULL;
	job->engine = NULL;
	atomic_store(&x->cancelled, 1);
	atomic_fetch_add(&x->refs, 1);
	io_mbox_post(&x->loop->mbox, IO_MSG_CANCEL, x);
	if (why == JOB_TIMEOUT)
		job_finish(job, why, NULL, "timeout",
		    "timed out after %lld ms", (long long)job->timeout_ms);
	else
		job_finish(job, why, NULL, "cancelled", "cancelled");
}

static json_t *
io_status(void)
{
	json_t	*loops;
	int	 i;

	loops = json_array();
	for (i = 0; i < io_nloops; i++)
		json_array_append_new(loops,
		    json_integer(io_loops[i].nflight));
	return json_pack("{s:i, s:i, s:i, s:o, s:I, s:i}",
	    "threads", io_nloops,
	    "blocking_threads", io_pool.nthreads,
	    "in_flight", io_nflight,
	    "thread_in_flight", loops,
	    "completed", (json_int_t)io_completed,
	    "max_transfers", cfg->max_transfers);
}

const struct engine io_engine = {
	.name = "io",
	.has_capacity = io_has_capacity,
	.start = io_start,
	.cancel = io_cancel,
	.status = io_status,
};

static int
io_sleep_check(struct job *job, json_t *args, struct rpcerr *err)
{
	static const char *const known[] = { "ms", NULL };
	int64_t	 ms;

	if (arg_only(args, known, err) == -1 ||
	    arg_int(args, "ms", ARG_REQUIRED, 0, IO_SLEEP_MAX_MS, &ms,
	    err) == -1)
		return -1;
	return 0;
}

static const struct jobtype io_sleep_type = {
	.name = "sleep",
	.class = CLASS_IO,
	.classes = 1 << CLASS_IO,
	.idempotent = 1,
	.check = io_sleep_check,
	.args_doc = "{\"ms\": \"milliseconds to wait on an I/O loop timer, "
	    "0 to 86400000 (required)\"}",
	.op = IO_OP_SLEEP,
};

/* Start a thread with every signal blocked: the main thread takes them. */
static int
io_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t	 all, old;
	int		 rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("%s: pthread_create", __func__);
		return -1;
	}
	return 0;
}

int
io_init(struct event_base *base)
{
	static int	 curl_ready;
	int		 i, nblocking;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_warnx("%s: curl_global_init failed", __func__);
			return -1;
		}
		curl_ready = 1;
	}
	signal(SIGPIPE, SIG_IGN);

	if (io_mbox_init(&io_main) == -1)
		return -1;
	io_main.ev = event_new(base, io_main.efd, EV_READ | EV_PERSIST,
	    io_main_mbox_cb, NULL);
	if (io_main.ev == NULL || event_add(io_main.ev, NULL) == -1) {
		log_warnx("%s: cannot watch the completion queue", __func__);
		return -1;
	}

	io_nloops = cfg->io_threads > 0 ? cfg->io_threads : 1;
	io_loops = xcalloc(io_nloops, sizeof *io_loops);
	for (i = 0; i < io_nloops; i++) {
		io_loops[i].mbox.efd = -1;
		if (io_loop_init(&io_loops[i], i) == -1)
			return -1;
	}
	for (i = 0; i < io_nloops; i++) {
		if (io_thread_create(&io_loops[i].thread, io_loop_main,
		    &io_loops[i]) == -1)
			return -1;
		io_loops[i].started = 1;
	}

	nblocking = cfg->blocking_threads > 0 ? cfg->blocking_threads : 1;
	TAILQ_INIT(&io_pool.ready);
	io_pool.quit = 0;
	io_pool.threads = xcalloc(nblocking, sizeof *io_pool.threads);
	for (i = 0; i < nblocking; i++) {
		if (io_thread_create(&io_pool.threads[i], io_pool_main,
		    NULL) == -1)
			return -1;
		io_pool.nthreads++;
	}

	io_running = 1;
	sched_register(&io_sleep_type);
	http_init();
	sched_set_engine(CLASS_IO, &io_engine);
	log_info("I/O engine: %d loop threads, %d blocking threads, "
	    "up to %d transfers", io_nloops, io_pool.nthreads,
	    cfg->max_transfers);
	return 0;
}

/*
 * Cancel what still runs, wait (bounded) for every transfer's DONE so
 * no thread holds a transfer, then stop the loops and the pool.
 */
void
io_shutdown(void)
{
	struct io_xfer	*x;
	struct pollfd	 pfd;
	uint64_t	 deadline;
	int		 i;

	if (io_loops == NULL)
		return;
	io_running = 0;
	TAILQ_FOREACH(x, &io_inflight, mentry) {
		if (x->job != NULL)
			io_cancel(x->job, JOB_CANCELLED);
	}
	deadline = io_now_us() + IO_SHUTDOWN_WAIT_MS * 1000;
	while (io_nflight > 0 && io_now_us() < deadline) {
		pfd.fd = io_main.efd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			break;
		io_main_mbox_cb(io_main.efd, EV_READ, NULL);
	}
	if (io_nflight > 0)
		log_warnx("%s: %d transfers did not wind down", __func__,
		    io_nflight);

	for (i = 0; i < io_nloops; i++) {
		if (io_loops[i].started) {
			io_mbox_post(&io_loops[i].mbox, IO_MSG_QUIT, NULL);
			pthread_join(io_loops[i].thread, NULL);
		}
	}
	pthread_mutex_lock(&io_pool.lock);
	io_pool.quit = 1;
	pthread_cond_broadcast(&io_pool.cond);
	pthread_mutex_unlock(&io_pool.lock);
	for (i = 0; i < io_pool.nthreads; i++)
		pthread_join(io_pool.threads[i], NULL);
	free(io_pool.threads);
	io_pool.threads = NULL;
	io_pool.nthreads = 0;

	if (io_nflight == 0) {
		for (i = 0; i < io_nloops; i++)
			io_loop_free(&io_loops[i]);
		io_mbox_free(&io_main);
		free(io_loops);
	}
	/* Else something still points at the loops: leave them. */
	io_loops = NULL;
	io_nloops = 0;
	curl_global_cleanup();
}
