/*
 * The scheduler: the registry of job types, classification (the type's
 * class or the client's override) and one priority queue per class, fed
 * to the engines as they have room.
 *
 * A queue is a list of priority buckets, highest first. Inside a bucket
 * each uid has its own FIFO and the uids take turns, so one user's 100 000
 * queued jobs do not starve another user's one. A submit costs a walk over
 * the distinct priorities and users in play, which are few.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jobd.h"

#define SCHED_MAX_TYPES		32
#define SCHED_PRIORITY_MAX	1000000
#define SCHED_TAG_MAX		256

struct sched_user {
	uid_t		 uid;
	struct jobs	 jobs;
	TAILQ_ENTRY(sched_user) entry;
};
TAILQ_HEAD(sched_users, sched_user);

struct sched_bucket {
	int		 priority;
	struct sched_users users;	/* next to serve first */
	TAILQ_ENTRY(sched_bucket) entry;
};
TAILQ_HEAD(sched_buckets, sched_bucket);

struct sched_queue {
	struct sched_buckets buckets;
	size_t		 len;
	int		 kicking;	/* inside sched_kick: no recursion */
	int		 again;
};

static const struct jobtype *sched_types[SCHED_MAX_TYPES];
static size_t	 sched_ntypes;
static const struct engine *sched_engines[JOB_NCLASSES];
static struct sched_queue sched_queues[JOB_NCLASSES];
int		 sched_draining;

void
sched_init(void)
{
	int	 i;

	for (i = 0; i < JOB_NCLASSES; i++) {
		TAILQ_INIT(&sched_queues[i].buckets);
		sched_queues[i].len = 0;
	}
	sched_ntypes = 0;
	sched_draining = 0;
	memset(sched_engines, 0, sizeof sched_engines);
}

/* Drop queued jobs' queue entries; the jobs themselves belong to job.c. */
void
sched_shutdown(void)
{
	struct sched_bucket	*b;
	struct sched_user	*u;
	struct job		*job;
	int			 i;

	for (i = 0; i < JOB_NCLASSES; i++) {
		while ((b = TAILQ_FIRST(&sched_queues[i].buckets)) != NULL) {
			while ((u = TAILQ_FIRST(&b->users)) != NULL) {
				while ((job = TAILQ_FIRST(&u->jobs)) != NULL)
					TAILQ_REMOVE(&u->jobs, job, qentry);
				TAILQ_REMOVE(&b->users, u, entry);
				free(u);
			}
			TAILQ_REMOVE(&sched_queues[i].buckets, b, entry);
			free(b);
		}
		sched_queues[i].len = 0;
	}
}

void
sched_register(const struct jobtype *type)
{
	if (sched_type(type->name) != NULL)
		fatalx("%s: type %s registered twice", __func__, type->name);
	if (sched_ntypes == SCHED_MAX_TYPES)
		fatalx("%s: too many job types", __func__);
	sched_types[sched_ntypes++] = type;
}

void
sched_set_engine(enum job_class class, const struct engine *engine)
{
	sched_engines[class] = engine;
}

const struct jobtype *
sched_type(const char *name)
{
	size_t	 i;

	for (i = 0; i < sched_ntypes; i++) {
		if (strcmp(sched_types[i]->name, name) == 0)
			return sched_types[i];
	}
	return NULL;
}

json_t *
sched_types_json(void)
{
	const struct jobtype	*t;
	json_t			*types, *o, *args, *classes;
	json_error_t		 jerr;
	size_t			 i;
	int			 c;

	types = json_array();
	for (i = 0; i < sched_ntypes; i++) {
		t = sched_types[i];
		args = json_loads(t->args_doc != NULL ? t->args_doc : "{}", 0,
		    &jerr);
		if (args == NULL)
			fatalx("%s: bad args_doc for %s: %s", __func__, t->name,
			    jerr.text);
		classes = json_array();
		for (c = 0; c < JOB_NCLASSES; c++) {
			if (t->classes & (1 << c))
				json_array_append_new(classes,
				    json_string(job_class_name(c)));
		}
		o = json_pack("{s:s, s:s, s:o, s:b, s:o}", "name", t->name,
		    "class", job_class_name(t->class), "classes", classes,
		    "idempotent", t->idempotent, "args", args);
		json_array_append_new(types, o);
	}
	return json_pack("{s:o}", "types", types);
}

