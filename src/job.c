/*
 * The job table: records, their states, waiters and expiry. Ids are opaque
 * strings; state changes happen in job_set_state() alone, so a future store
 * (a journal) has one place to observe.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

LIST_HEAD(job_bucket, job);

static struct event_base *job_base;
static struct job_bucket *job_hash;
static size_t	 job_hash_size;		/* power of two */
static size_t	 job_nentries;
static struct jobs job_all = TAILQ_HEAD_INITIALIZER(job_all);
static struct jobs job_done = TAILQ_HEAD_INITIALIZER(job_done);
static uint64_t	 job_seq;
static uint32_t	 job_boot;		/* per-start id prefix */
static uint64_t	 job_counts[JOB_NSTATES];
static uint64_t	 job_totals[JOB_NSTATES];
static struct event *job_expire_ev;

static const char *job_state_names[JOB_NSTATES] = {
	"queued", "running", "done", "failed", "timeout", "cancelled"
};
static const char *job_class_names[JOB_NCLASSES] = { "io", "cpu" };

static void	 job_timeout_cb(evutil_socket_t, short, void *);
static void	 job_expire_cb(evutil_socket_t, short, void *);

/* FNV-1a over the id. */
static size_t
job_hashfn(const char *id)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* Double the hash table when it fills up. */
static void
job_rehash(void)
{
	struct job_bucket	*old = job_hash;
	size_t			 oldsize = job_hash_size, i;
	struct job		*job;

	job_hash_size = oldsize == 0 ? 1024 : oldsize * 2;
	job_hash = xcalloc(job_hash_size, sizeof *job_hash);
	for (i = 0; i < oldsize; i++) {
		while ((job = LIST_FIRST(&old[i])) != NULL) {
			LIST_REMOVE(job, hentry);
			LIST_INSERT_HEAD(&job_hash[job_hashfn(job->id) &
			    (job_hash_size - 1)], job, hentry);
		}
	}
	free(old);
}

void
job_init(struct event_base *base)
{
	struct timeval	 tv = { 1, 0 };
	uint64_t	 r;

	job_base = base;
	r = now_wall_us() ^ ((uint64_t)getpid() << 32) ^ now_mono_us();
	job_boot = (uint32_t)(r ^ (r >> 32));
	job_rehash();
	job_expire_ev = event_new(base, -1, EV_PERSIST, job_expire_cb, NULL);
	event_add(job_expire_ev, &tv);
}

/* Free every job; for shutdown and tests. */
void
job_shutdown(void)
{
	struct job	*job;

	while ((job = TAILQ_FIRST(&job_all)) != NULL)
		job_free(job);
	if (job_expire_ev != NULL)
		event_free(job_expire_ev);
	job_expire_ev = NULL;
	free(job_hash);
	job_hash = NULL;
	job_hash_size = 0;
	memset(job_counts, 0, sizeof job_counts);
}

struct job *
job_new(const struct jobtype *type, enum job_class class, json_t *args,
    int priority, const char *tag, int64_t timeout_ms, uid_t uid)
{
	struct job	*job;

	job = xcalloc(1, sizeof *job);
	job->seq = ++job_seq;
	snprintf(job->id, sizeof job->id, "%08x-%llu", job_boot,
	    (unsigned long long)job->seq);
	job->type = type;
	job->class = class;
	job->state = JOB_QUEUED;
	job->priority = priority;
	job->tag = tag != NULL ? xstrdup(tag) : NULL;
	job->uid = uid;
	job->timeout_ms = timeout_ms;
	job->args = args;
	job->submitted_wall = now_wall_us();
	job->submitted_mono = now_mono_us();
	TAILQ_INIT(&job->waiters);

	if (job_nentries >= job_hash_size)
		job_rehash();
	LIST_INSERT_HEAD(&job_hash[job_hashfn(job->id) & (job_hash_size - 1)],
	    job, hentry);
	job_nentries++;
	TAILQ_INSERT_TAIL(&job_all, job, aentry);
	job_counts[JOB_QUEUED]++;
	return job;
}

