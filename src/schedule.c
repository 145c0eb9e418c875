/*
 * Schedules: a job run every every_ms (plus jitter), never overlapping
 * itself, with its last `keep` results in a fixed ring. For ping jobs a
 * schedule also tracks availability: the up ratio over the ring, the last
 * latency, and a current state that flips only after flip_after
 * consecutive agreeing results (so one lost packet is not an outage).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

#define SCHEDULE_MIN_EVERY_MS	100
#define SCHEDULE_MAX_EVERY_MS	(INT64_C(86400000) * 7)
#define SCHEDULE_MAX_KEEP	10000
#define SCHEDULE_MAX		10000

enum schedule_health { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN };
static const char *schedule_health_names[] = { "unknown", "up", "down" };

struct schedule {
	char		 id[32];
	uid_t		 uid;
	json_t		*params;	/* the job {type,args,...}; owns spec.tag */
	struct job_spec	 spec;
	int64_t		 every_ms;
	int64_t		 jitter_ms;
	int64_t		 keep;
	int64_t		 flip_after;
	struct event	*ev;
	uint64_t	 next_mono;
	uint64_t	 created_wall;

	struct job_waiter w;		/* the run in flight */
	char		 running[32];	/* its job id, or "" */
	uint64_t	 runs;
	uint64_t	 skipped;

	json_t		**ring;		/* keep entries, oldest at head */
	int64_t		 ring_len;
	int64_t		 ring_head;

	int		 is_ping;
	enum schedule_health health;
	enum schedule_health pending;	/* the state results now agree on */
	int64_t		 streak;	/* consecutive results for pending */
	uint64_t	 changed_wall;	/* when health last changed */
	double		 last_latency_ms;
	int		 have_latency;

	TAILQ_ENTRY(schedule) entry;
};
static TAILQ_HEAD(, schedule) schedule_all =
    TAILQ_HEAD_INITIALIZER(schedule_all);
static size_t	 schedule_n;
static uint64_t	 schedule_seq;

static void	 schedule_arm(struct schedule *);

/* Delay to the next run: every_ms plus up to jitter_ms. */
static void
schedule_arm(struct schedule *s)
{
	struct timeval	 tv;
	int64_t		 ms = s->every_ms;

	if (s->jitter_ms > 0)
		ms += (int64_t)(random() % (s->jitter_ms + 1));
	s->next_mono = now_mono_us() + (uint64_t)ms * 1000;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->ev, &tv);
}

/* Add a result to the ring, dropping the oldest when full. */
static void
schedule_push(struct schedule *s, json_t *entry)
{
	int64_t	 slot;

	if (s->ring_len == s->keep) {
		json_decref(s->ring[s->ring_head]);
		s->ring[s->ring_head] = entry;
		s->ring_head = (s->ring_head + 1) % s->keep;
		return;
	}
	slot = (s->ring_head + s->ring_len) % s->keep;
	s->ring[slot] = entry;
	s->ring_len++;
}

/* Feed one ping outcome to the flap filter. */
static void
schedule_health(struct schedule *s, int up)
{
	enum schedule_health h = up ? HEALTH_UP : HEALTH_DOWN;

	if (h == s->health) {
		s->pending = h;
		s->streak = 0;
		return;
	}
	if (h != s->pending) {
		s->pending = h;
		s->streak = 0;
	}
	if (++s->streak >= s->flip_after) {
		if (s->health != HEALTH_UNKNOWN)
			log_info("schedule %s: %s -> %s", s->id,
			    schedule_health_names[s->health],
			    schedule_health_names[h]);
		s->health = h;
		s->changed_wall = now_wall_us();
		s->streak = 0;
	}
}

/* A run finished: keep a compact record of it. */
static void
schedule_done(struct job *job, void *arg)
{
	struct schedule	*s = arg;
	json_t		*e, *up, *lat;
	char		 ts[64];

	s->running[0] = '\0';
	fmt_rfc3339(ts, sizeof ts, now_wall_us());
	e = json_pack("{s:s, s:s, s:s}", "job", job->id, "state",
	    job_state_name(job->state), "finished_at", ts);
	if (job->started_mono != 0)
		json_object_set_new(e, "run_ms", json_real((double)
		    (job->finished_mono - job->started_mono) / 1000.0));
	if (job->state == JOB_DONE && job->result != NULL)
		json_object_set(e, "result", job->result);
	if (job->err_code != NULL)
		json_object_set_new(e, "error", json_pack("{s:s, s:s}", "code",
		    job->err_code, "message", job->err_msg != NULL ?
		    job->err_msg : job->err_code));
	if (s->is_ping) {
		up = json_object_get(job->result, "up");
		schedule_health(s, job->state == JOB_DONE && json_is_true(up));
		lat = json_object_get(job->result, "latency_ms");
		if (json_is_number(lat)) {
			s->last_latency_ms = json_number_value(lat);
			s->have_latency = 1;
		}
	}
	schedule_push(s, e);
}