/* Put a job in its class queue, after its user's jobs of that priority. */
static void
sched_enqueue(struct job *job)
{
	struct sched_queue	*q = &sched_queues[job->class];
	struct sched_bucket	*b, *nb;
	struct sched_user	*u;

	TAILQ_FOREACH(b, &q->buckets, entry) {
		if (b->priority <= job->priority)
			break;
	}
	if (b == NULL || b->priority != job->priority) {
		nb = xcalloc(1, sizeof *nb);
		nb->priority = job->priority;
		TAILQ_INIT(&nb->users);
		if (b == NULL)
			TAILQ_INSERT_TAIL(&q->buckets, nb, entry);
		else
			TAILQ_INSERT_BEFORE(b, nb, entry);
		b = nb;
	}
	TAILQ_FOREACH(u, &b->users, entry) {
		if (u->uid == job->uid)
			break;
	}
	if (u == NULL) {
		u = xcalloc(1, sizeof *u);
		u->uid = job->uid;
		TAILQ_INIT(&u->jobs);
		TAILQ_INSERT_TAIL(&b->users, u, entry);
	}
	TAILQ_INSERT_TAIL(&u->jobs, job, qentry);
	q->len++;
}

/* Take a job out of its queue, dropping emptied user and bucket lists. */
static void
sched_dequeue(struct job *job)
{
	struct sched_queue	*q = &sched_queues[job->class];
	struct sched_bucket	*b;
	struct sched_user	*u = NULL;

	TAILQ_FOREACH(b, &q->buckets, entry) {
		if (b->priority == job->priority)
			break;
	}
	if (b != NULL) {
		TAILQ_FOREACH(u, &b->users, entry) {
			if (u->uid == job->uid)
				break;
		}
	}
	if (u == NULL)
		fatalx("%s: job %s not queued", __func__, job->id);
	TAILQ_REMOVE(&u->jobs, job, qentry);
	if (TAILQ_EMPTY(&u->jobs)) {
		TAILQ_REMOVE(&b->users, u, entry);
		free(u);
	}
	if (TAILQ_EMPTY(&b->users)) {
		TAILQ_REMOVE(&q->buckets, b, entry);
		free(b);
	}
	q->len--;
}

/* The next job to run: best priority, the user whose turn it is. */
static struct job *
sched_pop(struct sched_queue *q)
{
	struct sched_bucket	*b;
	struct sched_user	*u;
	struct job		*job;

	if ((b = TAILQ_FIRST(&q->buckets)) == NULL)
		return NULL;
	u = TAILQ_FIRST(&b->users);
	job = TAILQ_FIRST(&u->jobs);
	/* This user goes to the back of the line (if it stays in it). */
	if (TAILQ_NEXT(job, qentry) != NULL && TAILQ_NEXT(u, entry) != NULL) {
		TAILQ_REMOVE(&b->users, u, entry);
		TAILQ_INSERT_TAIL(&b->users, u, entry);
	}
	sched_dequeue(job);
	return job;
}

size_t
sched_queued(enum job_class class)
{
	return sched_queues[class].len;
}

/* Is key in the NULL-terminated list? */
static int
sched_known(const char *key, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++) {
		if (strcmp(key, *list) == 0)
			return 1;
	}
	return 0;
}

int
sched_spec(json_t *params, const char *const *extra, struct job_spec *spec,
    struct rpcerr *err)
{
	static const char *const known[] = { "type", "args", "class",
	    "timeout_ms", "priority", "tag", NULL };
	const char	*s, *key;
	json_t		*v;
	int64_t		 def_timeout;

	memset(spec, 0, sizeof *spec);
	json_object_foreach(params, key, v) {
		if (!sched_known(key, known) && !sched_known(key, extra)) {
			rpcerr_set(err, RPC_INVALID_PARAMS, key,
			    "unknown parameter");
			return -1;
		}
	}
	if (arg_str(params, "type", NULL, &s, err) == -1)
		return -1;
	if ((spec->type = sched_type(s)) == NULL) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "type",
		    "unknown job type \"%s\"", s);
		return -1;
	}
	spec->class = spec->type->class;
	if ((v = json_object_get(params, "class")) != NULL) {
		if (!json_is_string(v) ||
		    (spec->class = job_class_parse(json_string_value(v))) == -1) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "class",
			    "must be \"io\" or \"cpu\"");
			return -1;
		}
		if (!(spec->type->classes & (1 << spec->class))) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "class",
			    "type %s cannot run on the %s engine",
			    spec->type->name, job_class_name(spec->class));
			return -1;
		}
	}
	if (sched_engines[spec->class] == NULL) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "class",
		    "the %s engine is not running", job_class_name(spec->class));
		return -1;
	}
	v = json_object_get(params, "args");
	if (v != NULL && !json_is_object(v)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "args",
		    "must be an object");
		return -1;
	}
	def_timeout = spec->class == CLASS_CPU ? cfg->cpu_timeout_ms :
	    cfg->io_timeout_ms;
	if (arg_int(params, "timeout_ms", def_timeout, 0,
	    INT64_C(86400000) * 7, &spec->timeout_ms, err) == -1 ||
	    arg_int(params, "priority", 0, -SCHED_PRIORITY_MAX,
	    SCHED_PRIORITY_MAX, &spec->priority, err) == -1)
		return -1;
	if (json_object_get(params, "tag") != NULL) {
		if (arg_str(params, "tag", NULL, &spec->tag, err) == -1)
			return -1;
		if (strlen(spec->tag) > SCHED_TAG_MAX) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "tag",
			    "longer than %d bytes", SCHED_TAG_MAX);
			return -1;
		}
	}
	return 0;
}