void
job_free(struct job *job)
{
	struct job_waiter	*w;

	if (job->state == JOB_RUNNING)
		fatalx("%s: job %s is running", __func__, job->id);
	while ((w = TAILQ_FIRST(&job->waiters)) != NULL)
		job_unwait(w);
	LIST_REMOVE(job, hentry);
	job_nentries--;
	TAILQ_REMOVE(&job_all, job, aentry);
	if (JOB_FINISHED(job->state))
		TAILQ_REMOVE(&job_done, job, fentry);
	job_counts[job->state]--;
	if (job->timer != NULL)
		event_free(job->timer);
	if (job->data_free != NULL)
		job->data_free(job->data);
	json_decref(job->args);
	json_decref(job->result);
	free(job->tag);
	free(job->err_code);
	free(job->err_msg);
	free(job);
}

struct job *
job_find(const char *id)
{
	struct job	*job;

	if (job_hash == NULL)
		return NULL;
	LIST_FOREACH(job, &job_hash[job_hashfn(id) & (job_hash_size - 1)],
	    hentry) {
		if (strcmp(job->id, id) == 0)
			return job;
	}
	return NULL;
}

/* Change a job's state: stamps, counters, the run timer and waiters. */
void
job_set_state(struct job *job, enum job_state state)
{
	struct job_waiter	*w;
	struct timeval		 tv;
	enum job_state		 old = job->state;

	if (JOB_FINISHED(old))
		fatalx("%s: job %s already %s", __func__, job->id,
		    job_state_names[old]);
	job_counts[old]--;
	job_counts[state]++;
	job->state = state;

	if (state == JOB_RUNNING) {
		job->started_mono = now_mono_us();
		job->attempts++;
		if (job->timeout_ms > 0) {
			if (job->timer == NULL)
				job->timer = evtimer_new(job_base,
				    job_timeout_cb, job);
			tv.tv_sec = job->timeout_ms / 1000;
			tv.tv_usec = (job->timeout_ms % 1000) * 1000;
			evtimer_add(job->timer, &tv);
		}
		log_debug("job %s (%s) running", job->id, job->type->name);
		return;
	}
	if (!JOB_FINISHED(state))
		return;

	job->finished_mono = now_mono_us();
	if (job->timer != NULL)
		evtimer_del(job->timer);
	job_totals[state]++;
	metrics_job_finished(job);
	TAILQ_INSERT_TAIL(&job_done, job, fentry);
	log_debug("job %s (%s) %s", job->id, job->type->name,
	    job_state_names[state]);

	/* A callback may free other waiters' owners, so pop one at a time. */
	while ((w = TAILQ_FIRST(&job->waiters)) != NULL) {
		TAILQ_REMOVE(&job->waiters, w, entry);
		w->job = NULL;
		w->cb(job, w->arg);
	}
}

void
job_finish(struct job *job, enum job_state state, json_t *result,
    const char *code, const char *fmt, ...)
{
	va_list	 ap;

	if (!JOB_FINISHED(state))
		fatalx("%s: %s is not an end state", __func__,
		    job_state_names[state]);
	json_decref(job->result);
	job->result = result;
	free(job->err_code);
	free(job->err_msg);
	job->err_code = NULL;
	job->err_msg = NULL;
	if (state != JOB_DONE) {
		job->err_code = xstrdup(code != NULL ? code :
		    job_state_names[state]);
		if (fmt != NULL) {
			va_start(ap, fmt);
			xvasprintf(&job->err_msg, fmt, ap);
			va_end(ap);
		}
	}
	job->engine = NULL;
	job_set_state(job, state);
}

/* The run timer fired: the job took longer than its timeout_ms. */
static void
job_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct job	*job = arg;

	if (job->state == JOB_RUNNING)
		sched_cancel(job, JOB_TIMEOUT);
}

static json_t *
job_ms(uint64_t from, uint64_t to)
{
	return json_real((double)(to - from) / 1000.0);
}