/* Time for a run, unless the last one is still going. */
static void
schedule_tick(evutil_socket_t fd, short events, void *arg)
{
	struct schedule	*s = arg;
	struct rpcerr	 err;
	struct job	*job;
	json_t		*args;

	schedule_arm(s);
	if (s->running[0] != '\0') {
		s->skipped++;
		log_debug("schedule %s: job %s still running, skipping a run",
		    s->id, s->running);
		return;
	}
	args = json_object_get(s->params, "args");
	args = args != NULL ? json_deep_copy(args) : json_object();
	memset(&err, 0, sizeof err);
	if ((job = sched_create(&s->spec, args, s->uid, &err)) == NULL) {
		/* Overload or drain: counted as a skipped run, not a result. */
		s->skipped++;
		log_debug("schedule %s: run refused: %s", s->id, err.reason);
		return;
	}
	s->runs++;
	snprintf(s->running, sizeof s->running, "%s", job->id);
	if (JOB_FINISHED(job->state))
		schedule_done(job, s);
	else
		job_wait(job, &s->w, schedule_done, s);
}

static void
schedule_free(struct schedule *s)
{
	int64_t	 i;

	job_unwait(&s->w);
	TAILQ_REMOVE(&schedule_all, s, entry);
	schedule_n--;
	event_free(s->ev);
	for (i = 0; i < s->ring_len; i++)
		json_decref(s->ring[(s->ring_head + i) % s->keep]);
	free(s->ring);
	json_decref(s->params);
	free(s);
}

static struct schedule *
schedule_find(json_t *params, uid_t uid, int admin, int write,
    struct rpcerr *err)
{
	struct schedule	*s;
	const char	*id;

	if (arg_str(params, "id", NULL, &id, err) == -1)
		return NULL;
	TAILQ_FOREACH(s, &schedule_all, entry) {
		if (strcmp(s->id, id) == 0)
			break;
	}
	if (s == NULL) {
		rpcerr_set(err, RPC_UNKNOWN_JOB, "id", "unknown schedule %s", id);
		return NULL;
	}
	if (write && uid != s->uid && !admin) {
		log_info("uid %ld denied changing schedule %s of uid %ld",
		    (long)uid, s->id, (long)s->uid);
		rpcerr_set(err, RPC_FORBIDDEN, "id",
		    "schedule %s belongs to another user", id);
		return NULL;
	}
	return s;
}

static json_t *
schedule_json(const struct schedule *s, int with_results)
{
	json_t		*o, *res, *av;
	char		 ts[64];
	int64_t		 i, nup = 0;
	uint64_t	 now = now_mono_us();

	fmt_rfc3339(ts, sizeof ts, s->created_wall);
	o = json_pack("{s:s, s:O, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:f}",
	    "id", s->id, "job", s->params,
	    "every_ms", (json_int_t)s->every_ms,
	    "jitter_ms", (json_int_t)s->jitter_ms,
	    "keep", (json_int_t)s->keep,
	    "flip_after", (json_int_t)s->flip_after,
	    "created_at", ts,
	    "runs", (json_int_t)s->runs,
	    "skipped", (json_int_t)s->skipped,
	    "next_run_in_ms", s->next_mono > now ?
	    (double)(s->next_mono - now) / 1000.0 : 0.0);
	json_object_set_new(o, "running", s->running[0] != '\0' ?
	    json_string(s->running) : json_null());
	json_object_set_new(o, "kept", json_integer(s->ring_len));
	if (s->is_ping) {
		for (i = 0; i < s->ring_len; i++) {
			json_t *e = s->ring[(s->ring_head + i) % s->keep];
			json_t *up = json_object_get(json_object_get(e,
			    "result"), "up");
			if (json_is_true(up))
				nup++;
		}
		av = json_pack("{s:s}", "state",
		    schedule_health_names[s->health]);
		json_object_set_new(av, "up_ratio", s->ring_len > 0 ?
		    json_real((double)nup / (double)s->ring_len) : json_null());
		json_object_set_new(av, "last_latency_ms", s->have_latency ?
		    json_real(s->last_latency_ms) : json_null());
		if (s->changed_wall != 0) {
			fmt_rfc3339(ts, sizeof ts, s->changed_wall);
			json_object_set_new(av, "since", json_string(ts));
		} else
			json_object_set_new(av, "since", json_null());
		json_object_set_new(o, "availability", av);
	}
	if (with_results) {
		res = json_array();
		for (i = 0; i < s->ring_len; i++)
			json_array_append(res,
			    s->ring[(s->ring_head + i) % s->keep]);
		json_object_set_new(o, "results", res);
	}
	return o;
}