struct job *
sched_create(const struct job_spec *spec, json_t *args, uid_t uid,
    struct rpcerr *err)
{
	struct job	*job;
	size_t		 queued;

	if (sched_draining) {
		rpcerr_set(err, RPC_SHUTTING_DOWN, NULL,
		    "shutting down: no new work accepted");
		json_decref(args);
		return NULL;
	}
	queued = sched_queues[CLASS_IO].len + sched_queues[CLASS_CPU].len;
	if (queued >= (size_t)cfg->max_queued) {
		rpcerr_set(err, RPC_OVERLOADED, NULL,
		    "queue full (%zu jobs queued)", queued);
		err->retry_after_ms = 1000;
		json_decref(args);
		return NULL;
	}
	job = job_new(spec->type, spec->class, args, (int)spec->priority,
	    spec->tag, spec->timeout_ms, uid);
	if (spec->type->check != NULL &&
	    spec->type->check(job, job->args, err) == -1) {
		job_free(job);		/* never seen by anyone */
		return NULL;
	}
	sched_enqueue(job);
	sched_kick(job->class);
	return job;
}

/* Would these args be accepted? A dry run of the type's check. */
int
sched_check(const struct job_spec *spec, json_t *args, uid_t uid,
    struct rpcerr *err)
{
	struct job	*job;
	int		 rv = 0;

	if (spec->type->check == NULL)
		return 0;
	job = job_new(spec->type, spec->class, json_deep_copy(args),
	    (int)spec->priority, spec->tag, spec->timeout_ms, uid);
	if (spec->type->check(job, job->args, err) == -1)
		rv = -1;
	job_free(job);
	return rv;
}

struct job *
sched_submit(json_t *params, uid_t uid, struct rpcerr *err)
{
	static const char *const extra[] = { "wait", NULL };
	struct job_spec	 spec;
	json_t		*args;

	if (sched_draining) {
		rpcerr_set(err, RPC_SHUTTING_DOWN, NULL,
		    "shutting down: no new work accepted");
		return NULL;
	}
	if (sched_spec(params, extra, &spec, err) == -1)
		return NULL;
	args = json_object_get(params, "args");
	args = args != NULL ? json_deep_copy(args) : json_object();
	return sched_create(&spec, args, uid, err);
}

/*
 * Start queued jobs while the class's engine has room. Engines call this
 * when a slot frees; an engine may finish a job inside start(), which
 * kicks again: that is folded into the running loop.
 */
void
sched_kick(enum job_class class)
{
	struct sched_queue	*q = &sched_queues[class];
	const struct engine	*e = sched_engines[class];
	struct job		*job;

	if (e == NULL)
		return;
	if (q->kicking) {
		q->again = 1;
		return;
	}
	q->kicking = 1;
	do {
		q->again = 0;
		while (!TAILQ_EMPTY(&q->buckets) && e->has_capacity()) {
			job = sched_pop(q);
			job_set_state(job, JOB_RUNNING);
			e->start(job);
		}
	} while (q->again);
	q->kicking = 0;
}

void
sched_cancel(struct job *job, enum job_state why)
{
	const char	*code = why == JOB_TIMEOUT ? "timeout" : "cancelled";

	switch (job->state) {
	case JOB_QUEUED:
		sched_dequeue(job);
		job_finish(job, why, NULL, code, "%s before it started",
		    why == JOB_TIMEOUT ? "timed out" : "cancelled");
		break;
	case JOB_RUNNING:
		sched_engines[job->class]->cancel(job, why);
		break;
	default:
		break;
	}
}

json_t *
sched_status(void)
{
	json_t	*q;
	int	 i;

	q = json_object();
	for (i = 0; i < JOB_NCLASSES; i++)
		json_object_set_new(q, job_class_name(i),
		    json_integer((json_int_t)sched_queues[i].len));
	return q;
}

json_t *
sched_pools_json(void)
{
	json_t	*p;
	int	 i;

	p = json_object();
	for (i = 0; i < JOB_NCLASSES; i++) {
		if (sched_engines[i] != NULL && sched_engines[i]->status != NULL)
			json_object_set_new(p, job_class_name(i),
			    sched_engines[i]->status());
	}
	return p;
}