json_t *
job_record(const struct job *job, int with_result)
{
	json_t		*r;
	char		 ts[64];
	uint64_t	 now = now_mono_us();

	r = json_object();
	json_object_set_new(r, "id", json_string(job->id));
	json_object_set_new(r, "type", json_string(job->type->name));
	json_object_set_new(r, "class", json_string(job_class_names[job->class]));
	json_object_set_new(r, "state", json_string(job_state_names[job->state]));
	if (job->tag != NULL)
		json_object_set_new(r, "tag", json_string(job->tag));
	json_object_set_new(r, "priority", json_integer(job->priority));
	json_object_set_new(r, "attempts", json_integer(job->attempts));
	fmt_rfc3339(ts, sizeof ts, job->submitted_wall);
	json_object_set_new(r, "submitted_at", json_string(ts));
	if (job->started_mono != 0) {
		fmt_rfc3339(ts, sizeof ts, job->submitted_wall +
		    (job->started_mono - job->submitted_mono));
		json_object_set_new(r, "started_at", json_string(ts));
		json_object_set_new(r, "queue_ms",
		    job_ms(job->submitted_mono, job->started_mono));
	} else if (job->state == JOB_QUEUED)
		json_object_set_new(r, "queue_ms",
		    job_ms(job->submitted_mono, now));
	if (job->finished_mono != 0) {
		fmt_rfc3339(ts, sizeof ts, job->submitted_wall +
		    (job->finished_mono - job->submitted_mono));
		json_object_set_new(r, "finished_at", json_string(ts));
		if (job->started_mono != 0)
			json_object_set_new(r, "run_ms",
			    job_ms(job->started_mono, job->finished_mono));
	} else if (job->state == JOB_RUNNING)
		json_object_set_new(r, "run_ms", job_ms(job->started_mono, now));
	if (job->timeout_ms > 0)
		json_object_set_new(r, "timeout_ms", json_integer(job->timeout_ms));
	if (with_result) {
		json_object_set(r, "args", job->args);
		if (job->state == JOB_DONE && job->result != NULL)
			json_object_set(r, "result", job->result);
	}
	if (job->err_code != NULL) {
		json_object_set_new(r, "error", json_pack("{s:s, s:s}",
		    "code", job->err_code,
		    "message", job->err_msg != NULL ? job->err_msg :
		    job->err_code));
	}
	return r;
}

void
job_wait(struct job *job, struct job_waiter *w,
    void (*cb)(struct job *, void *), void *arg)
{
	w->cb = cb;
	w->arg = arg;
	w->job = job;
	TAILQ_INSERT_TAIL(&job->waiters, w, entry);
}

void
job_unwait(struct job_waiter *w)
{
	if (w->job == NULL)
		return;
	TAILQ_REMOVE(&w->job->waiters, w, entry);
	w->job = NULL;
}

void
job_hold(struct job *job)
{
	job->refs++;
}

void
job_release(struct job *job)
{
	if (job->refs <= 0)
		fatalx("%s: job %s not held", __func__, job->id);
	job->refs--;
}

const char *
job_state_name(enum job_state state)
{
	return job_state_names[state];
}

int
job_state_parse(const char *s)
{
	int	 i;

	for (i = 0; i < JOB_NSTATES; i++) {
		if (strcmp(s, job_state_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *
job_class_name(enum job_class class)
{
	return job_class_names[class];
}

int
job_class_parse(const char *s)
{
	int	 i;

	for (i = 0; i < JOB_NCLASSES; i++) {
		if (strcmp(s, job_class_names[i]) == 0)
			return i;
	}
	return -1;
}

struct job *
job_first(void)
{
	return TAILQ_FIRST(&job_all);
}

struct job *
job_next(struct job *job)
{
	return TAILQ_NEXT(job, aentry);
}

struct job *
job_last(void)
{
	return TAILQ_LAST(&job_all, jobs);
}

struct job *
job_prev(struct job *job)
{
	return TAILQ_PREV(job, jobs, aentry);
}

uint64_t
job_count(enum job_state state)
{
	return job_counts[state];
}

uint64_t
job_total(enum job_state state)
{
	return job_totals[state];
}

size_t
job_table_size(void)
{
	return job_nentries;
}

/*
 * Forget finished jobs older than result_ttl_s. Jobs somebody still holds
 * (a map collecting results) or waits on stay; the list is in finish order
 * so the scan stops at the first young one.
 */
void
job_expire(void)
{
	struct job	*job, *next;
	uint64_t	 now = now_mono_us();
	uint64_t	 ttl = (uint64_t)cfg->result_ttl_s * 1000000;

	TAILQ_FOREACH_SAFE(job, &job_done, fentry, next) {
		if (now - job->finished_mono < ttl)
			break;
		if (job->refs > 0 || !TAILQ_EMPTY(&job->waiters))
			continue;
		job_free(job);
	}
}

static void
job_expire_cb(evutil_socket_t fd, short events, void *arg)
{
	job_expire();
}