int
schedule_add(json_t *params, uid_t uid, int admin, json_t **result, struct rpcerr *err)
{
	static const char *const known[] = { "job", "every_ms", "jitter_ms",
	    "keep", "flip_after", NULL };
	struct schedule	*s;
	json_t		*job;
	int64_t		 every, jitter, keep, flip;

	if (arg_only(params, known, err) == -1)
		return -1;
	job = json_object_get(params, "job");
	if (!json_is_object(job)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "job",
		    "must be an object {type, args, ...}");
		return -1;
	}
	if (arg_int(params, "every_ms", ARG_REQUIRED, SCHEDULE_MIN_EVERY_MS,
	    SCHEDULE_MAX_EVERY_MS, &every, err) == -1 ||
	    arg_int(params, "jitter_ms", 0, 0, every, &jitter, err) == -1 ||
	    arg_int(params, "keep", 10, 1, SCHEDULE_MAX_KEEP, &keep, err) == -1 ||
	    arg_int(params, "flip_after", 1, 1, 1000, &flip, err) == -1)
		return -1;
	if (schedule_n >= SCHEDULE_MAX) {
		rpcerr_set(err, RPC_OVERLOADED, NULL, "too many schedules");
		err->retry_after_ms = 60000;
		return -1;
	}
	if (sched_draining) {
		rpcerr_set(err, RPC_SHUTTING_DOWN, NULL,
		    "shutting down: no new work accepted");
		return -1;
	}

	s = xcalloc(1, sizeof *s);
	s->params = json_deep_copy(job);
	if (sched_spec(s->params, NULL, &s->spec, err) == -1) {
		json_decref(s->params);
		free(s);
		return -1;
	}
	if (json_object_get(s->params, "args") == NULL)
		json_object_set_new(s->params, "args", json_object());
	/* Bad args are refused now, not found out at every run. */
	if (sched_check(&s->spec, json_object_get(s->params, "args"), uid,
	    err) == -1) {
		json_decref(s->params);
		free(s);
		return -1;
	}
	s->uid = uid;
	s->every_ms = every;
	s->jitter_ms = jitter;
	s->keep = keep;
	s->flip_after = flip;
	s->ring = xcalloc((size_t)keep, sizeof *s->ring);
	s->is_ping = strcmp(s->spec.type->name, "ping") == 0;
	s->created_wall = now_wall_us();
	snprintf(s->id, sizeof s->id, "sched-%llu",
	    (unsigned long long)++schedule_seq);
	s->ev = evtimer_new(main_base, schedule_tick, s);
	TAILQ_INSERT_TAIL(&schedule_all, s, entry);
	schedule_n++;
	/* The first run now: a check is most useful from the start. */
	event_active(s->ev, EV_TIMEOUT, 0);
	log_info("schedule %s: %s every %lld ms (uid %ld)", s->id,
	    s->spec.type->name, (long long)every, (long)uid);
	*result = json_pack("{s:s}", "id", s->id);
	return 0;
}

int
schedule_get(json_t *params, uid_t uid, int admin, json_t **result, struct rpcerr *err)
{
	struct schedule	*s;

	if ((s = schedule_find(params, uid, admin, 0, err)) == NULL)
		return -1;
	*result = schedule_json(s, 1);
	return 0;
}

int
schedule_list(json_t *params, uid_t uid, int admin, json_t **result, struct rpcerr *err)
{
	struct schedule	*s;
	json_t		*a = json_array();

	TAILQ_FOREACH(s, &schedule_all, entry)
		json_array_append_new(a, schedule_json(s, 0));
	*result = json_pack("{s:o}", "schedules", a);
	return 0;
}

int
schedule_remove(json_t *params, uid_t uid, int admin, json_t **result,
    struct rpcerr *err)
{
	struct schedule	*s;

	if ((s = schedule_find(params, uid, admin, 1, err)) == NULL)
		return -1;
	*result = json_pack("{s:s, s:b}", "id", s->id, "removed", 1);
	log_info("schedule %s removed", s->id);
	schedule_free(s);
	return 0;
}

/* Counts for daemon.status: schedules, and ping ones up and down. */
json_t *
schedule_status(void)
{
	struct schedule	*s;
	json_int_t	 up = 0, down = 0;

	TAILQ_FOREACH(s, &schedule_all, entry) {
		if (s->health == HEALTH_UP)
			up++;
		else if (s->health == HEALTH_DOWN)
			down++;
	}
	return json_pack("{s:I, s:I, s:I}", "count", (json_int_t)schedule_n,
	    "up", up, "down", down);
}

/* Visit every schedule (metrics). */
void
schedule_foreach(void (*cb)(const char *, const char *, int, void *),
    void *arg)
{
	struct schedule	*s;

	TAILQ_FOREACH(s, &schedule_all, entry)
		cb(s->id, s->spec.type->name, s->is_ping ? (int)s->health : -1,
		    arg);
}

void
schedule_shutdown(void)
{
	struct schedule	*s;

	while ((s = TAILQ_FIRST(&schedule_all)) != NULL)
		schedule_free(s);
}
